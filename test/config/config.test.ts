import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/errors.ts';
import { renderJsonSchema } from '../../src/config/json-schema.ts';
import { loadConfig, parseConfigText } from '../../src/config/load.ts';

const MINIMAL = 'repos:\n  - name: infra\n    url: https://git.example/infra.git\n';

function problem(text: string): string {
  try {
    parseConfigText(text, 'runners/home.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    assert.equal(err.code, 'airlock:config-invalid');
    return err.message;
  }
  assert.fail(`expected a config error for:\n${text}`);
}

test('a minimal config gets safe defaults', () => {
  const c = parseConfigText(MINIMAL, 'x.yaml');
  assert.equal(c.applies.enabled, false, 'applies are off in a new config');
  assert.equal(c.approval.ttl, 15 * 60_000);
  assert.deepEqual(c.repos[0]!.refs, ['refs/pull/*/head', 'refs/merge-requests/*/head']);
  assert.deepEqual(c.repos[0]!.workspaces, [{ name: 'default', dir: '.', credentials: 'none' }]);
  assert.equal(c.engine.kind, 'terraform');
  assert.equal(c.checkout.maxBytes, 50 * 1024 * 1024);
});

// Each row: config text, and what the message must contain (file, key path and bad value).
const BAD: Array<[string, string]> = [
  ['approval:\n  ttl: soon\n', 'runners/home.yaml: `approval.ttl` must be a duration like "15m" (whole numbers with units d, h, m, s or ms, largest first; compound durations like "1h30m" are fine), got `"soon"`'],
  [`${MINIMAL}    pollInterval: 5\n`, '`repos[0].pollInterval` must be a duration like "30s" (whole numbers with units d, h, m, s or ms, largest first; compound durations like "1h30m" are fine), got `5`'],
  [`${MINIMAL}    refs: ["--upload-pack=x"]\n`, '`repos[0].refs[0]` must be a ref pattern like "refs/pull/*/head", got `"--upload-pack=x"`'],
  ['repos:\n  - name: infra\n    url: "-oProxyCommand=x"\n', '`repos[0].url` must be an https://, ssh://, git@ or file:// URL, got `"-oProxyCommand=x"`'],
  [`${MINIMAL}    workspaces: [{name: prod, dir: ../../etc}]\n`, '`repos[0].workspaces[0].dir` must be a path inside the repository, without "..", got `"../../etc"`'],
  ['engine:\n  kind: pulumi\n', '`engine.kind` must be one of "terraform", "tofu", got `"pulumi"`'],
  ['engine:\n  env:\n    TF_CLI_ARGS: "-auto-approve"\n', '`engine.env` must not set TF_CLI_ARGS*'],
  ['checkout:\n  maxBytes: lots\n', '`checkout.maxBytes` must be a size like "50MiB", got `"lots"`'],
  ['applies:\n  enabled: "yes"\n', '`applies.enabled` is invalid (expected boolean, received string), got `"yes"`'],
  ['bogus: 1\n', 'unknown key `bogus` at the top level'],
  ['redis:\n  url: http://x\n', '`redis.url` must be a redis:// or rediss:// URL, got `"http://x"`'],
  [`${MINIMAL}  - name: infra\n    url: https://x/y.git\n`, '`repos[1].name` must be unique'],
  ['repos: [\n', 'YAML:'],
  ['a: 1\na: 2\n', 'YAML:'],
];

for (const [text, expected] of BAD) {
  test(`config error names key and value: ${expected.slice(0, 60)}`, () => {
    const message = problem(text);
    assert.ok(message.includes(expected), `message:\n${message}\nshould include:\n${expected}`);
  });
}

test('a missing file says so and names it', async () => {
  await assert.rejects(loadConfig('/nonexistent/airlock.yaml'), /\/nonexistent\/airlock\.yaml: the file does not exist/);
});

test('relative dataDir resolves against the config file, and the file is hashed', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'airlock-cfg-'));
  const file = path.join(dir, 'home.yaml');
  await writeFile(file, `${MINIMAL}runner:\n  dataDir: ./state\n`);
  const loaded = await loadConfig(file);
  assert.equal(loaded.config.runner.dataDir, path.join(dir, 'state'));
  assert.match(loaded.hash, /^[0-9a-f]{64}$/);
});

test('the committed JSON Schema matches the zod schema', async () => {
  const committed = await readFile(new URL('../../runners/airlock.schema.json', import.meta.url), 'utf8');
  assert.equal(committed, renderJsonSchema(), 'run `npm run schema` after changing src/config/schema.ts');
  const schema = JSON.parse(committed) as { properties: Record<string, unknown> };
  assert.ok(schema.properties['repos'] && schema.properties['approval'] && schema.properties['engine']);
});

test('every shipped runner config is valid', async () => {
  for (const name of ['demo.yaml', 'example.yaml']) {
    const loaded = await loadConfig(new URL(`../../runners/${name}`, import.meta.url).pathname);
    assert.ok(loaded.config.repos.length > 0, name);
  }
});

test('the engine sandbox is on unless the config says none; its keys are checked', () => {
  const on = parseConfigText(MINIMAL, 'x.yaml');
  assert.deepEqual(on.engine.sandbox, { users: { plan: 64101, apply: 64102, group: 64100 }, readOnlyPaths: [], sessions: true });
  assert.deepEqual(parseConfigText('engine:\n  sandbox: { sessions: false }\n', 'x.yaml').engine.sandbox, { ...(on.engine.sandbox as object), sessions: false });
  assert.match(problem('engine:\n  sandbox: { sessions: sometimes }\n'), /`engine\.sandbox` is invalid.*"sessions":"sometimes"/);
  assert.equal(on.engine.network, 'slirp4netns');
  assert.equal(parseConfigText('engine:\n  sandbox: none\n', 'x.yaml').engine.sandbox, 'none');
  assert.deepEqual(parseConfigText('engine:\n  sandbox: bwrap\n', 'x.yaml').engine.sandbox, on.engine.sandbox);
  assert.equal(parseConfigText(`${MINIMAL}    workspaces: [{name: offline, network: none}]\n`, 'x.yaml').repos[0]!.workspaces[0]!.network, 'none');
  assert.match(problem('engine:\n  sandbox:\n    users: { plan: 0 }\n'), /`engine\.sandbox\.users\.plan` must not be 0 \(root\), got `0`/);
  assert.match(problem('engine:\n  sandbox:\n    users: { plan: 7, apply: 7 }\n'), /`engine\.sandbox\.users` must give plan and apply different uids/);
  assert.match(problem('engine:\n  sandbox:\n    readOnlyPaths: [relative/dir]\n'), /`engine\.sandbox\.readOnlyPaths\[0\]` must be an absolute, normalised path other than "\/", got `"relative\/dir"`/);
  assert.match(problem('engine:\n  network: host\n'), /`engine\.network` must be one of "slirp4netns", "none", got `"host"`/);
  assert.match(problem('engine:\n  providers: { origin: "http://mirror/" }\n'), /`engine\.providers\.origin`/);
});
