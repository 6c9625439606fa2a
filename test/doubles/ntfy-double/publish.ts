// Publishing, as server.go does it: a JSON publish to `/` is turned into a body publish with headers
// (transformBodyJSON, in publish-json.ts: the body at most 2 × message-size-limit = 8192 bytes, else
// 413/41303; JSON that does not decode into publishMessage is 400/40024), then parsePublishParams reads
// headers or query parameters and handlePublishBody decides: a body under message-size-limit (4096
// bytes) that is UTF-8 is the message, trimmed; anything else is an attachment, which needs an
// attachment cache (40014 without).
import type { IncomingMessage } from 'node:http';
import { randomId, type StoredMessage } from './cache.ts';
import { ERRORS, HttpError } from './errors.ts';
import { MESSAGE_SIZE_LIMIT, parseActions } from './publish-json.ts';

// config.go, DefaultDisallowedTopics
export const DISALLOWED_TOPICS = ['docs', 'static', 'file', 'app', 'metrics', 'account', 'settings', 'signup', 'login', 'v1'];

/** util.ParsePriority: empty is 0 (the default, left out of the message), names and 1-5; else 40007. */
export function parsePriority(text: string): number {
  const p = text.trim().toLowerCase();
  const known: Record<string, number> = { '': 0, '1': 1, min: 1, '2': 2, low: 2, '3': 3, default: 3, '4': 4, high: 4, '5': 5, max: 5, urgent: 5 };
  if (known[p] === undefined) throw new HttpError(ERRORS.invalidPriority);
  return known[p]!;
}

export function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}


/** A request parameter by any of its names (server/util.go, readParam). */
export type Params = (...names: string[]) => string;

/** readParam: a header (trimmed), else the query parameter of the same name. */
export function paramsOf(req: IncomingMessage, u: URL): Params {
  return (...names) => {
    for (const n of names) {
      const v = req.headers[n.toLowerCase()];
      if (typeof v === 'string' && v.trim() !== '') return v.trim();
    }
    for (const n of names) {
      const v = u.searchParams.get(n.toLowerCase());
      if (v && v.trim() !== '') return v.trim();
    }
    return '';
  };
}

const UNMODELLED = ['x-email', 'x-call', 'x-delay', 'x-attach', 'x-filename', 'x-template', 'x-poll-id'];

/** The stored message of a publish (handlePublishInternal, parsePublishParams); `keep`: it goes to the cache. */
export function buildMessage(topic: string, param: Params, body: Buffer, opts: { cacheDurationS: number; attachmentsUrl: string | null }): { message: StoredMessage; keep: boolean } {
  const keep = !['no', 'false', '0'].includes(param('x-cache', 'cache').toLowerCase());
  const priority = parsePriority(param('x-priority', 'priority', 'prio', 'p'));
  const actionsText = param('x-actions', 'actions', 'action');
  const actions = actionsText ? parseActions(actionsText) : [];
  for (const name of UNMODELLED) {
    if (param(name, name.slice(2))) throw new HttpError({ code: 40000, http: 400, error: 'invalid request' }, `${name} is not modelled by the double`);
  }
  const time = Math.floor(Date.now() / 1000);
  const id = randomId(12);
  const attachment = bodyAsAttachment(body, id, time, opts.attachmentsUrl);
  const text = attachment ? `You received a file: ${String(attachment['name'])}` : goTrimSpace(body.toString('utf8'));
  const tags = param('x-tags', 'tags', 'tag', 'ta').split(',').map((t) => t.trim()).filter(Boolean);
  const markdown = ['1', 'yes', 'true'].includes(param('x-markdown', 'markdown', 'md').toLowerCase()) || param('content-type').toLowerCase() === 'text/markdown';
  const title = param('x-title', 'title', 't');
  const click = param('x-click', 'click');
  const message: StoredMessage = {
    id,
    time,
    ...(keep ? { expires: time + opts.cacheDurationS } : {}),
    event: 'message',
    topic,
    ...(title ? { title } : {}),
    message: text === '' ? 'triggered' : text,
    ...(priority !== 0 ? { priority } : {}),
    ...(tags.length ? { tags } : {}),
    ...(click ? { click } : {}),
    ...(actions.length ? { actions } : {}),
    ...(attachment ? { attachment } : {}),
    ...(markdown ? { content_type: 'text/markdown' } : {}),
  };
  return { message, keep };
}

// handlePublishBody: under the message limit and UTF-8 → the message; otherwise an attachment, which
// needs an attachment cache (handleBodyAsAttachment).
function bodyAsAttachment(body: Buffer, id: string, time: number, baseUrl: string | null): Record<string, unknown> | null {
  const peeked = body.subarray(0, MESSAGE_SIZE_LIMIT);
  if (body.length < MESSAGE_SIZE_LIMIT && isUtf8(peeked)) return null;
  if (baseUrl === null) throw new HttpError(ERRORS.attachmentsDisallowed);
  const ext = isUtf8(peeked) ? '.txt' : '.bin';
  return { name: `attachment${ext}`, type: ext === '.txt' ? 'text/plain; charset=utf-8' : 'application/octet-stream', size: body.length, expires: time + 3 * 3600, url: `${baseUrl}/file/${id}${ext}` };
}

// Go's strings.TrimSpace (unicode.IsSpace), which unlike String.prototype.trim keeps U+FEFF.
const GO_SPACE = '[\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const GO_TRIM = new RegExp(`^${GO_SPACE}+|${GO_SPACE}+$`, 'g');

function goTrimSpace(s: string): string {
  return s.replace(GO_TRIM, '');
}
