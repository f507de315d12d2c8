// The layering docs/architecture.md §2 describes, checked against the code:
// the floors are read from that section's listing (the one home of their
// order), every import of src/ is parsed with TypeScript's own parser, and
// the README's layout section must name what the tree holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../helpers.js';

const src = join(repoRoot, 'src');

/** The floors of docs/architecture.md §2, top first: the `src/X/` lines of its listing. */
function floors(): string[] {
  const doc = readFileSync(join(repoRoot, 'docs', 'architecture.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## 2. Layers'), doc.indexOf('## 3.'));
  const listing = section.match(/```\n([\s\S]*?)```/)?.[1] ?? '';
  return [...listing.matchAll(/^src\/([a-z]+)\//gm)].map((m) => m[1]);
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

interface Import {
  from: string;
  to: string;
  /** Only types cross (erased at run time). */
  typeOnly: boolean;
  /** import('...'): loaded when the code runs, not when the module loads. */
  dynamic: boolean;
}

/** Every relative import and re-export of a src/ file, as src-relative paths of .ts files. */
function importsOf(file: string): Import[] {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: Import[] = [];
  const add = (spec: ts.Expression | undefined, typeOnly: boolean, dynamic: boolean): void => {
    if (!spec || !ts.isStringLiteral(spec) || !spec.text.startsWith('.')) return;
    const to = relative(src, resolve(dirname(file), spec.text)).replace(/\.js$/, '.ts');
    out.push({ from: relative(src, file), to, typeOnly, dynamic });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      const c = node.importClause;
      const named = c?.namedBindings && ts.isNamedImports(c.namedBindings) ? c.namedBindings.elements : undefined;
      const typeOnly = !!c && (c.isTypeOnly || (!c.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly, false);
    } else if (ts.isExportDeclaration(node)) {
      const named = node.exportClause && ts.isNamedExports(node.exportClause) ? node.exportClause.elements : undefined;
      add(node.moduleSpecifier, node.isTypeOnly || (!!named && named.length > 0 && named.every((e) => e.isTypeOnly)), false);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], false, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const files = tsFiles(src);
const imports = files.flatMap(importsOf);
/** src/X/... -> X; src/index.ts (the package entry) is above every floor. */
const floorOf = (path: string): string => (path.includes('/') ? path.split('/')[0] : '(entry)');

test('docs/architecture.md lists every folder of src/ as a floor, and only those', () => {
  const listed = floors();
  const dirs = readdirSync(src).filter((d) => statSync(join(src, d)).isDirectory());
  assert.ok(listed.length >= 10, `found ${listed.length} floors in docs/architecture.md §2`);
  assert.deepEqual([...listed].sort(), [...dirs].sort(), 'the floors of docs/architecture.md §2 against the folders of src/');
});

test('each floor imports only from the floors below it (docs/architecture.md §2)', () => {
  const order = floors();
  const rank = (f: string): number => (f === '(entry)' ? -1 : order.indexOf(f));
  const upward = imports.filter((i) => floorOf(i.from) !== floorOf(i.to) && rank(floorOf(i.from)) > rank(floorOf(i.to)));
  assert.deepEqual(
    upward.map((i) => `${i.from} -> ${i.to}`),
    [],
    `imports going up (floors top first: ${order.join(', ')})`,
  );
});

test('no two files import each other, not even only for a type (static imports; a cycle of any length is named)', () => {
  const graph = new Map<string, string[]>();
  for (const i of imports) if (!i.dynamic) graph.set(i.from, [...(graph.get(i.from) ?? []), i.to]);
  // Tarjan's strongly connected components: any with more than one file is a cycle.
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const connect = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) cycles.push(scc.sort());
    }
  };
  for (const f of graph.keys()) if (!idx.has(f)) connect(f);
  assert.deepEqual(cycles, [], 'files that import each other (directly or round a cycle)');
});

test('every relative import names a file that exists', () => {
  const known = new Set(files.map((f) => relative(src, f)));
  assert.deepEqual(
    imports.filter((i) => !known.has(i.to)).map((i) => `${i.from} -> ${i.to}`),
    [],
  );
});

test('the rules of docs/architecture.md §2: patterns/ without the engine, train/ without patterns, the addon only from engine/', () => {
  const reaches = (fromFloor: string, toFloor: string): string[] =>
    imports.filter((i) => floorOf(i.from) === fromFloor && floorOf(i.to) === toFloor).map((i) => `${i.from} -> ${i.to}`);
  assert.deepEqual(reaches('patterns', 'engine'), [], 'src/patterns/ needs no engine');
  assert.deepEqual(reaches('train', 'patterns'), [], 'src/train/ knows nothing about patterns');
  const loadsAddon = files.filter((f) => /native\/build\//.test(readFileSync(f, 'utf8'))).map((f) => relative(src, f));
  assert.ok(loadsAddon.length > 0 && loadsAddon.every((f) => floorOf(f) === 'engine'), `files naming the addon: ${loadsAddon.join(', ')}`);
});

test("the README's layout section names every folder of src/ and of the repository", () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('- Layout');
  assert.ok(start >= 0, "the README has a '- Layout' item");
  const layout = readme.slice(start, readme.indexOf('\n\n', start));
  const srcDirs = readdirSync(src).filter((d) => statSync(join(src, d)).isDirectory());
  assert.deepEqual(srcDirs.filter((d) => !layout.includes(`src/${d}/`)), [], 'src/ folders the layout does not name');
  // Folders the checkout ignores (.gitignore's top-level folder lines, e.g. dist/, .dist-*/) are no part of the layout.
  const ignored = readFileSync(join(repoRoot, '.gitignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim().replace(/^\//, ''))
    .filter((l) => /^[^#!/][^/]*\/$/.test(l))
    .map((l) => new RegExp(`^${l.slice(0, -1).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`));
  const topDirs = readdirSync(repoRoot).filter((d) => d !== '.git' && statSync(join(repoRoot, d)).isDirectory() && !ignored.some((re) => re.test(d)));
  assert.deepEqual(topDirs.filter((d) => !layout.includes(`${d}/`)), [], 'top-level folders the layout does not name');
  const named = [...layout.matchAll(/`\.?([a-z]+)\/`/g)].map((m) => m[1]);
  const missing = named.filter((d) => !readdirSync(repoRoot).includes(d) && !readdirSync(repoRoot).includes(`.${d}`));
  assert.deepEqual(missing, [], 'folders the layout names that the tree does not hold');
});
