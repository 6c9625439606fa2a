// `init` with a warm provider mirror against a cold one, in the sandbox, with a real terraform/tofu (skipped
// without one). Cold: the provider comes from a packed origin (a filesystem mirror of release zips, standing
// in for the registry: unzip, hash, verify, but no network, so real downloads cost more). Warm: from the
// runner's unpacked mirror, which init links instead of copying. Alternating, median of N each.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createEngine, type Engine } from '../../src/engine/engine.ts';
import { fillCliConfig, mirrorFillConfig } from '../../src/engine/mirror-fill.ts';
import { findOnPath } from '../../src/sandbox/host.ts';
import { mirrorCliConfig } from '../../src/sandbox/provider-mirror.ts';
import { takeBack } from '../../src/sandbox/ownership.ts';
import { sandboxSettingsForTests } from '../sandbox/sandbox-fixture.ts';
import { buildOrigin } from '../sandbox/fake-provider/build.ts';
import { median, round, type Benchmark, type BenchResult, type Scope } from './bench-support.ts';

const RUNS = 5;
const SOURCE = 'registry.terraform.io/airlock-test/fake';

async function timedInit(engine: Engine, root: string, label: string, cliConfig: string): Promise<number> {
  const cwd = path.join(root, label);
  await mkdir(cwd, { recursive: true });
  await writeFile(path.join(cwd, 'main.tf'), `terraform {\n  required_providers {\n    fake = { source = "${SOURCE}" }\n  }\n}\n`);
  const started = performance.now();
  await engine.init({ cwd, homeDir: path.join(root, `${label}-home`), cliConfig });
  return performance.now() - started;
}

export const mirrorInit: Benchmark = {
  name: 'mirror',
  title: 'init with a warm provider mirror vs a cold origin (real engine, sandboxed)',
  async run(scope: Scope): Promise<BenchResult> {
    const binary = process.env['AIRLOCK_TEST_ENGINE'] ?? (await findOnPath('terraform')) ?? (await findOnPath('tofu'));
    if (!binary) return { figures: [], data: {}, notes: ['skipped: no terraform or tofu on PATH and no AIRLOCK_TEST_ENGINE'] };
    const root = await scope.tempDir('mirror-init');
    const origin = path.join(root, 'origin');
    const mirror = path.join(root, 'mirror');
    await mkdir(mirror, { mode: 0o755 });
    await buildOrigin(origin, [{ namespace: 'airlock-test', name: 'fake', version: '1.0.0' }]);
    const sandbox = sandboxSettingsForTests({ network: 'none', providerMirror: mirror }, [origin]);
    const engine = createEngine({ kind: binary.includes('tofu') ? 'tofu' : 'terraform', binary, path: '/usr/local/bin:/usr/bin:/bin', env: {}, timeouts: { init: 120_000, plan: 1, show: 1, apply: 1, version: 30_000 }, lockTimeoutMs: 0, sandbox });
    // Fill the runner mirror once, as the runner's fill step does.
    const fill = path.join(root, 'fill');
    await mkdir(fill);
    await writeFile(path.join(fill, 'providers.tf'), mirrorFillConfig([{ source: SOURCE, versions: undefined, arguments: [] }]).text);
    await engine.init({ cwd: fill, homeDir: path.join(root, 'fill-home'), phase: 'mirror', writable: [fill, path.join(root, 'fill-home'), mirror], readOnly: [{ source: origin, dest: origin }], cliConfig: fillCliConfig(origin, mirror) });
    await takeBack(mirror);

    const cold: number[] = [];
    const warm: number[] = [];
    const coldConfig = `provider_installation {\n  filesystem_mirror {\n    path = "${origin}"\n  }\n}\n`;
    for (let i = 0; i < RUNS + 1; i++) {
      const c = await timedInit(engine, root, `cold-${i}`, coldConfig);
      const w = await timedInit(engine, root, `warm-${i}`, mirrorCliConfig(mirror));
      if (i > 0) {
        cold.push(c);
        warm.push(w);
      }
    }
    return {
      figures: [
        { figure: `init, cold (from the packed origin), median of ${RUNS}`, value: round(median(cold)), unit: 'ms' },
        { figure: `init, warm (from the runner's mirror), median of ${RUNS}`, value: round(median(warm)), unit: 'ms' },
        { figure: 'warm / cold', value: round(median(warm) / median(cold), 3), unit: '×' },
      ],
      data: { cold: cold.map((v) => round(v)), warm: warm.map((v) => round(v)), engine: binary },
      notes: [
        'The test provider is small (a node script and a certificate): the cold figure is a floor. A real provider is tens to hundreds of MB (hashicorp/aws 5.x: ~700 MB unpacked) and comes over the network, which the warm mirror avoids on every plan; init still hashes the linked package to verify it against the lock file.',
        'Both run inside the sandbox (no network), so the difference is the installation itself: unzip + copy + hash (cold) against symlink + hash (warm).',
      ],
    };
  },
};
