// A runner in its own OS process, for tests that kill it or run two of them on one Redis.
// Usage: node --import tsx test/support/runner-process.ts CONFIG
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startRunner } from '../../src/runner/runner.ts';

const loaded = await loadConfig(process.argv[2]!);
const runner = await startRunner(loaded, { log: createLogger({ level: 'info', pretty: false }) });
process.stdout.write('RUNNER-READY\n');
const stop = async () => {
  await runner.stop();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
