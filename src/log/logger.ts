// The root logger: JSON lines for machines, pretty in a TTY; every string passes the scrubber first.
import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
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
  const destination = usePretty
    ? pretty({ colorize: true, translateTime: 'HH:MM:ss', ignore: 'pid,hostname', destination: (options.destination as NodeJS.WritableStream | undefined) ?? 1, sync: true })
    : ((options.destination as DestinationStream | undefined) ?? pino.destination({ dest: 1, sync: true }));
  return pino(
    {
      level: options.level ?? process.env['AIRLOCK_LOG_LEVEL'] ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      hooks: {
        logMethod(args, method) {
          const cleaned = args.map((a) => (usePretty && typeof a === 'string' ? showControls(scrubber.scrubString(a)) : scrubber.scrub(a)));
          return method.apply(this, cleaned as Parameters<typeof method>);
        },
      },
      formatters: {
        // Bindings of child loggers (runId, repo, ...) come from the repo side too: scrub them as well.
        bindings: (bindings) => scrubber.scrub(bindings),
      },
      serializers: { err: (err: unknown) => scrubber.scrub(pino.stdSerializers.err(err as Error)) },
    },
    destination,
  );
}

// A pretty terminal must not interpret escape sequences that came from a pull request.
function showControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
