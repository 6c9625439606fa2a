// The guard's rules on real files: each construct is refused with its rule id, file and block address;
// a safe configuration passes; lenient mode turns file-function findings into warnings.
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { guardSchema } from '../../src/guard/config.ts';
import { describeViolation, guardTree, GuardRefusedError, inspectTree, type GuardViolation } from '../../src/guard/guard.ts';
import { parseHcl } from '../../src/guard/hcl-parser.ts';
import { treeMaker } from './tree-fixture.ts';
import { ALLOW, REFUSED } from './refused-fixtures.ts';

const tree = treeMaker('guard');

async function inspect(files: Record<string, string>, config: object = ALLOW, opts: { engineKind?: 'terraform' | 'tofu'; workDir?: string } = {}) {
  return inspectTree(await tree(files), { config: guardSchema.parse(config), engineKind: opts.engineKind ?? 'terraform', workDir: opts.workDir ?? '.' });
}

const AWS = 'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = "~> 5.30" }\n  }\n}\n';
const COMMIT = 'a'.repeat(40);

describe('guard: refused constructs', () => {
  for (const [name, files, rule, file, address] of REFUSED) {
    it(`${name} → ${rule}`, async () => {
      const { refusals } = await inspect(files);
      const hit = refusals.find((v) => v.rule === rule);
      assert.ok(hit, `expected rule ${rule}, got ${JSON.stringify(refusals)}`);
      assert.equal(hit.file, file);
      assert.equal(hit.address, address);
      assert.match(describeViolation(hit), new RegExp(`^\\[${rule}\\] `));
    });
  }

  it('the parser message (file, line, column) is the reason of a parse error', async () => {
    const { refusals } = await inspect({ 'main.tf': 'resource "x" "y" {\n  a = \n}\n' });
    assert.match(refusals[0]!.message, /main\.tf:2,/);
  });

  it('guardTree throws GuardRefusedError listing every violation', async () => {
    const root = await tree({ 'main.tf': 'data "external" "x" {\n  program = ["id"]\n}\nterraform {\n  backend "local" {}\n}\n' });
    const err = await guardTree(root, { config: guardSchema.parse(ALLOW), engineKind: 'terraform', workDir: '.' }).catch((e: unknown) => e);
    assert.ok(err instanceof GuardRefusedError);
    assert.equal(err.code, 'airlock:guard-refused');
    // hashicorp/external is not allowlisted either: every broken rule is listed, not just the first.
    assert.deepEqual(err.violations.map((v: GuardViolation) => v.rule).sort(), ['backend-block', 'external-data', 'provider-not-allowed']);
    assert.match(err.message, /\[external-data\] main\.tf data\.external\.x/);
  });
});

const SAFE: Record<string, string> = {
  'main.tf': `${AWS}
provider "aws" {
  region = "eu-west-1"
}

resource "aws_instance" "web" {
  user_data = file("\${path.module}/init.sh")
  tags      = { Name = templatefile("tags.tpl", { env = "lab" }) }
}

resource "terraform_data" "d" {
  input = [fileset(path.module, "files/*.txt"), filesha256("init.sh")]
}

module "net" {
  source = "./modules/net"
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "5.8.1"
}

module "shared" {
  source = "git::https://git.example/infra/shared.git//dns?ref=${COMMIT}"
}
`,
  'init.sh': '#!/bin/sh\necho hi\n',
  'tags.tpl': 'web-${env}',
  'modules/net/main.tf': 'terraform {\n  required_providers {\n    cloudflare = { source = "cloudflare/cloudflare" }\n  }\n}\nresource "cloudflare_record" "r" {\n  name = "lab"\n}\n',
  'lock.json': '{}',
  'README.md': 'file("/etc/passwd") in a README is not code',
};

describe('guard: what passes', () => {
  it('a safe configuration has no violations', async () => {
    const { refusals, warnings } = await inspect(SAFE);
    assert.deepEqual(refusals, []);
    assert.deepEqual(warnings, []);
  });

  it('the built-in terraform provider needs no allowlist', async () => {
    const { refusals } = await inspect({ 'main.tf': 'resource "terraform_data" "a" {\n  input = "x"\n}\n' }, {});
    assert.deepEqual(refusals, []);
  });

  it('short provider addresses use the engine\'s registry (OpenTofu)', async () => {
    const files = { 'main.tf': AWS };
    assert.deepEqual((await inspect(files, { providers: [{ source: 'registry.opentofu.org/hashicorp/aws', versions: '~> 5.0' }] }, { engineKind: 'tofu' })).refusals, []);
    const wrongHost = await inspect(files, { providers: [{ source: 'registry.terraform.io/hashicorp/aws' }] }, { engineKind: 'tofu' });
    assert.deepEqual(wrongHost.refusals.map((v) => v.rule), ['provider-not-allowed']);
  });

  it('provider allowlist entries may be globs within one path segment', async () => {
    const files = { 'main.tf': 'terraform {\n  required_providers {\n    x = { source = "mycorp.example/infra/x" }\n  }\n}\n' };
    assert.deepEqual((await inspect(files, { providers: ['mycorp.example/infra/*'] })).refusals, []);
    assert.equal((await inspect(files, { providers: ['mycorp.example/other/*'] })).refusals.length, 1);
  });
});

describe('guard: strict and lenient file-function checks', () => {
  const files = { 'main.tf': 'resource "terraform_data" "r" {\n  input = file("/etc/hostname")\n}\n' };

  it('strict (the default) refuses', async () => {
    const result = await inspect(files, {});
    assert.deepEqual(result.refusals.map((v) => v.rule), ['file-function']);
    assert.deepEqual(result.warnings, []);
  });

  it('lenient warns and lets the plan run', async () => {
    const result = await inspect(files, { mode: 'lenient' });
    assert.deepEqual(result.refusals, []);
    assert.deepEqual(result.warnings.map((v) => [v.rule, v.address]), [['file-function', 'terraform_data.r']]);
  });

  it('lenient mode does not relax any other rule', async () => {
    const result = await inspect({ ...files, 'x.tf': 'data "external" "x" {\n  program = ["id"]\n}\n' }, { mode: 'lenient', providers: ['hashicorp/external'] });
    assert.deepEqual(result.refusals.map((v) => v.rule), ['external-data']);
  });

  it('relative paths resolve against the workspace directory', async () => {
    // templatefile("t.tpl") in workspace "envs/lab" reads envs/lab/t.tpl, whose text is checked too.
    const result = await inspect(
      { 'envs/lab/main.tf': 'output "o" {\n  value = templatefile("t.tpl", {})\n}\n', 'envs/lab/t.tpl': '${file("/etc/passwd")}' },
      {},
      { workDir: 'envs/lab' },
    );
    assert.deepEqual(result.refusals.map((v) => [v.rule, v.address]), [['file-function', 'output.o (template envs/lab/t.tpl)']]);
  });
});

describe('guard: the HCL parser', () => {
  it('parses off the event loop, so a large file never stalls the runner', async () => {
    await parseHcl('warm.tf', 'locals {}\n');
    const big = Array.from({ length: 6000 }, (_, i) => `resource "aws_instance" "r${i}" {\n  ami = "ami-${i}"\n  tags = { Name = "n\${var.x}${i}" }\n}\n`).join('');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const parsed = await parseHcl('big.tf', big);
      assert.equal(Object.keys((parsed['resource'] as Record<string, object>)['aws_instance']!).length, 6000);
    } finally {
      clearInterval(timer);
    }
    // On the main thread the WebAssembly parse is one synchronous block and no timer could fire.
    assert.ok(ticks > 0, 'the event loop ran while the file was parsed');
  });

  it('runs in a child process, whose memory is not ours; one that died between parses is replaced', async () => {
    await parseHcl('warm.tf', 'locals {}\n');
    const [pid] = await parserPids();
    assert.ok(pid, 'a parser process, child of this one');
    process.kill(pid, 'SIGKILL');
    // Gone, and reaped by this process (a zombie keeps its /proc entry until then).
    while (await stat(`/proc/${pid}`).then(() => true, () => false)) await new Promise((r) => setTimeout(r, 20));
    const before = process.memoryUsage.rss();
    // A fresh parser instantiates its ~7 MB of WebAssembly (~70 MB of memory) in its own process.
    const parsed = await parseHcl('after.tf', 'resource "terraform_data" "x" {}\n');
    assert.deepEqual(Object.keys(parsed['resource'] as object), ['terraform_data']);
    assert.ok(process.memoryUsage.rss() - before < 40e6, `this process grew by ${Math.round((process.memoryUsage.rss() - before) / 1e6)} MB`);
    const [again] = await parserPids();
    assert.ok(again && again !== pid, 'a new parser process');
  });
});

/** Processes of the HCL parser whose parent is this process (Linux /proc). */
async function parserPids(): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== process.pid) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('hcl-worker.mjs')) pids.push(Number(entry));
  }
  return pids;
}
