// The `forge` key of a repo in the runner config: where the outcome of its runs is reported. The token
// is never written here: only the path of a file that the runner user alone can read.
import { z } from 'zod';

const DEFAULT_API: Record<'github' | 'gitea', string | undefined> = { github: 'https://api.github.com', gitea: undefined };
const ownerOrName = z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be a forge owner or repository name (letters, digits, ".", "_" or "-")');

export const forgeSchema = z
  .object({
    kind: z.enum(['github', 'gitea']),
    // GitHub: https://api.github.com (or https://HOST/api/v3 for Enterprise). Gitea/Forgejo: https://HOST (the /api/v1 is added).
    apiUrl: z
      .string()
      .regex(/^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/, 'must be the forge API URL, like "https://api.github.com" or "https://gitea.example.net"')
      .transform((u) => u.replace(/\/+$/, ''))
      .optional(),
    owner: ownerOrName,
    name: ownerOrName,
    tokenFile: z.string().min(1, 'must be the path of a file holding the token (never the token itself)'),
    // Post the PR comment too (statuses are always posted).
    comment: z.boolean().default(true),
    // Keep one issue per drift-checked workspace, "Drift in <workspace>" (drift statuses are always posted).
    driftIssue: z.boolean().default(true),
  })
  .strict()
  .superRefine((forge, ctx) => {
    if (!forge.apiUrl && !DEFAULT_API[forge.kind]) ctx.addIssue({ code: 'custom', path: ['apiUrl'], message: 'must be set for gitea: the server URL, like "https://gitea.example.net"' });
  })
  .transform((forge) => ({ ...forge, apiUrl: forge.apiUrl ?? DEFAULT_API[forge.kind]! }));

export type ForgeConfig = z.output<typeof forgeSchema>;

/** What the report domain reads: each repo's forge, and the config file (token paths are relative to it). */
export interface ReportSlice {
  file: string;
  config: { repos: ReadonlyArray<{ name: string; forge?: ForgeConfig | undefined }> };
}
