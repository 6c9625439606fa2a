// The runner processes of the campaign run the same sources as `node src/cli/bin.js`, compiled once per
// campaign into one ES module by esbuild (the compiler tsx itself uses) instead of file by file through
// tsx's loader at every start. Loading the CLI through tsx cost about 2.6 s of CPU per process; the
// bundle with its packages about 1.1 s (module resolution and a thousand small files are most of the
// rest), and the campaign starts many runners. Each of our modules keeps its own `import.meta.url`, so
// files it reads beside itself (the HCL worker, the passkey page, package.json) are the same files.
// Packages that load files or workers of their own stay external. `CHAOS_BUNDLE=0` runs bin.js instead.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { BIN, ROOT } from '../support/cli-process.ts';

const OUT_DIR = path.join(ROOT, 'test/chaos/.build');
let built: Promise<string> | null = null;

/** The script a runner process is started with: the bundle's entry, or bin.js when bundling is off or fails. */
export function runnerEntry(): Promise<string> {
  if (process.env['CHAOS_BUNDLE'] === '0') return Promise.resolve(BIN);
  built ??= build().catch((err: unknown) => {
    console.error(`chaos: cannot bundle the runner (${String(err)}); starting runners through src/cli/bin.js`);
    return BIN;
  });
  return built;
}

type Main = (argv: string[], output: { out(s: string): void; err(s: string): void; isTTY: boolean }) => Promise<number>;

/** The CLI's `main`, from the same bundle the runners run (the driver's decisions use it in-process). */
export async function bundledMain(): Promise<Main> {
  const entry = await runnerEntry();
  const module = entry === BIN ? await import('../../src/cli/main.ts') : ((await import(pathToFileURL(path.join(OUT_DIR, 'main.mjs')).href)) as { main: Main });
  return module.main;
}

async function build(): Promise<string> {
  const esbuild = await import('esbuild');
  await mkdir(OUT_DIR, { recursive: true });
  const tmp = path.join(OUT_DIR, `main.${process.pid}.mjs`);
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'src/cli/main.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['@cdktf/hcl2json', 'pino-pretty', 'thread-stream', 'pino-abstract-transport'],
    // CommonJS packages inside an ES module bundle still call require() for node's own modules.
    banner: { js: "import { createRequire as __airlockRequire } from 'node:module'; const require = __airlockRequire(import.meta.url);" },
    outfile: tmp,
    logLevel: 'error',
    plugins: [
      {
        name: 'own-import-meta-url',
        setup(b) {
          b.onLoad({ filter: /\/src\/.*\.ts$/ }, async (args) => {
            const text = await readFile(args.path, 'utf8');
            return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
          });
        },
      },
    ],
  });
  const main = path.join(OUT_DIR, 'main.mjs');
  await rename(tmp, main);
  // bin.js without tsx: the same EPIPE handling, then main().
  const entry = path.join(OUT_DIR, 'bin.mjs');
  const bin = (await readFile(BIN, 'utf8')).replace("import { register } from 'tsx/esm/api';\n", '').replace('register();\n', '').replace("import('./main.ts')", "import('./main.mjs')");
  await writeFile(`${entry}.${process.pid}`, bin);
  await rename(`${entry}.${process.pid}`, entry);
  return entry;
}
