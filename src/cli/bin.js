#!/usr/bin/env node
// The `airlock` executable. It runs the JavaScript that `npm run build` compiles into dist/ (`npm ci` and
// `npm install` build it through the `prepare` script), so no TypeScript compiler loads at run time.
// When dist/ is missing, or older than a file under src/ (an edit, a `git pull` without a build), it runs
// the sources through tsx instead, and says so in one line on stderr: never stale code, only a slower
// start. AIRLOCK_FROM_SOURCE=1 always runs the sources, quietly (the tests do: they test what they read).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// A reader that goes away (`airlock runs | head -2`) is not an error: stop writing, and finish quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

const ROOT = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const SRC = path.join(ROOT, 'src');
const DIST = path.join(ROOT, 'dist');
// Not compiled: this launcher.
const LAUNCHER = path.join(SRC, 'cli', 'bin.js');

/** Why dist/ cannot run (missing, or older than a source), or null when it can. */
function buildProblem() {
  let startedAt;
  try {
    startedAt = JSON.parse(readFileSync(path.join(DIST, 'build.json'), 'utf8')).startedAt;
  } catch {
    return 'there is no build in dist/';
  }
  if (typeof startedAt !== 'number') return 'dist/build.json is not one this version writes';
  const newer = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      const found = entry.isDirectory() ? newer(file) : entry.isFile() && file !== LAUNCHER && statSync(file).mtimeMs > startedAt ? file : null;
      if (found) return found;
    }
    return null;
  };
  let file;
  try {
    file = newer(SRC);
  } catch {
    return null; // an install that ships dist/ without src/
  }
  return file ? `dist/ is older than ${path.relative(ROOT, file)}` : null;
}

async function loadMain() {
  const fromSource = process.env['AIRLOCK_FROM_SOURCE'] === '1';
  const problem = fromSource ? 'AIRLOCK_FROM_SOURCE=1' : buildProblem();
  if (problem === null) return (await import('../../dist/cli/main.js')).main;
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch {
    process.stderr.write(`airlock: ${problem}, and tsx is not installed to run the sources: run \`npm run build\` in ${ROOT}\n`);
    process.exit(1);
  }
  if (!fromSource) process.stderr.write(`airlock: ${problem}; running the sources through tsx (a slower start). Run \`npm run build\` in ${ROOT} to fix.\n`);
  register();
  return (await import('./main.ts')).main;
}

const main = await loadMain();
process.exitCode = await main(process.argv);
