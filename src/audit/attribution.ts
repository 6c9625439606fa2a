// Attribution: which agent proposed a change, from a config map of git identities to agent names, and
// whether a would-be approver is one of those agents. Pure.
//
// A git author or committer is what the pusher wrote into the commit, not proof of who pushed: an agent
// can claim a human's name. The map is still what tells an agent's commits apart, and the reverse check
// (an agent identity may never decide) does not depend on git at all.

export interface GitIdentity {
  name: string;
  email: string;
}

export interface CommitIdentity {
  author: GitIdentity;
  committer: GitIdentity;
}

/** `audit.agents`: identity (an email, `Name <email>`, a name, or a channel id like `os:bot`) → agent name. */
export type AgentMap = Readonly<Record<string, string>>;

export interface Attribution {
  agent: string | null;
  matchedBy: 'author' | 'committer' | null;
  author: string;
  committer: string;
}

const normalise = (s: string) => s.trim().toLowerCase();

/** `Name <email>`, the way git prints an identity. */
export function formatIdentity(id: GitIdentity): string {
  return `${id.name} <${id.email}>`;
}

/** Pure: the agent a git identity maps to, matching the email, `Name <email>` or the name (case-insensitive). */
export function agentForGitIdentity(agents: AgentMap, id: GitIdentity): string | null {
  const candidates = new Set([normalise(id.email), normalise(formatIdentity(id)), normalise(id.name)]);
  for (const [identity, agent] of Object.entries(agents)) {
    if (candidates.has(normalise(identity))) return agent;
  }
  return null;
}

/** Pure: who proposed a commit; the author is asked first, then the committer. */
export function attributeCommit(agents: AgentMap, commit: CommitIdentity): Attribution {
  const byAuthor = agentForGitIdentity(agents, commit.author);
  const byCommitter = byAuthor === null ? agentForGitIdentity(agents, commit.committer) : null;
  return {
    agent: byAuthor ?? byCommitter,
    matchedBy: byAuthor !== null ? 'author' : byCommitter !== null ? 'committer' : null,
    author: clip(formatIdentity(commit.author)),
    committer: clip(formatIdentity(commit.committer)),
  };
}

// The pusher chooses these strings, and they ride on every later record of the run: keep them short.
const MAX_IDENTITY = 256;
const clip = (s: string) => (s.length > MAX_IDENTITY ? `${s.slice(0, MAX_IDENTITY - 1)}…` : s);

/**
 * Pure: the agent an approver identity belongs to, or null. An approver id like `os:claude` or `claude`
 * matches a mapped identity, or an agent's own name: an agent can never be an approver under either.
 */
export function agentForApprover(agents: AgentMap, approverId: string): string | null {
  const id = normalise(approverId);
  const bare = id.replace(/^[a-z][a-z0-9-]*:/, '');
  const candidates = new Set([id, bare]);
  for (const [identity, agent] of Object.entries(agents)) {
    if (candidates.has(normalise(identity)) || candidates.has(normalise(agent))) return agent;
  }
  return null;
}
