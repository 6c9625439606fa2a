// A session's driver: one sandbox (one bwrap, one network namespace) for up to three engine commands of
// one job, instead of a new sandbox per command. The driver is a POSIX shell script running as the
// sandbox's pid 1; the runner sends it one line per command on its stdin, and it answers on its stdout.
// This file holds the pure rules: the script, the line format and the reply format. launch.ts starts it,
// engine/engine-session.ts drives it.
//
// What keeps the wall as it was with one sandbox per command:
// - Each command gets its own stdout/stderr pair, passed to bwrap at spawn (fds 3–8, one pair per step),
//   and only its own: a command never holds a later command's pipes, so nothing it leaves can be read as
//   a later command's output.
// - When a command exits, the driver SIGKILLs every other process in the sandbox (`kill -KILL -1` from
//   pid 1 reaches all of its PID namespace but itself) before it answers: no process outlives its step.
// - The engine cannot take the driver over. With a root runner the driver is root (capabilities SETUID,
//   SETGID, SETPCAP, KILL only) and each command drops to the sandbox user through setpriv, a different
//   uid. With a non-root runner both share the runner's uid, so the driver runs from an exec-only copy of
//   the shell: a process started from a file it cannot read is not dumpable, and a non-dumpable process
//   cannot be traced, nor its /proc fds or memory opened, by the same uid without CAP_SYS_PTRACE. The
//   session checks this once the driver runs (engine-session.ts) and falls back to one sandbox per
//   command when the host does not give it.
// - Environment values (secrets among them) travel on the driver's stdin and are exported inside the
//   command's own subshell: never on a command line. A variable name the shell cannot export runs that
//   command in a sandbox of its own instead (engine-session.ts).
import type { FdLayout } from './sandbox.ts';

/** Commands one session can run: each has its own pair of fds, and a shell names fds 0–9 only. */
export const DRIVER_STEPS = 3;

/** bwrap's own fds in a driver sandbox, above the steps' pairs. */
export const DRIVER_FDS: FdLayout = { info: 9, block: 10, firstData: 11 };

/** Where the exec-only copy of the shell is bound inside the sandbox. */
export const DRIVER_SHELL = '/run/airlock/sh';

/** Step k's stdout and stderr fds (k = 1..DRIVER_STEPS). */
export function stepFds(step: number): { out: number; err: number } {
  return { out: 1 + 2 * step, err: 2 + 2 * step };
}

const SHELL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Whether the driver's shell can export `key` (a name such as TF_VAR_my-var cannot be). */
export function isExportableName(key: string): boolean {
  return SHELL_NAME.test(key);
}

/** Pure: one shell word that reads back as exactly `text` (newlines through $NL, so a command stays one line). */
export function shellWord(text: string): string {
  return `'${text.replace(/'/g, `'\\''`).replace(/\n/g, `'"$NL"'`)}'`;
}

/**
 * Pure: the line asking the driver to run step `step` with exactly `env` and `argv`. Throws for a name the
 * shell cannot export or a step the driver has no fds for; callers check both first.
 */
export function driverLine(step: number, env: Record<string, string>, argv: string[]): string {
  if (!Number.isInteger(step) || step < 1 || step > DRIVER_STEPS) throw new Error(`a driver runs steps 1..${DRIVER_STEPS}, not ${step}`);
  const names = Object.keys(env).filter((k) => !isExportableName(k));
  if (names.length > 0) throw new Error(`the driver cannot export ${names.map((n) => JSON.stringify(n)).join(', ')}`);
  const words = [String(step), ...Object.entries(env).map(([k, v]) => shellWord(`${k}=${v}`)), '--', ...argv.map(shellWord)];
  return `${words.join(' ')}\n`;
}

/** What the driver said: it is ready, or step k exited with `status` (128+N: killed by signal N). */
export type DriverReply = { kind: 'ready' } | { kind: 'exited'; step: number; status: number };

/** Pure: one line of the driver's stdout, or null for anything else. */
export function parseDriverReply(line: string): DriverReply | null {
  if (line === 'ready') return { kind: 'ready' };
  const m = /^exited ([1-9]) (\d{1,3})$/.exec(line);
  return m ? { kind: 'exited', step: Number(m[1]), status: Number(m[2]) } : null;
}

/**
 * Pure: the driver script. `drop` is what runs before `/usr/bin/env` for every command (setpriv and its
 * arguments for a root runner, nothing otherwise). The script's own variables are never exported: the
 * shell starts with an empty environment, and each command's variables are exported in its subshell only.
 */
export function driverScript(drop: string[]): string {
  const steps = Array.from({ length: DRIVER_STEPS }, (_, i) => i + 1);
  const allFds = steps.flatMap((k) => [stepFds(k).out, stepFds(k).err]);
  const redirect = steps
    .map((k) => {
      const { out, err } = stepFds(k);
      return `      ${k}) exec </dev/null >&${out} 2>&${err} ${allFds.map((fd) => `${fd}>&-`).join(' ')} ;;`;
    })
    .join('\n');
  const close = steps.map((k) => `${k}) exec ${stepFds(k).out}>&- ${stepFds(k).err}>&- ;;`).join(' ');
  return `NL='
'
pid=
term=
trap 'term=1; [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null' TERM
echo ready
while IFS= read -r line; do
  eval "set -- $line"
  k=$1
  shift
  (
    trap - TERM
    while [ "$#" -gt 0 ] && [ "$1" != -- ]; do export "$1" || exit 126; shift; done
    shift
    case $k in
${redirect}
      *) exit 126 ;;
    esac
    exec ${drop.map(shellWord).join(' ')} /usr/bin/env -u PWD -- "$@"
  ) &
  pid=$!
  while :; do term=; wait "$pid"; st=$?; [ -z "$term" ] && break; done
  pid=
  kill -KILL -1 2>/dev/null
  case $k in ${close} esac
  echo "exited $k $st"
done
kill -KILL -1 2>/dev/null
`;
}
