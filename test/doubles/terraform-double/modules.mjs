// `init` for module calls: git sources are cloned into .terraform/modules/<name> (checked out at ?ref=),
// local paths are used in place, and .terraform/modules/modules.json lists them as terraform writes it.
// The double does not plan modules; fetching them lets tests see what init leaves for the guard.

import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { HclError } from './hcl.mjs';

const MODULES = '.terraform/modules';

/** Fetch every module call of the root module; `print` gets init's progress lines. */
export function fetchModules(model, cwd, print) {
  mkdirSync(join(cwd, MODULES), { recursive: true });
  const entries = [{ Key: '', Source: '', Dir: '.' }];
  for (const m of model.modules.values()) {
    const [file, line] = m.where.split(' line ');
    if (m.source.startsWith('./') || m.source.startsWith('../')) {
      entries.push({ Key: m.name, Source: m.source, Dir: posix.normalize(m.source) });
      print(`- ${m.name} in ${m.source}\n`);
      continue;
    }
    const git = /^git::([^?]+?)(?:\/\/([^?]*))?(?:\?ref=([^&]+))?$/.exec(m.source.replace('://', ':\u0000'));
    if (!git) throw new HclError('Failed to download module', `The Airlock terraform double fetches git:: and local module sources only, not ${JSON.stringify(m.source)}.`, file, Number(line));
    const url = git[1].replace(':\u0000', '://');
    const target = join(cwd, MODULES, m.name);
    rmSync(target, { recursive: true, force: true });
    print(`Downloading ${m.source} for ${m.name}...\n`);
    try {
      execFileSync('git', ['clone', '--quiet', '--', url, target], { stdio: ['ignore', 'ignore', 'pipe'] });
      if (git[3]) execFileSync('git', ['-C', target, 'checkout', '--quiet', git[3], '--'], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      throw new HclError('Failed to download module', `Could not download module "${m.name}" source code from "${m.source}": ${String(err.stderr ?? err.message).trim()}`, file, Number(line));
    }
    const dir = git[2] ? `${MODULES}/${m.name}/${git[2]}` : `${MODULES}/${m.name}`;
    entries.push({ Key: m.name, Source: m.source, Dir: dir });
    print(`- ${m.name} in ${dir}\n`);
  }
  writeFileSync(join(cwd, MODULES, 'modules.json'), JSON.stringify({ Modules: entries }));
}
