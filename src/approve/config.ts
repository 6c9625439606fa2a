// The `approval` section of the runner config. Tokens are never written here: only the paths of files
// that the runner user alone can read (checked when the runner starts, and by `airlock doctor`).
import { z } from 'zod';
import { duration } from '../lib/zod-units.ts';
import { passkeyConfigSchema, passkeyModeSchema, requireSchema } from './passkey/config.ts';

// ntfy's own topic rule, less the names it reserves (server/config.go, DefaultDisallowedTopics); a topic
// name is a capability, so it should also be long and random.
const RESERVED_TOPICS = ['docs', 'static', 'file', 'app', 'metrics', 'account', 'settings', 'signup', 'login', 'v1'];
const topic = z
  .string()
  .regex(/^[-_A-Za-z0-9]{1,64}$/, 'must be an ntfy topic name: 1-64 letters, digits, "-" or "_"')
  .refine((t) => !RESERVED_TOPICS.includes(t), 'must not be a name ntfy reserves for itself (docs, static, file, app, metrics, account, settings, signup, login, v1); pick a long random topic name');

const tokenFile = z.string().min(1, 'must be the path of a file holding the token (never the token itself)');

const approverSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be lowercase letters, digits, ".", "_" or "-", starting with a letter or digit'),
    notifyTopic: topic,
    replyTopic: topic,
    replyTokenFile: tokenFile,
    // `required`: every Approve from this approver needs their passkey (approval.passkey); `optional`: a tap will do.
    passkey: passkeyModeSchema.default('optional'),
  })
  .strict();

export const ntfySchema = z
  .object({
    url: z
      .string()
      .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'must be the ntfy server URL, like "https://ntfy.example.net"')
      .transform((u) => u.replace(/\/+$/, '')),
    publishTokenFile: tokenFile,
    subscribeTokenFile: tokenFile,
    approvers: z.array(approverSchema).min(1, 'must list at least one approver'),
    // How long the reply stream may stay silent before it is treated as dead (ntfy sends keepalives every 45 s).
    keepaliveTimeout: duration('2m').prefault('2m'),
    // The runner's own pace: ntfy limits requests per address (a burst of 60, then one every 5 s); false
    // when the server exempts the runner host (visitor-request-limit-exempt-hosts).
    requestBudget: z
      .union([z.literal(false), z.object({ burst: z.number().int().min(1).max(10_000), every: duration('6s') }).strict()])
      .default({ burst: 40, every: 6_000 }),
    // Start even though anyone may read a notify topic or write a reply topic on this server. Unsafe:
    // anyone could then read a nonce and approve. Logged as an error at every start.
    unsafeAllowAnonymousAccess: z.boolean().default(false),
  })
  .strict()
  .superRefine((ntfy, ctx) => {
    const names = new Set<string>();
    const topics = new Map<string, string>();
    ntfy.approvers.forEach((a, i) => {
      if (names.has(a.name)) ctx.addIssue({ code: 'custom', path: ['approvers', i, 'name'], message: 'must be unique' });
      names.add(a.name);
      // ntfy matches ACL patterns ignoring case (SQLite LIKE): a grant on one topic also covers any
      // spelling of it, so two topics that differ only in case cannot be told apart by the ACL.
      for (const key of ['notifyTopic', 'replyTopic'] as const) {
        const seen = topics.get(a[key].toLowerCase());
        if (seen) ctx.addIssue({ code: 'custom', path: ['approvers', i, key], message: `must not be used twice (also ${seen}): every approver needs their own notify and reply topics, and ntfy's ACL ignores letter case` });
        topics.set(a[key].toLowerCase(), `${a.name}'s ${key}`);
      }
    });
  });

export const approvalSchema = z
  .object({
    channel: z.enum(['terminal', 'ntfy']).default('terminal'),
    ttl: duration('15m').prefault('15m'),
    // The second tap a destructive plan needs must come within this long of the first.
    confirmTtl: duration('5m').prefault('5m'),
    // Requests sent out and not yet answered, across the runner; further ones wait until one is answered.
    maxPending: z.number().int().min(1).max(1000).default(20),
    // Show changed attribute values (sensitive ones redacted, secrets scrubbed) in the request text, not
    // only in `airlock show`. Off by default: a notification is kept in the ntfy server's message cache and
    // the phone's notification history, out of the runner's reach and longer than the run, and a value the
    // scrubber does not know (a key nobody marked sensitive) would be kept there too.
    showValues: z.boolean().default(false),
    ntfy: ntfySchema.optional(),
    // Passkey approvals (the static approval page and its origin); see src/approve/passkey/.
    passkey: passkeyConfigSchema.optional(),
    // What each step needs, `tap` or `passkey`: `approve` for any plan's Approve, `confirm` for the second step of a destroying one.
    require: requireSchema,
  })
  .strict()
  .superRefine((approval, ctx) => {
    const wantsPasskey = approval.ntfy?.approvers.some((a) => a.passkey === 'required') || Object.values(approval.require).includes('passkey');
    if (wantsPasskey && (approval.channel !== 'ntfy' || !approval.passkey)) {
      ctx.addIssue({ code: 'custom', path: ['passkey'], message: 'must be set, with `approval.channel: ntfy`, when an approver or a step requires a passkey (the origin that hosts the approval page)' });
    }
    if (approval.channel === 'ntfy' && !approval.ntfy) {
      ctx.addIssue({ code: 'custom', path: ['ntfy'], message: 'must be set when `approval.channel` is "ntfy" (server url, token files and approvers)' });
    }
  })
  .prefault({});

export type ApprovalConfig = z.output<typeof approvalSchema>;
export type NtfyConfig = z.output<typeof ntfySchema>;
export type ApproverConfig = NtfyConfig['approvers'][number];

/** What the approval domain reads: its config section, and the config file (token paths are relative to it). */
export interface ApprovalSlice {
  file: string;
  config: { approval: ApprovalConfig };
}
