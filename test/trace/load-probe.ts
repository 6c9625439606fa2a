// A runner started in its own process on CONFIG, then stopped; prints which @opentelemetry packages the
// process loaded, as JSON on one line. Usage: node --import tsx test/trace/load-probe.ts CONFIG
import { createRequire } from 'node:module';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/log/logger.ts';
import { startRunner } from '../../src/runner/runner.ts';

const loaded = await loadConfig(process.argv[2]!);
const runner = await startRunner(loaded, { log: createLogger({ level: 'silent', pretty: false }), watch: false });
await runner.stop();
const packages = new Set(
  Object.keys(createRequire(import.meta.url).cache)
    .map((file) => /node_modules\/(@opentelemetry\/[^/]+)\//.exec(file)?.[1])
    .filter((name): name is string => name !== undefined),
);
process.stdout.write(`LOADED ${JSON.stringify([...packages].sort())}\n`);
