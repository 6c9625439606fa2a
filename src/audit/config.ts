// The `audit` section of the runner config.
import { z } from 'zod';

export const auditSchema = z.object({}).strict().prefault({});
