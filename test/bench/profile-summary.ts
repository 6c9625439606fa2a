// Summarise a V8 .cpuprofile (node --cpu-prof): the top frames by self time, and by total time for our own
// code. Usage: node --import tsx test/bench/profile-summary.ts FILE.cpuprofile [N]
import { readFile } from 'node:fs/promises';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** Self and total sample time per frame (function + file + line), in ms, biggest first. */
export function summariseProfile(profile: Profile, top = 15) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const label = (n: ProfileNode) => {
    const url = n.callFrame.url.replace(/^file:\/\//, '').replace(/.*\/node_modules\//, 'node_modules/').replace(/.*\/(src|test)\//, '$1/');
    return `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    self.set(label(node), (self.get(label(node)) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      total.set(l, (total.get(l) ?? 0) + us);
    }
  }
  const wallMs = (profile.endTime - profile.startTime) / 1000;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).map(([frame, us]) => ({ frame, ms: Math.round(us / 1000), pct: Math.round((us / 1000 / wallMs) * 1000) / 10 }));
  return {
    wallMs: Math.round(wallMs),
    self: sorted(self).slice(0, top),
    ownTotal: sorted(total).filter((f) => f.frame.includes('src/')).slice(0, top),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const profile = JSON.parse(await readFile(process.argv[2]!, 'utf8')) as Profile;
  const s = summariseProfile(profile, Number(process.argv[3] ?? 15));
  process.stdout.write(`wall ${s.wallMs} ms\n\ntop self time (% of wall):\n`);
  for (const f of s.self) process.stdout.write(`  ${String(f.pct).padStart(5)} %  ${String(f.ms).padStart(7)} ms  ${f.frame}\n`);
  process.stdout.write(`\nAirlock frames by total time:\n`);
  for (const f of s.ownTotal) process.stdout.write(`  ${String(f.pct).padStart(5)} %  ${String(f.ms).padStart(7)} ms  ${f.frame}\n`);
}
