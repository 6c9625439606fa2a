// The `policy` section of the runner config.
import { z } from 'zod';

export const policySchema = z.object({}).strict().prefault({});
