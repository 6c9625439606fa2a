// The `approval` config section: ntfy settings, token files only, and errors that name the key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseConfigText } from '../../src/config/load.ts';

const FILE = 'runners/home.yaml';
const approver = (name: string) => ({ name, notifyTopic: `${name}-notify-7f3k9q`, replyTopic: `${name}-reply-2m8x4w`, replyTokenFile: `/etc/airlock/${name}.token` });
const ntfy = { url: 'https://ntfy.example.net/', publishTokenFile: 'publish.token', subscribeTokenFile: 'subscribe.token', approvers: [approver('alice')] };

function parse(approval: unknown) {
  return parseConfigText(stringify({ approval }), FILE);
}

function errorOf(approval: unknown): string {
  try {
    parse(approval);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a config error');
}

describe('approval config', () => {
  it('defaults: terminal channel, 15 min, 5 min to confirm, 20 pending', () => {
    const { approval } = parseConfigText('', FILE);
    assert.equal(approval.channel, 'terminal');
    assert.equal(approval.ttl, 15 * 60_000);
    assert.equal(approval.confirmTtl, 5 * 60_000);
    assert.equal(approval.maxPending, 20);
  });

  it('an ntfy section parses, the URL without its trailing slash', () => {
    const { approval } = parse({ channel: 'ntfy', ntfy });
    assert.equal(approval.ntfy?.url, 'https://ntfy.example.net');
    assert.equal(approval.ntfy?.keepaliveTimeout, 120_000);
    assert.deepEqual(approval.ntfy?.approvers.map((a) => a.name), ['alice']);
  });

  it('channel ntfy needs the ntfy section', () => {
    assert.match(errorOf({ channel: 'ntfy' }), /`approval\.ntfy` is required: must be set when `approval\.channel` is "ntfy"/);
  });

  it('a token written inline is refused without echoing it', () => {
    const message = errorOf({ channel: 'ntfy', ntfy: { ...ntfy, publishToken: 'tk_inlinesecretinlinesecret12' } });
    assert.match(message, /unknown key `publishToken` in `approval\.ntfy`/);
    assert.ok(!message.includes('tk_inlinesecret'), message);
  });

  it('topics must be ntfy topic names and never shared', () => {
    assert.match(errorOf({ channel: 'ntfy', ntfy: { ...ntfy, approvers: [{ ...approver('alice'), replyTopic: 'has space' }] } }), /`approval\.ntfy\.approvers\[0\]\.replyTopic` must be an ntfy topic name.*got `"has space"`/);
    const shared = errorOf({ channel: 'ntfy', ntfy: { ...ntfy, approvers: [approver('alice'), { ...approver('bob'), replyTopic: 'alice-reply-2m8x4w' }] } });
    assert.match(shared, /`approval\.ntfy\.approvers\[1\]\.replyTopic` must not be used twice \(also alice's replyTopic\)/);
    assert.match(errorOf({ channel: 'ntfy', ntfy: { ...ntfy, approvers: [approver('alice'), approver('alice')] } }), /approvers\[1\]\.name` must be unique/);
  });

  it('topics that differ only in letter case count as the same (ntfy ACLs ignore case), reserved names are refused', () => {
    const cased = errorOf({ channel: 'ntfy', ntfy: { ...ntfy, approvers: [approver('alice'), { ...approver('bob'), replyTopic: 'ALICE-reply-2m8x4w' }] } });
    assert.match(cased, /`approval\.ntfy\.approvers\[1\]\.replyTopic` must not be used twice \(also alice's replyTopic\).*ignores letter case/);
    assert.match(errorOf({ channel: 'ntfy', ntfy: { ...ntfy, approvers: [{ ...approver('alice'), notifyTopic: 'v1' }] } }), /`approval\.ntfy\.approvers\[0\]\.notifyTopic` must not be a name ntfy reserves/);
  });

  it('the runner paces itself inside ntfy\'s per-address limit unless told the host is exempt', () => {
    assert.deepEqual(parse({ channel: 'ntfy', ntfy }).approval.ntfy?.requestBudget, { burst: 40, every: 6_000 });
    assert.equal(parse({ channel: 'ntfy', ntfy: { ...ntfy, requestBudget: false } }).approval.ntfy?.requestBudget, false);
    assert.match(errorOf({ channel: 'ntfy', ntfy: { ...ntfy, requestBudget: { burst: 0, every: '5s' } } }), /`approval\.ntfy\.requestBudget/);
    assert.equal(parse({ channel: 'ntfy', ntfy }).approval.ntfy?.unsafeAllowAnonymousAccess, false);
  });

  it('the server URL must be http(s)', () => {
    assert.match(errorOf({ channel: 'ntfy', ntfy: { ...ntfy, url: 'ntfy.example.net' } }), /`approval\.ntfy\.url` must be the ntfy server URL/);
  });
});
