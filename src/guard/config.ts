// The `guard` section of the runner config.
import { z } from 'zod';

export const guardSchema = z.object({}).strict().prefault({});
