// The JSON the double reads as Go would decode it into ntfy's structs (encoding/json: unknown fields are
// ignored, a value of the wrong type fails the whole decode): the JSON publish (server.go,
// transformBodyJSON; types.go, publishMessage) and the JSON form of actions (actions.go, parseActions).
import { ERRORS, HttpError } from './errors.ts';
import { randomId } from './cache.ts';

// config.go, DefaultMessageSizeLimit; transformBodyJSON reads twice that; server.go, topicRegex.
export const MESSAGE_SIZE_LIMIT = 4096;
export const JSON_BODY_LIMIT = MESSAGE_SIZE_LIMIT * 2;
export const TOPIC = /^[-_A-Za-z0-9]{1,64}$/;

type GoType = 'string' | 'int' | 'bool' | 'strings' | 'stringMap' | 'actions';
// types.go, publishMessage; unknown fields are ignored, a wrong type fails the whole decode.
const PUBLISH_FIELDS: Record<string, GoType> = { topic: 'string', title: 'string', message: 'string', priority: 'int', tags: 'strings', click: 'string', icon: 'string', actions: 'actions', attach: 'string', markdown: 'bool', filename: 'string', email: 'string', call: 'string', cache: 'string', firebase: 'string', delay: 'string' };
// types.go, action
const ACTION_FIELDS: Record<string, GoType> = { id: 'string', action: 'string', label: 'string', clear: 'bool', url: 'string', method: 'string', headers: 'stringMap', body: 'string', intent: 'string', extras: 'stringMap' };

function fitsGo(value: unknown, type: GoType): boolean {
  if (value === null) return true;
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'int':
      return typeof value === 'number' && Number.isInteger(value);
    case 'bool':
      return typeof value === 'boolean';
    case 'strings':
      return Array.isArray(value) && value.every((v) => v === null || typeof v === 'string');
    case 'stringMap':
      return typeof value === 'object' && !Array.isArray(value) && Object.values(value as object).every((v) => v === null || typeof v === 'string');
    case 'actions':
      return Array.isArray(value) && value.every((a) => a === null || decodesAs(a, ACTION_FIELDS));
  }
}

function decodesAs(value: unknown, fields: Record<string, GoType>): boolean {
  if (value === null) return true;
  if (typeof value !== 'object' || Array.isArray(value)) return false;
  return Object.entries(value as Record<string, unknown>).every(([k, v]) => fields[k] === undefined || fitsGo(v, fields[k]!));
}

/** A JSON publish body as its request: the topic, header-style parameters, and the message as the body. */
export function fromJsonPublish(body: Buffer): { topic: string; params: Record<string, string>; body: Buffer } {
  if (body.length >= JSON_BODY_LIMIT) throw new HttpError(ERRORS.jsonTooLarge);
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(ERRORS.invalidJson);
  }
  if (!decodesAs(value, PUBLISH_FIELDS)) throw new HttpError(ERRORS.invalidJson);
  const m = (value ?? {}) as Record<string, unknown>;
  const str = (k: string) => (typeof m[k] === 'string' ? (m[k] as string) : '');
  const topic = str('topic');
  if (!TOPIC.test(topic)) throw new HttpError(ERRORS.invalidTopic);
  const params: Record<string, string> = {};
  const set = (name: string, v: string) => v !== '' && (params[name] = v);
  set('x-title', str('title'));
  if (typeof m['priority'] === 'number' && m['priority'] !== 0) set('x-priority', String(m['priority']));
  if (Array.isArray(m['tags']) && m['tags'].length > 0) set('x-tags', (m['tags'] as unknown[]).map((t) => t ?? '').join(','));
  set('x-click', str('click'));
  set('x-icon', str('icon'));
  if (m['markdown'] === true) set('x-markdown', 'yes');
  if (Array.isArray(m['actions']) && m['actions'].length > 0) set('x-actions', JSON.stringify(m['actions']));
  for (const k of ['attach', 'filename', 'email', 'call', 'cache', 'firebase', 'delay']) set(`x-${k}`, str(k));
  return { topic, params, body: Buffer.from(str('message') === '' ? 'triggered' : str('message'), 'utf8') };
}

export type Action = Record<string, unknown>;

/** actions.go, parseActions: the JSON form (the only one the double reads), at most 3, each valid. */
export function parseActions(text: string): Action[] {
  const fail = (why: string) => new HttpError(ERRORS.invalidActions, why);
  if (!text.trim().startsWith('[')) throw fail('only the JSON form of actions is modelled by the double');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw fail(`JSON error: ${(err as Error).message}`);
  }
  if (!Array.isArray(raw) || !fitsGo(raw, 'actions')) throw fail('JSON error: cannot unmarshal into actions');
  const actions = raw.map((a: Record<string, unknown> | null) => {
    const s = (k: string) => (typeof a?.[k] === 'string' ? (a[k] as string) : '');
    const maps = (k: string) => (a?.[k] && Object.keys(a[k] as object).length > 0 ? { [k]: a[k] } : {});
    return {
      id: randomId(10),
      action: s('action').toLowerCase(),
      label: s('label'),
      clear: a?.['clear'] === true,
      ...(s('url') ? { url: s('url') } : {}),
      ...(s('method') ? { method: s('method').toUpperCase() } : {}),
      ...maps('headers'),
      ...(s('body') ? { body: s('body') } : {}),
      ...(s('intent') ? { intent: s('intent') } : {}),
      ...maps('extras'),
    } as Action;
  });
  if (actions.length > 3) throw fail('only 3 actions allowed');
  for (const a of actions) {
    if (!['view', 'broadcast', 'http'].includes(a['action'] as string)) throw fail(`parameter 'action' cannot be '${String(a['action'])}', valid values are 'view', 'broadcast' and 'http'`);
    if (!a['label']) throw fail(`parameter 'label' is required`);
    if ((a['action'] === 'view' || a['action'] === 'http') && !a['url']) throw fail(`parameter 'url' is required for action '${String(a['action'])}'`);
    if (a['action'] === 'http' && ['GET', 'HEAD'].includes(String(a['method'] ?? '')) && a['body']) throw fail(`parameter 'body' cannot be set if method is ${String(a['method'])}`);
  }
  return actions;
}

