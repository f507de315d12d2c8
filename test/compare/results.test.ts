// compare's orchestration and results with a fake executor (no child is
// trained; every run's validation and test values come from a table): the
// grid's points train first and the validation-best one becomes the tuned
// baseline (accuracy: highest; perplexity: lowest), every pattern × seed runs
// once, the summary and the paired tests equal the statistics of the table,
// a rerun trains nothing, and a pattern file edited after its runs is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { parseGrid } from '../../src/compare/grid.js';
import { resolvePatternRefs } from '../../src/compare/patterns.js';
import { readResults as results, writeResults } from '../../src/compare/results.js';
import { runCompare, type CompareSetup } from '../../src/compare/run.js';
import { pairedTest, summarize } from '../../src/compare/stats.js';
import { savePatternFile } from '../../src/patterns/io.js';
import { getPreset } from '../../src/patterns/presets.js';
import type { Executor, TrialSpec } from '../../src/search/executors/types.js';
import { createSearchProgress } from '../../src/search/progress.js';
import type { ChildTrainConfig, TrialOutcome } from '../../src/search/types.js';
import { tempDir } from '../helpers.js';

const quiet = createSearchProgress({ quiet: true });

/** A pattern's identity in the fake tables: the dropblock keepProb / the rate of its first slot, or its kind. */
function key(spec: TrialSpec): string {
  const p = Object.values(spec.pattern.slots)[0];
  if (p.kind === 'dropblock') return `dropblock:${p.keepProb}`;
  if (p.kind === 'dropout' || p.kind === 'spatial' || p.kind === 'variational') return `${p.kind}:${p.rate}`;
  return p.kind;
}

/**
 * Trains nothing: reports every epoch and returns the table's values for the
 * spec's pattern and seed (`val` on validation, `test` when asked for).
 */
function fakeExecutor(table: (k: string, seed: number) => { val: number; test: number }, metric: 'accuracy' | 'perplexity', log: TrialSpec[]): Executor {
  const m = (x: number) => (metric === 'accuracy' ? { loss: 1 - x, accuracy: x } : { loss: Math.log(x), perplexity: x });
  return {
    kind: 'fake',
    capacity: 2,
    async run(spec, events): Promise<TrialOutcome> {
      log.push(spec);
      events.onStart('fake');
      await new Promise((r) => setImmediate(r));
      const v = table(key(spec), spec.child.childSeed);
      for (let epoch = 1; epoch <= spec.child.epochs; epoch++) {
        const reward = metric === 'accuracy' ? v.val : 80 / v.val;
        await events.onEpoch({ epoch, value: reward, trainLoss: 0.5, val: m(v.val), seconds: 0.1 });
      }
      return { state: 'done', reward: metric === 'accuracy' ? v.val : 80 / v.val, val: m(v.val), trainSeconds: 0.2, ...(spec.evaluateTest ? { test: m(v.test) } : {}) };
    },
    async close() {},
  };
}

async function setupFor(child: ChildTrainConfig, refs: string[], grids: string[], seeds: number, dir: string): Promise<CompareSetup> {
  return { child, patterns: await resolvePatternRefs(refs, join(dir, 'patterns')), grids: grids.map(parseGrid), seeds, codeVersion: 'test' };
}

test('images: the grid picks the validation-best point; summary and paired tests equal the table; a rerun trains nothing', async () => {
  const dir = tempDir();
  const db = join(dir, 'compare.db');
  const cand = join(dir, 'cand.json');
  savePatternFile(cand, getPreset('spatial'));
  const child: ChildTrainConfig = { task: 'mnist', model: 'wrn-10-1', epochs: 2, childSeed: 0 };
  const setup = await setupFor(child, ['none', 'preset:dropout', cand], ['dropblock:keepProb=0.8,0.9,0.95'], 3, dir);
  // Validation on the grid: 0.9 is best (0.93) even though 0.95 is best on test (never looked at).
  const gridVal: Record<string, number> = { 'dropblock:0.8': 0.9, 'dropblock:0.9': 0.93, 'dropblock:0.95': 0.91 };
  const testBy: Record<string, number[]> = {
    none: [0.9, 0.91, 0.905],
    'dropout:0.1': [0.92, 0.915, 0.925],
    'dropblock:0.9': [0.93, 0.925, 0.94],
    'dropblock:0.95': [0.99, 0.99, 0.99],
    'spatial:0.1': [0.94, 0.935, 0.955],
  };
  const log: TrialSpec[] = [];
  const ex = fakeExecutor((k, seed) => ({ val: gridVal[k] ?? 0.5, test: testBy[k]?.[seed] ?? 0 }), 'accuracy', log);
  const run = await runCompare(setup, { db, out: dir, workers: 2, executor: ex, progress: quiet, handleSignals: false });
  assert.equal(run.interrupted, null);
  // 3 grid points once, then 4 patterns × 3 seeds.
  assert.equal(run.finished, 3 + 4 * 3);
  const grid = log.slice(0, 3);
  assert.deepEqual(
    grid.map((s) => [key(s), s.child.childSeed, s.evaluateTest]),
    [
      ['dropblock:0.8', 0, false],
      ['dropblock:0.9', 0, false],
      ['dropblock:0.95', 0, false],
    ],
  );
  assert.ok(log.slice(3).every((s) => s.evaluateTest), 'every seeded run evaluates the test split');
  assert.ok(!log.some((s) => key(s) === 'dropblock:0.95' && s.evaluateTest), 'the grid points that lost never run on test');

  const r = results(db, setup);
  assert.equal(r.complete, true);
  assert.deepEqual(r.metric, { name: 'accuracy', better: 'higher' });
  assert.deepEqual(r.grids.map((g) => g.winner), ['dropblock[keepProb=0.9]']);
  assert.deepEqual(r.grids[0].points.map((p) => p.val), [0.9, 0.93, 0.91]);
  assert.deepEqual(
    r.patterns.map((p) => [p.label, p.role, p.tuned?.setting ?? null]),
    [
      ['none', 'baseline', null],
      ['dropout', 'baseline', null],
      ['dropblock[keepProb=0.9]', 'baseline', { keepProb: 0.9 }],
      [cand, 'candidate', null],
    ],
  );
  for (const p of r.patterns) {
    const want = testBy[p.label === 'none' ? 'none' : p.label === 'dropout' ? 'dropout:0.1' : p.label === cand ? 'spatial:0.1' : 'dropblock:0.9'];
    assert.deepEqual(p.values, want, p.label);
    assert.deepEqual([p.mean, p.std], [summarize(want).mean, summarize(want).std], p.label);
  }
  assert.equal(r.bestBaseline, 'dropblock[keepProb=0.9]');
  const c = r.comparisons.find((x) => x.pattern === cand)!;
  const want = pairedTest(testBy['spatial:0.1'], testBy['dropblock:0.9']);
  assert.deepEqual({ ...c, pattern: undefined, baseline: undefined, wins: undefined, seeds: undefined }, { ...want, pattern: undefined, baseline: undefined, wins: undefined, seeds: undefined });
  assert.deepEqual([c.baseline, c.wins, c.seeds], ['dropblock[keepProb=0.9]', 3, [0, 1, 2]]);
  assert.equal(r.runs.length, 12);
  assert.ok(r.runs.every((x) => x.epochs.length === 2 && x.epochs[1].val.accuracy !== undefined));

  // The three files.
  const out = join(dir, 'out');
  const files = await writeResults(out, r);
  assert.deepEqual(JSON.parse(readFileSync(files.json, 'utf8')), JSON.parse(JSON.stringify(r)));
  const md = readFileSync(files.md, 'utf8');
  assert.match(md, /\| \*\*dropblock\[keepProb=0\.9\]\*\* \| baseline \(tuned\) \| 3 \| 93\.17% ± 0\.76 \|/);
  assert.match(md, /## Tuned baseline: --grid 'dropblock:keepProb=0\.8,0\.9,0\.95'/);
  assert.match(md, new RegExp(`\\| ${cand.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\| candidate \\| \\+1\\.17 pp ± 0\\.29 \\| 3/3 seeds \\|`));
  const png = await sharp(files.png).metadata();
  assert.equal(png.format, 'png');
  assert.ok(png.width! > 400 && png.height! > 100, `${png.width}x${png.height}`);

  // Rerunning continues from the database: nothing left to train, the same results.
  const again = await runCompare(setup, { db, out: dir, workers: 2, executor: fakeExecutor(() => assert.fail('nothing should train'), 'accuracy', []), progress: quiet, handleSignals: false });
  assert.equal(again.finished, 0);
  assert.deepEqual(results(db, setup), r);

  // More seeds extend the same studies: only the new seed trains.
  const more = await runCompare({ ...setup, seeds: 4 }, { db, out: dir, workers: 2, executor: ex, progress: quiet, handleSignals: false });
  assert.equal(more.finished, 4);
  // Fewer seeds again: nothing trains, the target is not lowered, and the results are the first 3 seeds' as before.
  const fewer = await runCompare(setup, { db, out: dir, workers: 2, executor: fakeExecutor(() => assert.fail('nothing should train'), 'accuracy', []), progress: quiet, handleSignals: false });
  assert.equal(fewer.finished, 0);
  assert.deepEqual(results(db, setup), r);

  // The database copied into another output folder continues there: the
  // grid's and the candidates' files have other paths but the same patterns.
  const moved = join(dir, 'moved');
  mkdirSync(moved);
  const movedDb = join(moved, 'compare.db');
  copyFileSync(db, movedDb);
  const movedSetup = await setupFor(child, ['none', 'preset:dropout', cand], ['dropblock:keepProb=0.8,0.9,0.95'], 3, moved);
  const there = await runCompare(movedSetup, { db: movedDb, out: moved, workers: 2, executor: fakeExecutor(() => assert.fail('nothing should train'), 'accuracy', []), progress: quiet, handleSignals: false });
  assert.equal(there.finished, 0);
  assert.deepEqual(results(movedDb, movedSetup).patterns, r.patterns);

  // A pattern file edited after its runs trained is refused, naming it.
  savePatternFile(cand, getPreset('dropout'));
  const edited = await setupFor(child, ['none', 'preset:dropout', cand], ['dropblock:keepProb=0.8,0.9,0.95'], 3, dir);
  await assert.rejects(runCompare(edited, { db, out: dir, workers: 2, executor: ex, progress: quiet, handleSignals: false }), /runs of '.*cand\.json' trained another pattern than .*cand\.json holds now/);
});

test('language models: perplexity, lower is better, for the grid, the best baseline and the differences', async () => {
  const dir = tempDir();
  const db = join(dir, 'lm.db');
  const child: ChildTrainConfig = { task: 'sotu', model: 'tlm-1-32', epochs: 1, childSeed: 0 };
  const setup = await setupFor(child, ['none', 'variational'], ['variational:rate=0.1,0.2,0.3'], 2, dir);
  const val: Record<string, number> = { 'variational:0.1': 120, 'variational:0.2': 110, 'variational:0.3': 115 };
  const testBy: Record<string, number[]> = { none: [130, 128], 'variational:0.1': [125, 124], 'variational:0.2': [118, 119] };
  const ex = fakeExecutor((k, seed) => ({ val: val[k] ?? 999, test: testBy[k]?.[seed] ?? 999 }), 'perplexity', []);
  await runCompare(setup, { db, out: dir, workers: 1, executor: ex, progress: quiet, handleSignals: false });
  const r = results(db, setup);
  assert.deepEqual(r.metric, { name: 'perplexity', better: 'lower' });
  assert.equal(r.grids[0].winner, 'variational[rate=0.2]');
  assert.equal(r.bestBaseline, 'variational[rate=0.2]');
  const none = r.comparisons.find((c) => c.pattern === 'none')!;
  assert.equal(none.meanDiff, 10.5);
  assert.equal(none.wins, 0, 'none has the higher perplexity on both seeds');
  const md = (await writeResults(join(dir, 'out'), r)).md;
  assert.match(readFileSync(md, 'utf8'), /test perplexity \(lower is better\)/);
  assert.ok(existsSync(join(dir, 'out', 'results.png')));
});

test('--grid and --patterns errors name the entry and the fix', async () => {
  assert.throws(() => parseGrid('dropblok:keepProb=0.9'), /unknown preset 'dropblok'; valid: .*dropblock/);
  assert.throws(() => parseGrid('dropblock:size=3'), /preset dropblock has no field 'size'; its fields: blockSize, keepProb/);
  assert.throws(() => parseGrid('dropblock:keepProb=0.9,1.5'), /keepProb/);
  assert.throws(() => parseGrid('dropblock'), /expected PRESET:field=v1,v2/);
  assert.throws(() => parseGrid('dropout:rate=0.1,0.1'), /repeats a value/);
  const g = parseGrid('dropblock:blockSize=3,5;keepProb=0.8,0.9');
  assert.equal(g.params.length, 2);
  await assert.rejects(resolvePatternRefs(['none', 'none'], tempDir()), /names none twice/);
  await assert.rejects(resolvePatternRefs(['nope'], tempDir()), /not a preset .* a pattern file \(FILE\.json\) or best:DB\[:STUDY\]/);
  await assert.rejects(resolvePatternRefs(['best:/no/such.db'], tempDir()), /no search database at \/no\/such\.db/);
});
