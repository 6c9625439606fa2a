// The root logger: JSON lines for machines, pretty in a TTY; every string passes the scrubber first.
import { createRequire } from 'node:module';
import { pino, type Logger, type DestinationStream } from 'pino';
import type Pretty from 'pino-pretty';
import { colorAllowed } from './color.ts';
import { scrubber as defaultScrubber, type Scrubber } from './scrub.ts';

// Known secret-bearing paths; value scrubbing catches the rest.
const REDACT_PATHS = [
  'token',
  'secret',
  'password',
  '*.token',
  '*.secret',
  '*.secret_id',
  '*.password',
  '*.client_token',
  'headers.authorization',
  '*.headers.authorization',
  'env',
  '*.env',
];

export interface LoggerOptions {
  level?: string;
  /** Defaults to stdout; pretty printing is chosen when it is a TTY. */
  destination?: DestinationStream | NodeJS.WritableStream;
  pretty?: boolean;
  scrubber?: Scrubber;
}

/** Build the one root logger of a process. Per-run loggers are `logger.child({ runId, repo, workspace })`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const scrubber = options.scrubber ?? defaultScrubber;
  const usePretty = options.pretty ?? (options.destination === undefined && process.stdout.isTTY === true);
  // pino-pretty loads only for a terminal: a runner under systemd writes JSON lines and never needs it.
  const pretty = usePretty ? (createRequire(import.meta.url)('pino-pretty') as typeof Pretty) : null;
  const destination = pretty
    ? pretty({ colorize: colorAllowed(), translateTime: 'HH:MM:ss', ignore: 'pid,hostname', destination: (options.destination as NodeJS.WritableStream | undefined) ?? 1, sync: true })
    : ((options.destination as DestinationStream | undefined) ?? pino.destination({ dest: 1, sync: true }));
  return pino(
    {
      level: options.level ?? process.env['AIRLOCK_LOG_LEVEL'] ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: {
        // The whole serialized line is scrubbed, so child bindings, error stacks and nested fields are covered.
        streamWrite: (line) => (usePretty ? showControls(scrubber.scrubString(line)) : scrubber.scrubString(line)),
      },
    },
    destination,
  );
}

// A pretty terminal must not obey escape sequences that came from a pull request. In the JSON line, C0
// controls are `\u00XX` escapes and bidi/C1/zero-width characters are raw; both become visible text.
function showControls(jsonLine: string): string {
  return jsonLine
    .replace(/(?<!\\)\\u00(0[0-8bcef]|1[0-9a-f]|7f)/gi, (_m, hex: string) => `\\\\u{${hex.toLowerCase().replace(/^0/, '')}}`)
    .replace(/[\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]/g, (c) => `\\\\u{${c.codePointAt(0)!.toString(16)}}`);
}
