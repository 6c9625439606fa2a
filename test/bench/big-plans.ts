// Big plans: generated `show -json` files of 10k, 100k and 500k resource changes (the last ~1.3 GB) read
// into a summary by the streaming reader, each in a child process: time, MB/s and the child's peak RSS.
import { execFile } from 'node:child_process';
import { rm, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeSyntheticPlan } from '../plan/generate-plan-json.ts';
import { BENCH_DIR, round, type Benchmark, type BenchResult, type Figure } from './bench-support.ts';

const SIZES = [10_000, 100_000, 500_000];
const MIN_FREE_BYTES = 5e9;
const CHILD = path.join(BENCH_DIR, 'summarize-child.ts');

interface ChildReport {
  ms: number;
  bytes: number;
  maxRssKiB: number;
  counts: Record<string, number>;
}

async function summarizeInChild(arg: string, extraNodeArgs: string[] = []): Promise<ChildReport> {
  const { stdout } = await promisify(execFile)(process.execPath, [...extraNodeArgs, '--import', 'tsx', CHILD, arg], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as ChildReport;
}

export const bigPlans: Benchmark = {
  name: 'bigplans',
  title: 'Big plans (streaming summary of 10k / 100k / 500k resource changes)',
  async run(scope): Promise<BenchResult> {
    const dir = await scope.tempDir('bigplans');
    const fs = await statfs(os.tmpdir());
    const free = fs.bavail * fs.bsize;
    if (free < MIN_FREE_BYTES) {
      return {
        figures: [{ figure: 'skipped', value: null, unit: '', goal: '≤ 256 MB, ≥ 50 MB/s', met: null }],
        notes: [`skipped: ${round(free / 1e9)} GB free under ${os.tmpdir()}, the 500k plan needs ~1.3 GB and this benchmark wants ${MIN_FREE_BYTES / 1e9} GB free`],
      };
    }
    const baseline = await summarizeInChild('--baseline');
    const figures: Figure[] = [];
    const rows = [];
    for (const changes of SIZES) {
      const file = path.join(dir, `plan-${changes}.json`);
      const genStarted = performance.now();
      const written = await writeSyntheticPlan(file, { changes, seed: 7 });
      const generateMs = performance.now() - genStarted;
      try {
        const r = await summarizeInChild(file);
        const mbps = r.bytes / 1e6 / (r.ms / 1000);
        const rssMB = (r.maxRssKiB * 1024) / 1e6;
        const countsMatch = Object.entries(written.counts).every(([k, v]) => k === 'noop' || (r.counts[k] ?? 0) === v);
        const label = `${changes / 1000}k changes (${round(r.bytes / 1e6)} MB)`;
        figures.push(
          { figure: `${label}: summary time`, value: round(r.ms), unit: 'ms' },
          { figure: `${label}: throughput`, value: round(mbps), unit: 'MB/s', goal: '≥ 50 MB/s', met: mbps >= 50 },
          { figure: `${label}: peak RSS`, value: round(rssMB), unit: 'MB', goal: '≤ 256 MB', met: rssMB <= 256 },
        );
        rows.push({ changes, bytes: r.bytes, ms: round(r.ms), mbPerS: round(mbps), peakRssMB: round(rssMB), countsMatch, generateMs: round(generateMs) });
        if (!countsMatch) throw new Error(`the summary of ${file} counts ${JSON.stringify(r.counts)}, the generator wrote ${JSON.stringify(written.counts)}`);
      } finally {
        await rm(file, { force: true });
      }
    }
    return {
      figures,
      data: { sizes: rows, childBaselineRssMB: round((baseline.maxRssKiB * 1024) / 1e6) },
      notes: [
        `Each file is summarised by summarizePlanFile (src/plan/read-plan-json.ts) in a fresh \`node --import tsx\` child; time is measured around the call inside the child; peak RSS is the child’s maxRSS, of which ${round((baseline.maxRssKiB * 1024) / 1e6)} MB is node + tsx doing nothing. The file was just written, so it is read from the page cache: this is the reader’s CPU speed, not the disk’s. MB = 10^6 bytes.`,
      ],
    };
  },
};
