// Reads src/ the way a reviewer would: which folders import which, file sizes, function lengths.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

export interface SourceFile {
  file: string; // relative to src/, posix
  folder: string;
  bytes: number;
  imports: string[]; // relative to src/
  text: string;
}

export function readSources(srcDir: string): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (name.endsWith('.ts')) {
        const text = readFileSync(full, 'utf8');
        const rel = path.relative(srcDir, full).split(path.sep).join('/');
        const imports = [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'(\.{1,2}\/[^']+)'/gm)]
          .map((m) => path.posix.normalize(path.posix.join(path.posix.dirname(rel), m[1]!)));
        out.push({ file: rel, folder: folderOf(rel), bytes: Buffer.byteLength(text), imports, text });
      }
    }
  };
  walk(srcDir);
  return out;
}

export function folderOf(rel: string): string {
  const parts = rel.split('/');
  return parts.length > 1 ? parts[0]! : '.';
}

/** Folder pairs that import each other, as "a<->b", sorted. */
export function folderPairs(files: SourceFile[]): string[] {
  const edges = new Set<string>();
  for (const f of files) for (const i of f.imports) {
    const to = folderOf(i);
    if (to !== f.folder) edges.add(`${f.folder}->${to}`);
  }
  const pairs = new Set<string>();
  for (const e of edges) {
    const [a, b] = e.split('->') as [string, string];
    if (edges.has(`${b}->${a}`)) pairs.add([a, b].sort().join('<->'));
  }
  return [...pairs].sort();
}

/** Functions (declarations, methods, arrows, function expressions) longer than `max` lines. */
export function longFunctions(files: SourceFile[], max: number): string[] {
  const long: string[] = [];
  for (const f of files) {
    const sf = ts.createSourceFile(f.file, f.text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node)) {
        const start = sf.getLineAndCharacterOfPosition(node.getStart()).line;
        const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
        const lines = end - start + 1;
        if (lines > max) {
          const name = (node as { name?: ts.Node }).name?.getText(sf) ?? nameOfParent(node, sf);
          long.push(`${f.file}:${start + 1} ${name} (${lines} lines)`);
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return long;
}

function nameOfParent(node: ts.Node, sf: ts.SourceFile): string {
  const p = node.parent;
  if (p && (ts.isVariableDeclaration(p) || ts.isPropertyAssignment(p))) return p.name.getText(sf);
  return '<anonymous>';
}

/** Import cycles between files in different folders (each reported once, as its file path). */
export function crossFolderCycles(files: SourceFile[]): string[][] {
  const byFile = new Map(files.map((f) => [f.file, f]));
  const index = new Map<string, number>(); const low = new Map<string, number>();
  const stack: string[] = []; const on = new Set<string>(); let n = 0;
  const sccs: string[][] = [];
  const strong = (v: string) => {
    index.set(v, n); low.set(v, n); n++; stack.push(v); on.add(v);
    for (const w of byFile.get(v)?.imports ?? []) {
      if (!byFile.has(w)) continue;
      if (!index.has(w)) { strong(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = []; let w: string;
      do { w = stack.pop()!; on.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 && new Set(scc.map(folderOf)).size > 1) sccs.push(scc.sort());
    }
  };
  for (const f of files) if (!index.has(f.file)) strong(f.file);
  return sccs;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const files = readSources(path.resolve(process.argv[2] ?? 'src'));
  const pairs = folderPairs(files);
  console.log(`pairs (${pairs.length}):`, pairs.join(' '));
  const cycles = crossFolderCycles(files);
  console.log(`cross-folder cycles: ${cycles.length}`, cycles.map((c) => `${c.length} files: ${c.slice(0, 6).join(', ')}`).join('\n  '));
  console.log('files > 15 KB:', files.filter((f) => f.bytes > 15 * 1024).map((f) => `${f.file} ${(f.bytes / 1024).toFixed(1)}KB`).join(', '));
  const long = longFunctions(files, 80);
  console.log(`functions > 80 lines (${long.length}):\n  ${long.join('\n  ')}`);
}
