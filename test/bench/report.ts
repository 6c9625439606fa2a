// The results table: printed after a run, written into results.json and into BENCHMARKS.md's results block.
import { readFile, writeFile } from 'node:fs/promises';
import type { BenchResult, Figure, machineInfo } from './bench-support.ts';

export interface StoredResult extends BenchResult {
  title: string;
  ranAt: string;
  durationS: number;
  /** 1-minute load average when the benchmark started. */
  loadAvg1: number;
  error?: string;
}

export interface ResultsFile {
  machine: ReturnType<typeof machineInfo>;
  updatedAt: string;
  benchmarks: Record<string, StoredResult>;
}

const status = (f: Figure) => (f.met === undefined || f.met === null ? '' : f.met ? 'met' : 'MISSED');

function formatValue(f: Figure): string {
  if (f.value === null) return 'n/a';
  return f.unit === '×' ? `${f.value}×` : `${f.value.toLocaleString('en-US')} ${f.unit}`.trim();
}

/** Rows of [benchmark, figure, value, goal, status]. */
export function tableRows(results: Record<string, StoredResult>, order: string[]): string[][] {
  const rows: string[][] = [];
  for (const name of order) {
    const r = results[name];
    if (!r) continue;
    if (r.error) rows.push([name, 'ERROR', r.error.split('\n')[0]!.slice(0, 100), '', '']);
    for (const f of r.figures) rows.push([name, f.figure, formatValue(f), f.goal ?? '', status(f)]);
  }
  return rows;
}

/** A fixed-width table for the terminal. */
export function renderPlainTable(rows: string[][]): string {
  const header = ['benchmark', 'figure', 'value', 'goal', 'status'];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

export function renderMarkdownTable(rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return ['| benchmark | figure | value | goal | status |', '|---|---|---|---|---|', ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

const START = '<!-- results:start (written by `npm run bench`; edit the text outside this block) -->';
const END = '<!-- results:end -->';

/** Replace the results block of BENCHMARKS.md with the latest figures. */
export async function updateMarkdown(file: string, results: ResultsFile, order: string[]): Promise<void> {
  const text = await readFile(file, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${file} has no results block (${START} … ${END})`);
  const m = results.machine;
  const ran = order.filter((n) => results.benchmarks[n]).map((n) => `${n} ${results.benchmarks[n]!.ranAt.slice(0, 16).replace('T', ' ')} UTC (${results.benchmarks[n]!.durationS} s, load ${results.benchmarks[n]!.loadAvg1})`);
  const notes = order.flatMap((n) => (results.benchmarks[n]?.notes ?? []).map((note) => `- **${n}**: ${note}`));
  const block = [
    START,
    '',
    `Machine: ${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Node ${m.node}, ${m.platform}.`,
    `Runs: ${ran.join('; ')}.`,
    '',
    renderMarkdownTable(tableRows(results.benchmarks, order)),
    '',
    ...(notes.length ? ['Notes from the run:', '', ...notes, ''] : []),
    END,
  ].join('\n');
  await writeFile(file, text.slice(0, start) + block + text.slice(end + END.length));
}
