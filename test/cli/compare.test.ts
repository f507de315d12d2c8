// `autodropout compare` and `report` end to end with tiny real children
// (MNIST wrn-10-1, 256 images, 1 epoch): a comparison with a tuned baseline,
// a pattern file and a search study's best trial, on 2 local workers, writing
// results.json/md/png, then `report` on its database; the compare process
// killed with SIGKILL once the database holds its second finished run, then
// rerun: every run once, the finished ones untouched, and the same results as
// an uninterrupted comparison; usage errors exit 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { CompareResults } from '../../src/compare/results.js';
import { savePatternFile } from '../../src/patterns/io.js';
import { getPreset } from '../../src/patterns/presets.js';
import { SearchStore, type TrialRecord } from '../../src/search/store.js';
import { Study } from '../../src/search/study.js';
import { runCli as runCliWith, tempDir, type CliRun } from '../helpers.js';
import { fakeOutcome } from '../search/fixtures.js';

const TIMEOUT_MS = 300_000;
const runCli = (args: readonly string[], until?: (stderr: string, pid: number) => NodeJS.Signals | null): Promise<CliRun> => runCliWith(args, { timeoutMs: TIMEOUT_MS, until });
const child = ['--task', 'mnist', '--model', 'wrn-10-1', '--train-limit', '256', '--val-size', '256', '--epochs', '1'];

const readResults = (dir: string): CompareResults => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as CompareResults;

/** Every trial of every study in a database, by study name. */
function allTrials(db: string): { study: string; t: TrialRecord }[] {
  const store = SearchStore.open(db, { readonly: true });
  try {
    return store.listStudies().flatMap((s) => store.trials(s.id).map((t) => ({ study: s.name, t })));
  } finally {
    store.close();
  }
}

/** A search database with one random study told fake outcomes (no training): best:DB's source. */
function searchDb(path: string): void {
  const s = Study.open(path, { name: 'rnd', strategy: 'random', space: 'tile', trials: 4, seed: 1, updateEvery: 1, prune: 'none', codeVersion: 'test', child: { task: 'mnist', model: 'wrn-10-1', epochs: 1, childSeed: 0 } });
  for (let k = 0; k < 4; k++) {
    const p = s.ask();
    s.markRunning(p.trialId, 'w');
    s.tell(p.trialId, fakeOutcome(k % 3, p.tokens));
  }
  s.close();
}

test('compare: a tuned baseline, a file and best:DB over 2 seeds on 2 workers -> results.json/md/png; report on its database', async () => {
  const dir = tempDir();
  const out = join(dir, 'out');
  const file = join(dir, 'spatial.json');
  savePatternFile(file, getPreset('spatial'));
  const search = join(dir, 'search.db');
  searchDb(search);
  const args = ['compare', ...child, '--patterns', `none,${file},best:${search}`, '--grid', 'dropout:rate=0.05,0.3', '--seeds', '2', '--workers', '2', '--out', out, '--json'];
  const r = await runCli(args);
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(r.stdout) as { complete: boolean; bestBaseline: string; comparisons: { pattern: string; n: number }[] };
  assert.equal(summary.complete, true);
  for (const f of ['results.json', 'results.md', 'results.png']) assert.ok(existsSync(join(out, f)), f);
  const png = await sharp(join(out, 'results.png')).metadata();
  assert.equal(png.format, 'png');

  const res = readResults(out);
  assert.deepEqual(res.seeds, [0, 1]);
  // The grid: both points trained once at seed 0 without the test split; the winner is the one with the higher validation accuracy.
  const g = res.grids[0];
  assert.deepEqual(
    g.points.map((p) => p.state),
    ['done', 'done'],
  );
  const best = g.points.reduce((a, b) => (b.val! > a.val! ? b : a));
  assert.equal(g.winner, best.label);
  assert.deepEqual(
    res.patterns.map((p) => [p.label, p.role, p.n]),
    [
      ['none', 'baseline', 2],
      [best.label, 'baseline', 2],
      [file, 'candidate', 2],
      ['best:search:rnd', 'candidate', 2],
    ],
  );
  assert.equal(res.runs.length, 8);
  for (const run of res.runs) {
    assert.equal(run.state, 'done');
    assert.equal(run.epochs.length, 1);
    assert.ok(run.test !== null && run.test >= 0 && run.test <= 1 && run.testMetrics!.accuracy === run.test);
    assert.ok(run.seconds! > 0 && run.wallSeconds! >= run.seconds!);
  }
  // Seed k of a pattern is child seed k: the same seed gives the same data order, so "none" differs across seeds.
  assert.notDeepEqual(res.runs.filter((x) => x.pattern === 'none').map((x) => x.test), [null, null]);
  assert.ok(res.bestBaseline === 'none' || res.bestBaseline === best.label);
  assert.equal(summary.comparisons.length, 3);
  const md = readFileSync(join(out, 'results.md'), 'utf8');
  assert.match(md, /## Against the best baseline: /);
  assert.match(md, new RegExp(`\\*\\*${best.label.replace(/[[\]().]/g, '\\$&')}\\*\\* won`));
  // best:DB was exported into the output folder with its provenance.
  assert.ok(existsSync(join(out, 'patterns', 'best_search_rnd.json')));

  const rep = await runCli(['report', '--db', join(out, 'compare.db'), '--out', join(dir, 'report'), '--top', '3']);
  assert.equal(rep.code, 0, rep.stderr);
  for (const f of ['report.md', 'best-vs-trials.png', 'best-vs-child-epochs.png', 'top-1-' ]) assert.ok(rep.stdout.includes(f), `${f} in ${rep.stdout}`);
});

test('compare killed with SIGKILL after its second finished run, then rerun: every run once, nothing lost, the results of an uninterrupted run', async () => {
  const dir = tempDir();
  const args = (out: string) => ['compare', ...child, '--patterns', 'none,preset:dropout', '--seeds', '3', '--workers', '2', '--out', out];
  const killed = join(dir, 'killed');
  const db = join(killed, 'compare.db');
  const first = await runCli(args(killed), () => {
    if (!existsSync(db)) return null;
    const finished = allTrials(db).filter((x) => x.t.state === 'done');
    return finished.length >= 2 && allTrials(db).some((x) => x.t.state === 'running') ? 'SIGKILL' : null;
  });
  assert.equal(first.signal, 'SIGKILL', first.stderr);
  assert.ok(!existsSync(join(killed, 'results.json')), 'no results from a killed run');
  const before = allTrials(db);
  const doneBefore = before.filter((x) => x.t.state === 'done');
  assert.ok(doneBefore.length >= 2 && doneBefore.length < 6, `${doneBefore.length} done at the kill`);

  const again = await runCli(args(killed));
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stderr, /continuing: run\(s\) [\d, ]+ were running when the last session stopped/);
  const after = allTrials(db);
  assert.deepEqual(
    after.map((x) => x.t.id).sort((a, b) => a - b),
    [1, 2, 3, 4, 5, 6],
  );
  assert.ok(after.every((x) => x.t.state === 'done'));
  for (const d of doneBefore) assert.deepEqual(after.find((x) => x.t.id === d.t.id), d, `run ${d.t.id} changed after the rerun`);
  const seen = after.map((x) => `${x.study}#${x.t.askOrder}`).sort();
  assert.deepEqual(seen, ['dropout#0', 'dropout#1', 'dropout#2', 'none#0', 'none#1', 'none#2']);

  // The same comparison without a kill: the same numbers, run by run.
  const clean = join(dir, 'clean');
  const ref = await runCli(args(clean));
  assert.equal(ref.code, 0, ref.stderr);
  const strip = (r: CompareResults) =>
    r.runs.map((x) => ({ pattern: x.pattern, seed: x.seed, test: x.test, testMetrics: x.testMetrics, val: x.val, epochs: x.epochs.map((e) => ({ ...e, seconds: 0 })) }));
  const a = readResults(killed);
  const b = readResults(clean);
  assert.deepEqual(strip(a), strip(b));
  assert.deepEqual(
    a.patterns.map((p) => [p.label, p.values, p.mean, p.std]),
    b.patterns.map((p) => [p.label, p.values, p.mean, p.std]),
  );
  assert.deepEqual(a.comparisons, b.comparisons);
});

test('compare usage errors exit 2 naming the flag', async () => {
  const out = join(tempDir(), 'x');
  const cases: [string[], RegExp][] = [
    [['compare', '--task', 'mnist', '--out', out], /nothing to compare: give --patterns/],
    [['compare', '--task', 'mnist', '--patterns', 'none,nope', '--out', out], /--patterns nope: not a preset/],
    [['compare', '--task', 'mnist', '--patterns', 'preset:span-example', '--out', out], /span-example cannot act on wrn-10-1/],
    [['compare', '--task', 'mnist', '--grid', 'dropblock:size=3', '--out', out], /preset dropblock has no field 'size'/],
    [['compare', '--task', 'mnist', '--grid', 'dropout:rate=0.1', '--grid', 'dropout:rate=0.2', '--out', out], /two --grid for preset dropout/],
    [['compare', '--task', 'mnist', '--patterns', 'none', '--seq-len', '8', '--out', out], /--seq-len and --vocab-size are for language tasks/],
    [['compare', '--task', 'mnist', '--patterns', 'none'], /required option '--out <dir>'/],
  ];
  for (const [args, re] of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
  }
  const dry = await runCli(['compare', '--task', 'mnist', '--patterns', 'none,preset:dropblock', '--first-seed', '3', '--seeds', '2', '--out', out, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  const plan = JSON.parse(dry.stdout) as { child: { childSeed: number }; seeds: number; db: string };
  assert.deepEqual([plan.child.childSeed, plan.seeds, plan.db], [3, 2, join(out, 'compare.db')]);
  assert.ok(!existsSync(out), 'a dry run writes nothing');
  const rep = await runCli(['report', '--db', join(out, 'none.db'), '--out', out]);
  assert.equal(rep.code, 2);
  assert.match(rep.stderr, /--db .*none\.db: no such file/);
});
