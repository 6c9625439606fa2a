#!/usr/bin/env node
// `npm run build`, also run by `npm ci` and `npm install` (the `prepare` script): compiles src/**/*.ts to
// dist/, one JavaScript file per TypeScript file at the same place, so the CLI and the runner start
// without tsx. esbuild is the transpiler tsx itself runs, so the code that runs is the code the tests
// run. Types are not checked here (`npm run typecheck` does that). Files that are not TypeScript (the HCL
// worker, the passkey page) are copied beside their modules. dist/ sits at the same depth as src/, so
// every `new URL('../../runners/…', import.meta.url)` in the sources still finds its file.
//
// Usage: node deploy/build.mjs [--outdir DIR] [--quiet]
import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SRC = path.join(ROOT, 'src');
const args = process.argv.slice(2);
const outArg = args.indexOf('--outdir');
const OUT = path.resolve(ROOT, outArg >= 0 ? args[outArg + 1] ?? '' : 'dist');
const quiet = args.includes('--quiet');
// Plain JavaScript that is not part of the build: the launcher itself stays in src/.
const NOT_COPIED = new Set(['cli/bin.js']);

if (!existsSync(SRC)) {
  // The container image installs its dependencies before it copies src/ in, and builds afterwards.
  process.stdout.write(`airlock build: no ${SRC} yet, nothing to build (run \`npm run build\` once it is there)\n`);
  process.exit(0);
}

const { build, version } = await import('esbuild');
const startedAt = Date.now();
const files = [];
const walk = (dir) => {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full);
    else if (entry.isFile()) files.push(path.relative(SRC, full).split(path.sep).join('/'));
  }
};
walk(SRC);
const entryPoints = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).map((f) => path.join(SRC, f));
const assets = files.filter((f) => !f.endsWith('.ts') && !NOT_COPIED.has(f));

// Every import stays an import: relative ones point at the compiled .js beside the importer, packages
// resolve from node_modules at run time. (esbuild rewrites paths only through a plugin, and plugins need
// bundle mode; nothing is bundled.)
const keepImports = {
  name: 'airlock-keep-imports',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (a) => {
      if (a.kind === 'entry-point') return undefined;
      if (/^\.\.?\//.test(a.path)) return { path: a.path.replace(/\.ts$/, '.js'), external: true };
      return { path: a.path, external: true };
    });
  },
};

// Build beside the target and swap it in, so a half-written dist/ is never what runs.
const tmp = `${OUT}.tmp-${process.pid}`;
rmSync(tmp, { recursive: true, force: true });
await build({
  entryPoints,
  outbase: SRC,
  outdir: tmp,
  bundle: true,
  plugins: [keepImports],
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
});
for (const f of assets) {
  mkdirSync(path.dirname(path.join(tmp, f)), { recursive: true });
  cpSync(path.join(SRC, f), path.join(tmp, f));
}
// What the launcher (src/cli/bin.js) compares with the sources' times to tell a stale build.
writeFileSync(path.join(tmp, 'build.json'), `${JSON.stringify({ startedAt, esbuild: version, modules: entryPoints.length, assets }, null, 2)}\n`);
const old = `${OUT}.old-${process.pid}`;
if (existsSync(OUT)) renameSync(OUT, old);
renameSync(tmp, OUT);
rmSync(old, { recursive: true, force: true });
if (!quiet) process.stdout.write(`airlock build: ${entryPoints.length} modules and ${assets.length} other files from src/ to ${path.relative(ROOT, OUT)} in ${Date.now() - startedAt} ms\n`);
