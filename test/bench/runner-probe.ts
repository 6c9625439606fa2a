// A runner in its own OS process, driven over IPC by the benchmarks: `poll` runs one watcher round (when
// started with --no-watch), `stats` reports the process's own CPU, its children's CPU, its peak RSS and
// its event-loop delay since the last `window` (which starts a new measurement window), `stop` stops the
// runner and exits. Logs go to a file at info level, as a production runner's would.
// Usage: node --import tsx test/bench/runner-probe.ts CONFIG LOGFILE [--no-watch] [--ls-remote]
// (--ls-remote: the watcher asks git even for file:// remotes, the watcher benchmark's before side)
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startRunner } from '../../src/runner/runner.ts';

export interface ProbeStats {
  /** process.cpuUsage(), µs. */
  userUs: number;
  systemUs: number;
  /** CPU of exited, waited-for children (git, the engine): /proc/self/stat cutime + cstime, µs. */
  childrenUs: number;
  /** process.resourceUsage().maxRSS, KiB: the peak resident set of this process. */
  maxRssKiB: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Event-loop delay since the last `window` command: how long timers and I/O callbacks waited, ms. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  atMs: number;
}

const [configFile, logFile, ...flags] = process.argv.slice(2);
const loaded = await loadConfig(configFile!);
const log = createLogger({ level: 'info', pretty: false, destination: pino.destination({ dest: logFile!, sync: true, mkdir: true }) });
const runner = await startRunner(loaded, { log, watch: !flags.includes('--no-watch'), listViaGit: flags.includes('--ls-remote') });
// With the ntfy channel, ready means subscribed to the reply topics.
await (runner as { replies?: { waitConnected(): Promise<void> } | null }).replies?.waitConnected();

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

// getconf CLK_TCK is 100 on every Linux this runs on.
const TICK_US = 10_000;

function childrenCpuUs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 16 and 17 of proc(5) (cutime, cstime); field 3 is index 0 here.
    return (Number(fields[13]) + Number(fields[14])) * TICK_US;
  } catch {
    return Number.NaN;
  }
}

function stats(): ProbeStats {
  const cpu = process.cpuUsage();
  return {
    userUs: cpu.user,
    systemUs: cpu.system,
    childrenUs: childrenCpuUs(),
    maxRssKiB: process.resourceUsage().maxRSS,
    rssBytes: process.memoryUsage.rss(),
    heapUsedBytes: process.memoryUsage().heapUsed,
    loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    loopDelayMaxMs: loopDelay.max / 1e6,
    atMs: performance.timeOrigin + performance.now(),
  };
}

process.on('message', (message: { id: number; cmd: 'poll' | 'stats' | 'window' | 'stop' }) => {
  void (async () => {
    try {
      if (message.cmd === 'window') loopDelay.reset();
      if (message.cmd === 'poll') await runner.watcher.pollAll();
      if (message.cmd === 'stop') await runner.stop();
      process.send!({ id: message.id, ok: true, stats: stats() }, () => {
        if (message.cmd === 'stop') process.exit(0);
      });
    } catch (err) {
      process.send!({ id: message.id, ok: false, error: String(err) });
    }
  })();
});
process.send!({ ready: true });
