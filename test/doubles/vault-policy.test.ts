// The Vault double's ACL evaluator against OpenBao's own tables (internal/vault/policy/acl_test.go:
// TestACL_Single, TestACL_Layered, TestACL_SegmentWildcardPriority, with their policies aclPolicy and
// aclPolicy2), plus the overlaps Airlock's plan policy depends on. Sudo (RootPrivs) is not modelled.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allows, buildAcl, parsePolicy, PolicyParseError, type Operation } from './vault-double/policy.ts';

const ACL_POLICY = `
path "dev/*" { policy = "sudo" }
path "stage/*" { policy = "write" }
path "stage/aws/*" {
  policy = "read"
  capabilities = ["update", "sudo"]
}
path "stage/aws/policy/*" { policy = "sudo" }
path "prod/*" { policy = "read" }
path "prod/aws/*" { policy = "deny" }
path "sys/*" { policy = "deny" }
path "foo/bar" { capabilities = ["read", "create", "sudo"] }
path "baz/quux" { capabilities = ["read", "create", "patch"] }
path "test/+/segment" { capabilities = ["read"] }
path "+/segment/at/front" { capabilities = ["read"] }
path "test/segment/at/end/+" { capabilities = ["read"] }
path "test/segment/at/end/v2/+/" { capabilities = ["read"] }
path "test/+/wildcard/+/*" { capabilities = ["read"] }
path "test/+/wildcardglob/+/end*" { capabilities = ["read"] }
path "1/2/*" { capabilities = ["create"] }
path "1/2/+" { capabilities = ["read"] }
path "1/2/+/+" { capabilities = ["update"] }
path "asdf/fdsa" { capabilities = ["scan"] }
`;

const ACL_POLICY_2 = `
path "dev/hide/*" { policy = "deny" }
path "stage/aws/policy/*" {
  policy = "deny"
  # This should have no effect
  capabilities = ["read", "update", "sudo"]
}
path "prod/*" { policy = "write" }
path "sys/seal" { policy = "sudo" }
path "foo/bar" { capabilities = ["deny"] }
path "baz/quux" { capabilities = ["deny"] }
`;

type Case = [Operation, string, boolean];

function check(policies: string[], cases: Case[]): void {
  const acl = buildAcl(policies.map(parsePolicy));
  for (const [op, path, allowed] of cases) assert.equal(allows(acl, op, path), allowed, `${op} ${path}`);
}

test('one policy: OpenBao TestACL_Single', () => {
  check([ACL_POLICY], [
    ['read', 'root', false],
    ['read', 'dev/foo', true],
    ['update', 'dev/foo', true],
    ['delete', 'stage/foo', true],
    ['list', 'stage/aws/foo', true],
    ['update', 'stage/aws/foo', true],
    ['update', 'stage/aws/policy/foo', true],
    ['delete', 'prod/foo', false],
    ['update', 'prod/foo', false],
    ['read', 'prod/foo', true],
    ['list', 'prod/foo', true],
    ['read', 'prod/aws/foo', false],
    ['read', 'foo/bar', true],
    ['list', 'foo/bar', false],
    ['update', 'foo/bar', false],
    ['create', 'foo/bar', true],
    ['read', 'baz/quux', true],
    ['create', 'baz/quux', true],
    ['patch', 'baz/quux', true],
    ['list', 'baz/quux', false],
    ['update', 'baz/quux', false],
    ['scan', 'baz/quux', false],
    ['scan', 'asdf/fdsa', true],
    ['list', 'asdf/fdsa', false],
    ['read', 'test/foo/bar/segment', false],
    ['read', 'test/foo/segment', true],
    ['read', 'test/bar/segment', true],
    ['read', 'test/segment/at/frond', false],
    ['read', 'test/segment/at/front', true],
    ['read', 'test/segment/at/end/foo', true],
    ['read', 'test/segment/at/end/foo/', false],
    ['read', 'test/segment/at/end/v2/foo/', true],
    ['read', 'test/segment/wildcard/at/foo/', true],
    ['read', 'test/segment/wildcard/at/end', true],
    ['read', 'test/segment/wildcard/at/end/', true],
    ['read', '1/2/3/4', false],
    ['read', '1/2/3', true],
    ['update', '1/2/3', false],
    ['update', '1/2/3/4', true],
    ['create', '1/2/3/4/5', true],
  ]);
});

test('two policies merge only on identical paths, a deny there wins: OpenBao TestACL_Layered', () => {
  check([ACL_POLICY, ACL_POLICY_2], [
    ['read', 'root', false],
    ['read', 'dev/foo', true],
    ['update', 'dev/foo', true],
    ['read', 'dev/hide/foo', false],
    ['update', 'dev/hide/foo', false],
    ['delete', 'stage/foo', true],
    ['list', 'stage/aws/foo', true],
    ['update', 'stage/aws/foo', true],
    ['update', 'stage/aws/policy/foo', false],
    ['delete', 'prod/foo', true],
    ['update', 'prod/foo', true],
    ['read', 'prod/foo', true],
    ['list', 'prod/foo', true],
    ['read', 'prod/aws/foo', false],
    ['read', 'sys/status', false],
    ['update', 'sys/seal', true],
    ['read', 'foo/bar', false],
    ['list', 'foo/bar', false],
    ['update', 'foo/bar', false],
    ['create', 'foo/bar', false],
    ['read', 'baz/quux', false],
    ['list', 'baz/quux', false],
    ['update', 'baz/quux', false],
    ['create', 'baz/quux', false],
    ['patch', 'baz/quux', false],
  ]);
});

test('the more specific wildcard rule wins, even when the other one would allow: OpenBao TestACL_SegmentWildcardPriority', () => {
  const pairs: Array<[string, string, string]> = [
    ['+/*', '*', 'foo/bar/bar/baz'],
    ['+/*', 'foo/+/*', 'foo/bar/bar/baz'],
    ['foo/+/+/*', 'foo/+/bar/baz', 'foo/bar/bar/baz'],
    ['foo/+/+/baz', 'foo/+/bar/baz', 'foo/bar/bar/baz'],
    ['foo/+/(ar/baz', 'foo/(ar/+/baz', 'foo/(ar/(ar/baz'],
    ['foo/bar/+/baz*', 'foo/bar/+/baz', 'foo/bar/bar/baz'],
    ['foo/bar/+/b*', 'foo/bar/+/ba*', 'foo/bar/bar/baz'],
  ];
  for (const [weaker, stronger, path] of pairs) {
    // The winner grants update only: read is refused although the losing rule grants it.
    const acl = buildAcl([parsePolicy(`path "${weaker}" { capabilities = ["read"] }\npath "${stronger}" { capabilities = ["update"] }`)]);
    assert.equal(allows(acl, 'update', path), true, `${stronger} beats ${weaker}`);
    assert.equal(allows(acl, 'read', path), false, `${weaker} does not add read`);
  }
});

test('a deny is not a veto: across policies the one deciding rule wins, grants are never added up', () => {
  const deny = 'path "kv/data/airlock/+/apply" { capabilities = ["deny"] }';
  const withGrant = (grant: string) => buildAcl([parsePolicy(deny), parsePolicy(`path "${grant}" { capabilities = ["read"] }`)]);
  // Broader grants lose to the deny: their first wildcard comes earlier (or ties and is a prefix).
  for (const grant of ['*', 'kv/*', 'kv/data/*', 'kv/data/airlock/*']) assert.equal(allows(withGrant(grant), 'read', 'kv/data/airlock/prod/apply'), false, grant);
  // An exact path, or a pattern whose first wildcard comes later, decides instead of the deny.
  for (const grant of ['kv/data/airlock/prod/apply', 'kv/data/airlock/prod/*', 'kv/data/airlock/prod/+']) assert.equal(allows(withGrant(grant), 'read', 'kv/data/airlock/prod/apply'), true, grant);
  // The same exact path in two policies merges, and there the deny wins.
  const exact = buildAcl([parsePolicy('path "kv/data/airlock/prod/apply" { capabilities = ["deny"] }'), parsePolicy('path "kv/data/airlock/prod/apply" { capabilities = ["read"] }'), parsePolicy('path "kv/data/airlock/prod/*" { capabilities = ["read"] }')]);
  assert.equal(allows(exact, 'read', 'kv/data/airlock/prod/apply'), false);
  // Capabilities of different rules never add up: the winner's alone count.
  const split = buildAcl([parsePolicy('path "kv/data/x/*" { capabilities = ["read"] }'), parsePolicy('path "kv/data/x/y" { capabilities = ["update"] }')]);
  assert.equal(allows(split, 'read', 'kv/data/x/y'), false);
  assert.equal(allows(split, 'update', 'kv/data/x/y'), true);
});

test('a LIST checks the path with its trailing slash first, then without it', () => {
  const acl = buildAcl([parsePolicy('path "kv/metadata/team" { capabilities = ["list"] }\npath "kv/metadata/other/" { capabilities = ["read"] }')]);
  assert.equal(allows(acl, 'list', 'kv/metadata/team/'), true);
  assert.equal(allows(acl, 'read', 'kv/metadata/team/'), false, 'only a list falls back to the path without the slash');
  assert.equal(allows(acl, 'list', 'kv/metadata/other/'), false, 'the exact rule with the slash decides, and it has no list');
});

test('policies Vault refuses to store are refused', () => {
  for (const text of ['path "a/+*" { capabilities = ["read"] }', 'path "a" { capabilities = ["reed"] }', 'path "a" { policy = "admin" }']) {
    assert.throws(() => parsePolicy(text), PolicyParseError, text);
  }
  assert.deepEqual(parsePolicy('path "a" { capabilities = ["read", "deny", "update"] }')[0]?.capabilities, ['deny'], 'deny drops every other capability');
});
