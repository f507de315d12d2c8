// `autodropout demo` (what `npm start` runs) end to end, shrunk to tiny real
// children (wrn-10-1, 64 images, 1 epoch): the rl search, then the found
// pattern, none and DropBlock on the seeds after the search's, measured on the
// test split; the exported pattern and its picture; a second run reprints the
// same comparison without training anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadPatternFile } from '../../src/patterns/io.js';
import { runCli, tempDir } from '../helpers.js';

interface DemoJson {
  trials: number;
  counts: { done: number };
  best: { trialId: number; reward: number };
  comparison: {
    seeds: number[];
    patterns: { pattern: string; role: string; n: number; values: (number | null)[] }[];
    bestBaseline: string;
    versus: { pattern: string; baseline: string; n: number } | null;
    files: { json: string; md: string; png: string };
  };
  exported: string;
  picture: string;
  searchTiming: { trialsFinished: number };
}

const tiny = ['--trials', '2', '--seeds', '2', '--epochs', '1', '--train-limit', '64', '--val-size', '64', '--seed', '0', '--json'];

test('demo: search, then the found pattern against none and DropBlock on unseen seeds, on the test split; a rerun trains nothing', { timeout: 600_000 }, async () => {
  const out = join(tempDir(), 'demo');
  const first = await runCli(['demo', ...tiny, '--out', out]);
  assert.equal(first.code, 0, first.stderr);
  const r = JSON.parse(first.stdout) as DemoJson;
  assert.equal(r.trials, 2);
  assert.equal(r.counts.done, 2);
  // Seeds after the search's child seed (0): the comparison never reuses the search's runs.
  assert.deepEqual(r.comparison.seeds, [1, 2]);
  assert.deepEqual(r.comparison.patterns.map((p) => p.pattern).sort(), ['dropblock', 'found pattern', 'none']);
  for (const p of r.comparison.patterns) {
    assert.equal(p.n, 2, `${p.pattern}: one test value per seed`);
    for (const v of p.values) assert.ok(v !== null && v >= 0 && v <= 1, `${p.pattern}: a test accuracy`);
  }
  assert.equal(r.comparison.patterns.find((p) => p.pattern === 'found pattern')?.role, 'candidate');
  assert.ok(r.comparison.versus !== null && r.comparison.versus.n === 2, 'a paired comparison over both seeds');
  for (const f of [r.comparison.files.md, r.comparison.files.png, r.exported, r.picture]) assert.ok(existsSync(f), `${f} written`);
  // The exported pattern is the search's best and validates on load.
  assert.equal(loadPatternFile(r.exported).provenance?.trialId, r.best.trialId);

  const again = await runCli(['demo', ...tiny, '--out', out]);
  assert.equal(again.code, 0, again.stderr);
  const r2 = JSON.parse(again.stdout) as DemoJson;
  assert.equal(r2.searchTiming.trialsFinished, 0, 'the finished search is reprinted, not retrained');
  assert.deepEqual(r2.comparison.patterns, r.comparison.patterns, 'the same comparison, from the stored runs');
});
