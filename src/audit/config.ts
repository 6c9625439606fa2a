// The `audit` section of the runner config: who the agents are, and how the chain head is witnessed.
import { z } from 'zod';
import { duration } from '../lib/zod-units.ts';

const agentName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'must be an agent name like "claude" (letters, digits, ".", "_", "@", "-")');

// An email, `Name <email>`, a name, or a channel identity such as `os:bot`: printable text on one line.
const identity = z
  .string()
  .min(1)
  .max(320)
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s) && s.trim() === s, 'must be an identity like "bot@example.com" or "Agent Bot <bot@example.com>"');

const witnessNtfy = z
  .object({
    /** The ntfy server's base URL; the witness publishes JSON to its root. */
    url: z.string().regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'must be an http(s) URL like "https://ntfy.example.org"'),
    topic: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an ntfy topic name (letters, digits, "_" or "-")'),
    /** Name of the environment variable holding the access token (`tk_…`); the token itself never sits in the config. */
    tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').optional(),
  })
  .strict();

export const auditSchema = z
  .object({
    /** Git author/committer identities (and channel identities) of agents → the agent's name. Agents never approve. */
    agents: z.record(identity, agentName).default({}),
    witness: z
      .object({
        /** How often the chain head is logged (and published) even when nothing happens; alerts watch for gaps. */
        interval: duration('5m')
          .prefault('5m')
          .refine((ms) => ms >= 10_000, 'must be at least "10s"'),
        ntfy: witnessNtfy.optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

export type AuditConfig = z.output<typeof auditSchema>;
