// Who a command typed at the runner host acts as, in the audit log.
import { userInfo } from 'node:os';

/** The person at the terminal, as recorded in the audit log. */
export function osActor(): { kind: 'human'; id: string } {
  return { kind: 'human', id: `os:${userInfo().username}` };
}
