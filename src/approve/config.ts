// The `approval` section of the runner config.
import { z } from 'zod';
import { duration } from '../config/zod-units.ts';

export const approvalSchema = z
  .object({
    channel: z.enum(['terminal']).default('terminal'),
    ttl: duration('15m').prefault('15m'),
  })
  .strict()
  .prefault({});
