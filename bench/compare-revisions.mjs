#!/usr/bin/env node
// Runs one benchmark at two git revisions, alternating, on this machine in one
// sitting, and reports the head/base ratio of every figure: "no slower" as a
// ratio measured side by side, not against a number from another day.
//
//   node bench/compare-revisions.mjs --base 61b28a0^1 --bench masks --runs 3 -- --rounds 12
//
// Both revisions are checked out as detached worktrees under
// runs/compare-revisions/ and built there (tsc; the native addon is linked
// from this checkout when native/ is the same, else built). Both run the head
// revision's bench/<name>/ and bench/*.ts (copied over the base's), so the measurement is the
// same and only the code under test differs; a bench the base cannot compile
// is an error. Runs alternate base, head, head, base, ... so drift hits both
// alike. Each run is `node dist/bench/<name>/run.js --json <args>`; every
// numeric figure of its JSON (per-round arrays and settings aside) is
// compared: base and head medians over the runs and the median of the
// per-pair head/base ratios. --out writes it all as JSON.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const USAGE = `usage: node bench/compare-revisions.mjs --base REV [--head REV] --bench NAME [--runs N] [--keys REGEX] [--out FILE] [--keep] [-- BENCH ARGS]
  --base REV    the revision to compare against (e.g. a commit before a change)
  --head REV    the revision under test (default HEAD)
  --bench NAME  a directory of bench/ with a run.ts that prints one JSON object with --json
  --runs N      runs of each revision, alternating (default 3)
  --keys REGEX  which figures the table shows (default: all); the JSON has them all
  --out FILE    write the comparison as JSON
  --keep        keep the worktrees (default: removed at the end)`;

function usage(message) {
  process.stderr.write(`compare-revisions: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { base: null, head: 'HEAD', bench: null, runs: 3, keys: null, out: null, keep: false, benchArgs: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--') {
      o.benchArgs = argv.slice(i + 1);
      break;
    } else if (a === '--base') o.base = value();
    else if (a === '--head') o.head = value();
    else if (a === '--bench') o.bench = value();
    else if (a === '--runs') {
      const v = value();
      if (!/^[1-9]\d*$/.test(v)) usage(`--runs must be a positive integer, got '${v}'`);
      o.runs = Number(v);
    } else if (a === '--keys') {
      try {
        o.keys = new RegExp(value());
      } catch (e) {
        usage(`--keys: ${e.message}`);
      }
    } else if (a === '--out') o.out = resolve(value());
    else if (a === '--keep') o.keep = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else usage(`unknown argument '${a}'`);
  }
  if (!o.base) usage('--base is required');
  if (!o.bench) usage('--bench is required');
  if (!existsSync(join(root, 'bench', o.bench, 'run.ts'))) usage(`bench/${o.bench}/run.ts does not exist`);
  return o;
}

function run(cmd, args, cwd, what) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    process.stderr.write(`compare-revisions: ${what} failed (${cmd} ${args.join(' ')} in ${relative(root, cwd) || '.'}):\n${r.stderr || r.stdout}\n`);
    process.exit(1);
  }
  return r.stdout;
}

const git = (...args) => run('git', args, root, `git ${args[0]}`).trim();

/** A built checkout of `commit` under runs/compare-revisions/. */
function prepare(commit, headCommit, benchName) {
  const dir = join(root, 'runs', 'compare-revisions', commit.slice(0, 12));
  if (existsSync(dir)) run('git', ['worktree', 'remove', '--force', dir], root, 'removing an old worktree');
  mkdirSync(dirname(dir), { recursive: true });
  run('git', ['worktree', 'add', '--detach', dir, commit], root, `checking out ${commit.slice(0, 12)}`);
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  // The same measurement on both sides: the head revision's bench and the files
  // shared by the benches (bench/*.ts, e.g. the patterns they apply).
  if (commit !== headCommit) {
    rmSync(join(dir, 'bench', benchName), { recursive: true, force: true });
    const shared = git('ls-tree', '--name-only', headCommit, 'bench/').split('\n').filter((f) => f.endsWith('.ts'));
    run('git', ['checkout', headCommit, '--', `bench/${benchName}`, ...shared], dir, 'copying the head bench');
    run('git', ['reset', '-q'], dir, 'unstaging the copied bench');
  }
  const sameNative = spawnSync('git', ['diff', '--quiet', commit, 'HEAD', '--', 'native'], { cwd: root }).status === 0;
  if (sameNative && existsSync(join(root, 'native', 'build'))) symlinkSync(join(root, 'native', 'build'), join(dir, 'native', 'build'));
  else {
    process.stderr.write(`compare-revisions: building the native addon of ${commit.slice(0, 12)} (native/ differs from this checkout's)\n`);
    run(process.execPath, ['scripts/build-native.mjs'], dir, 'the native build');
  }
  process.stderr.write(`compare-revisions: tsc in ${relative(root, dir)}\n`);
  run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dir, `building ${commit.slice(0, 12)} (does the head bench compile against it?)`);
  return dir;
}

/** Every numeric leaf of a bench's JSON as 'a.b.c' -> number, per-round arrays and settings left out. */
function figures(obj, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(obj)) {
    if (/^perRound|^settings$/.test(k)) continue;
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'number' && Number.isFinite(v)) out[key] = v;
    else if (v && typeof v === 'object' && !Array.isArray(v)) figures(v, key, out);
  }
  return out;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function main() {
  const o = parseArgs(process.argv.slice(2));
  const base = git('rev-parse', '--verify', `${o.base}^{commit}`);
  const head = git('rev-parse', '--verify', `${o.head}^{commit}`);
  if (base === head) usage(`--base and --head are the same commit (${base.slice(0, 12)})`);
  const dirs = { base: prepare(base, head, o.bench), head: prepare(head, head, o.bench) };
  const results = { base: [], head: [] };
  for (let i = 0; i < o.runs; i++) {
    for (const side of i % 2 === 0 ? ['base', 'head'] : ['head', 'base']) {
      const t0 = performance.now();
      const stdout = run(process.execPath, [join('dist', 'bench', o.bench, 'run.js'), '--json', ...o.benchArgs], dirs[side], `bench:${o.bench} at ${side}`);
      const line = stdout.trim().split('\n').at(-1);
      results[side].push(figures(JSON.parse(line)));
      process.stderr.write(`compare-revisions: run ${i + 1}/${o.runs} ${side}: ${((performance.now() - t0) / 1000).toFixed(0)} s (load ${loadavg()[0].toFixed(2)})\n`);
    }
  }
  const keys = Object.keys(results.head[0]).filter((k) => k in results.base[0]);
  const rows = keys.map((k) => {
    const b = results.base.map((r) => r[k]);
    const h = results.head.map((r) => r[k]);
    return { figure: k, base: median(b), head: median(h), ratio: median(h.map((v, i) => v / b[i])), baseRuns: b, headRuns: h };
  });
  const report = {
    bench: o.bench,
    base: { rev: o.base, commit: base },
    head: { rev: o.head, commit: head },
    runs: o.runs,
    benchArgs: o.benchArgs,
    cpus: cpus().length,
    loadAverageAtEnd: loadavg()[0],
    figures: rows,
  };
  if (o.out) {
    mkdirSync(dirname(o.out), { recursive: true });
    writeFileSync(o.out, `${JSON.stringify(report, null, 1)}\n`);
  }
  const shown = rows.filter((r) => !o.keys || o.keys.test(r.figure));
  const fmt = (v) => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toPrecision(4));
  process.stdout.write(
    [
      `bench:${o.bench} ${o.benchArgs.join(' ')}: base ${o.base} (${base.slice(0, 12)}) vs head ${o.head} (${head.slice(0, 12)}), ${o.runs} run(s) each, alternating`,
      '| figure | base (median) | head (median) | head / base (median of pairs) |',
      '|---|---|---|---|',
      ...shown.map((r) => `| ${r.figure} | ${fmt(r.base)} | ${fmt(r.head)} | ${r.ratio.toFixed(3)} |`),
    ].join('\n') + '\n',
  );
  if (!o.keep) for (const dir of Object.values(dirs)) run('git', ['worktree', 'remove', '--force', dir], root, 'removing a worktree');
}

main();
