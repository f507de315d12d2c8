// Status summaries and exporting the best pattern with provenance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadPatternFile } from '../../src/patterns/io.js';
import { exportBest, studySummary } from '../../src/search/status.js';
import { Study } from '../../src/search/study.js';
import { tempDir } from '../helpers.js';
import { imageConfig, lmConfig, runOps, schedule } from './fixtures.js';

test('studySummary: counts, best trial, controller version, throughput, failures', () => {
  const path = join(tempDir(), 's.db');
  let now = Date.UTC(2025, 0, 1);
  const s = Study.open(path, lmConfig(), { store: { now: () => (now += 60_000) } });
  runOps(s, schedule(12, 2), new Map());
  const q = s.ask();
  s.markRunning(q.trialId, 'w9');
  s.close();
  const sum = studySummary(path);
  assert.equal(sum.name, 'lm');
  assert.equal(sum.strategy, 'rl');
  assert.equal(sum.reward, 'inverse-perplexity');
  assert.deepEqual(sum.trials, { target: 40, asked: 13 });
  assert.equal(sum.counts.running, 1);
  assert.equal(sum.counts.done + sum.counts.failed + sum.counts.pruned, 12);
  assert.equal(sum.controller!.version, 4);
  assert.equal(typeof sum.controller!.baseline, 'number');
  assert.ok(sum.best && sum.best.reward > 0 && sum.best.pattern.format === 'autodropout/pattern@1');
  assert.ok(sum.trialsPerHour! > 0 && sum.trialsPerHour! < 60, String(sum.trialsPerHour));
  assert.ok(sum.recentFailures.length > 0 && /fake failure/.test(sum.recentFailures[0].error));
  assert.equal(sum.lock, null);
  assert.equal(sum.data, null, 'made-up outcomes carry no data fingerprint');
  assert.throws(() => studySummary(path, 'other'), /has no study 'other'; it has: lm/);
});

test('exportBest writes a valid pattern file with provenance', () => {
  const dir = tempDir();
  const path = join(dir, 'img.db');
  const s = Study.open(path, imageConfig({ strategy: 'random', seed: 4 }));
  const ids = [s.ask(), s.ask(), s.ask()].map((p) => p.trialId);
  s.tell(ids[0], { state: 'done', reward: 0.81, val: { loss: 0.5, accuracy: 0.81 }, trainSeconds: 1 });
  s.tell(ids[1], { state: 'done', reward: 0.87, val: { loss: 0.4, accuracy: 0.87 }, trainSeconds: 1 });
  s.tell(ids[2], { state: 'failed', error: 'x' });
  const bestPattern = s.trial(ids[1]).pattern;
  s.close();
  const out = join(dir, 'exported', 'best.json');
  const r = exportBest(path, out, { now: () => Date.UTC(2025, 5, 1) });
  assert.equal(r.trialId, ids[1]);
  const file = loadPatternFile(out);
  assert.deepEqual(file.slots, bestPattern.slots);
  assert.deepEqual(file.provenance, {
    task: 'fashion-mnist',
    model: 'wrn-10-1',
    search: `${path}#img`,
    reward: 0.87,
    seed: 4,
    created: '2025-06-01T00:00:00.000Z',
    trialId: ids[1],
    strategy: 'random',
    space: 'tile',
    childSeed: 0,
  });

  const empty = join(dir, 'empty.db');
  Study.open(empty, imageConfig({ strategy: 'random' })).close();
  assert.throws(() => exportBest(empty, join(dir, 'none.json')), /has no done trial to export yet/);
});
