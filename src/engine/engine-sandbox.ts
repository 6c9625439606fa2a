// The engine's side of the sandbox: which directories, binds and files one engine command (or a session's
// driver) gets, from the call (phase, tree, state dir) and the runner's settings (mirror, read-only paths).
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { constants as osConstants } from 'node:os';
import { prepareSandbox, type SandboxLaunch } from '../sandbox/launch.ts';
import { ensureMirrorDir, mirrorCliConfig } from '../sandbox/provider-mirror.ts';
import { engineBinaryBinds, SANDBOX_CLI_CONFIG, type SandboxRequest } from '../sandbox/sandbox.ts';
import type { EngineCall, EngineSpec } from './engine.ts';
import type { RunRequest } from './run-engine.ts';

/** bwrap reports an engine killed by signal N as exit status 128+N: the signal's name, or undefined. */
export function signalFromStatus(status: number | undefined): string | undefined {
  if (status === undefined || status <= 128) return undefined;
  return Object.entries(osConstants.signals).find(([, n]) => n === status - 128)?.[0];
}

/** The sandbox for one engine command: the phase's directories, the mirror, the CLI config. */
export async function prepareEngineSandbox(spec: EngineSpec, req: RunRequest): Promise<SandboxLaunch> {
  return prepareSandbox(spec.sandbox!, await engineSandboxRequest(spec, req.call, [spec.binary, ...req.args]));
}

/** The sandbox for a session's driver (sandbox/driver.ts): what the first call's command would get. */
export async function prepareSessionSandbox(spec: EngineSpec, call: EngineCall, hostShell: string): Promise<SandboxLaunch> {
  return prepareSandbox(spec.sandbox!, await engineSandboxRequest(spec, call, []), { hostShell });
}

async function engineSandboxRequest(spec: EngineSpec, call: EngineCall, command: string[]): Promise<SandboxRequest> {
  const settings = spec.sandbox!;
  const mirror = settings.providerMirror;
  if (mirror) await ensureMirrorDir(mirror);
  const phase = call.phase ?? 'plan';
  // An apply from a saved plan loads providers from `.terraform/providers` in its working directory:
  // there it sees the mirror itself, never anything a plan sandbox installed.
  const applyProviders = phase === 'apply' && mirror ? [{ source: mirror, dest: join(call.cwd, '.terraform', 'providers') }] : [];
  return {
    phase,
    network: call.network ?? settings.network,
    cwd: call.cwd,
    home: call.homeDir,
    writable: call.writable ?? [call.cwd, call.homeDir],
    shared: call.shared ?? [],
    readOnly: [
      // The binary may be a symlink out of /usr (e.g. to /opt/terraform/terraform): bind what it points at.
      ...engineBinaryBinds(await realpath(spec.binary).catch(() => spec.binary)).map((p) => ({ source: p, dest: p })),
      // The fill step writes the mirror; everyone else sees it read-only.
      ...(mirror && phase !== 'mirror' ? [{ source: mirror, dest: mirror }] : []),
      ...applyProviders,
      ...(call.readOnly ?? []),
    ],
    files: { [SANDBOX_CLI_CONFIG]: call.cliConfig ?? (mirror ? mirrorCliConfig(mirror) : '') },
    command,
  };
}
