// `airlock doctor` on forges (token file, token works, least privilege) and the `forge` config key.
import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseConfigText } from '../../src/config/load.ts';
import { scrubber } from '../../src/log/scrub.ts';
import { checkForges } from '../../src/report/doctor.ts';
import type { ForgeDouble } from '../doubles/forge-double.ts';
import { removeDir, tempDir } from '../support/harness.ts';
import { ADMIN, forgeDouble, READ_ONLY, TOKEN } from './forge-fixture.ts';

let d: ForgeDouble;
let dir: string;
before(async () => {
  d = await forgeDouble();
  dir = await tempDir('forge-doctor');
});
after(async () => {
  await d.stop();
  await removeDir(dir);
});

async function doctor(kind: 'github' | 'gitea', token: string, mode = 0o600) {
  const tokenFile = path.join(dir, `${kind}-${token.slice(0, 8)}-${mode.toString(8)}.token`);
  await writeFile(tokenFile, `${token}\n`);
  await chmod(tokenFile, mode);
  const forge = { kind, apiUrl: d.url, owner: 'acme', name: 'infra', tokenFile, comment: true, driftIssue: true };
  const [check] = await checkForges({ file: path.join(dir, 'runner.yaml'), config: { repos: [{ name: 'infra', forge }] } }, scrubber);
  assert.ok(check);
  assert.ok(!JSON.stringify(check).includes(token), 'the token is in no doctor line');
  return check;
}

test('a token that works and can do no more than reporting: ok, no warning', async () => {
  for (const kind of ['github', 'gitea'] as const) {
    const check = await doctor(kind, TOKEN);
    assert.equal(check.ok, true, check.detail);
    assert.equal(check.warn, undefined, check.detail);
    assert.match(check.detail, /works as airlock-bot/);
  }
});

test('an admin token with broad classic scopes: a warning that names the excess and the least privilege', async () => {
  const check = await doctor('github', ADMIN);
  assert.equal(check.ok, true);
  assert.equal(check.warn, true);
  assert.match(check.detail, /administer the repo and it is a classic token with repo, workflow/);
  assert.match(check.fix ?? '', /fine-grained token .*Commit statuses: write.*Pull requests: write/);
});

test('failures: a read-only Gitea token, a revoked token, a token file others can read', async () => {
  const readOnly = await doctor('gitea', READ_ONLY);
  assert.equal(readOnly.ok, false);
  assert.match(readOnly.detail, /not write/);
  const revoked = await doctor('github', 'revoked-token-5555555555');
  assert.equal(revoked.ok, false);
  assert.match(revoked.detail, /HTTP 401 Bad credentials/);
  assert.match(revoked.fix ?? '', /tokenFile/);
  const open = await doctor('gitea', TOKEN, 0o644);
  assert.equal(open.ok, false);
  assert.match(open.detail, /mode 644/);
  assert.match(open.fix ?? '', /chmod 600/);
});

test('config: a forge needs a token file, never an inline token; gitea needs its URL; github defaults to api.github.com', () => {
  const yaml = (forge: string) => `repos:\n  - name: infra\n    url: https://example.net/infra.git\n    forge: ${forge}\n`;
  const gh = parseConfigText(yaml('{ kind: github, owner: acme, name: infra, tokenFile: gh.token }'), 'r.yaml');
  assert.equal(gh.repos[0]?.forge?.apiUrl, 'https://api.github.com');
  assert.throws(() => parseConfigText(yaml('{ kind: github, owner: acme, name: infra, tokenFile: t, token: ghp_x }'), 'r.yaml'), /unknown key `token`/);
  assert.throws(() => parseConfigText(yaml('{ kind: gitea, owner: acme, name: infra, tokenFile: t }'), 'r.yaml'), /apiUrl.*must be set for gitea/);
  assert.throws(() => parseConfigText(yaml('{ kind: gitlab, owner: acme, name: infra, tokenFile: t }'), 'r.yaml'), /kind/);
});
