// Sandbox failures. The sandbox fails closed: when a piece is missing, no engine process starts.
import { AirlockError } from '../errors.ts';

export type SandboxPiece = 'bwrap' | 'slirp4netns' | 'setpriv' | 'user-namespaces' | 'sandbox-user' | 'provider-mirror';

const FIX: Record<SandboxPiece, string> = {
  bwrap: 'Install bubblewrap (apt-get install bubblewrap) so that `bwrap` is on the runner\'s PATH.',
  slirp4netns: 'Install slirp4netns (apt-get install slirp4netns), or set `engine.network: none` for workspaces whose plans need no network.',
  setpriv: 'Install util-linux\'s setpriv (apt-get install util-linux); a root runner needs it to drop engine processes to the sandbox users.',
  'user-namespaces': 'Enable unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0), or run the runner as root with dedicated sandbox users.',
  'sandbox-user': 'Set `engine.sandbox.users` to uids/gids that are not 0 and not the runner\'s own.',
  'provider-mirror': 'Create the provider mirror directory (engine.sandbox.providerMirror) and make it readable by the sandbox users.',
};

/** The sandbox cannot be set up on this host: nothing ran. Not retried: the host needs fixing. */
export class SandboxUnavailableError extends AirlockError {
  readonly piece: SandboxPiece;

  constructor(piece: SandboxPiece, detail: string, cause?: unknown) {
    super('airlock:sandbox-unavailable', `the engine sandbox cannot be set up: ${detail}; no engine process was started`, { cause, hint: FIX[piece] });
    this.piece = piece;
  }
}

/** bwrap or slirp4netns started but the sandbox did not come up (bwrap refused a mount, slirp died). */
export class SandboxStartError extends AirlockError {
  constructor(message: string, cause?: unknown) {
    super('airlock:sandbox-start', `the engine sandbox did not start: ${message}`, {
      cause,
      hint: 'Run `airlock doctor`: it starts a trivial sandbox and prints what bwrap or slirp4netns said.',
    });
  }
}
