// The median pruner: strictly below the median of done trials' values at the
// same epoch, only once enough done trials have one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMedianPruner, median, medianPruner, prunerFor } from '../../src/search/prune.js';
import { Study } from '../../src/search/study.js';
import type { EpochReport } from '../../src/search/types.js';
import { lmConfig } from './fixtures.js';

const report = (epoch: number, value: number): EpochReport => ({ epoch, value, trainLoss: 1, val: { loss: 1 }, seconds: 1 });

/** A study with done trials whose epoch-1 and epoch-2 values are given. */
function withDone(values: [number, number][]): Study {
  const s = Study.open(':memory:', lmConfig({ strategy: 'random', prune: 'median' }));
  for (const [v1, v2] of values) {
    const id = s.ask().trialId;
    s.markRunning(id, 'w');
    s.recordEpoch(id, report(1, v1));
    s.recordEpoch(id, report(2, v2));
    s.tell(id, { state: 'done', reward: v2, val: { loss: 1 }, trainSeconds: 1 });
  }
  return s;
}

test('median of odd and even lists', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), /empty/);
});

test('median pruning: needs 3 done trials, compares at the same epoch, prunes strictly below', () => {
  const s = withDone([
    [0.5, 0.7],
    [0.6, 0.8],
  ]);
  const live = s.ask().trialId;
  s.markRunning(live, 'w');
  assert.equal(s.shouldPrune(live, report(1, 0.0)), false, 'two done trials are not enough');
  const t = s.ask().trialId;
  s.markRunning(t, 'w');
  s.recordEpoch(t, report(1, 0.4));
  s.recordEpoch(t, report(2, 0.9));
  s.tell(t, { state: 'done', reward: 0.9, val: { loss: 1 }, trainSeconds: 1 });
  // epoch 1 values 0.5, 0.6, 0.4 -> median 0.5; epoch 2: 0.7, 0.8, 0.9 -> 0.8.
  assert.equal(s.shouldPrune(live, report(1, 0.49)), true);
  assert.equal(s.shouldPrune(live, report(1, 0.5)), false, 'equal to the median is kept');
  assert.equal(s.shouldPrune(live, report(2, 0.75)), true);
  assert.equal(s.shouldPrune(live, report(2, 0.8)), false);
  assert.equal(s.shouldPrune(live, report(3, 0.0)), false, 'no done trial has epoch 3');
  assert.equal(medianPruner.shouldPrune(s.store, 'lm', live, 1, 0.49), true, 'the study may be named');

  // Pruned and failed trials do not form the reference.
  const p = s.ask().trialId;
  s.markRunning(p, 'w');
  s.recordEpoch(p, report(1, 0.01));
  s.tell(p, { state: 'pruned', reward: 0.01, atEpoch: 1, trainSeconds: 1 });
  assert.equal(s.shouldPrune(live, report(1, 0.49)), true);
  assert.deepEqual(s.store.epochValues(s.id, 1), [0.5, 0.6, 0.4]);
  s.close();
});

test('pruner options and configs', () => {
  const s = withDone([
    [0.5, 0.7],
    [0.6, 0.8],
  ]);
  const live = s.ask().trialId;
  s.markRunning(live, 'w');
  assert.equal(createMedianPruner({ minTrials: 2 }).shouldPrune(s.store, s.id, live, 1, 0.54), true);
  assert.equal(createMedianPruner({ minTrials: 2, warmupEpochs: 1 }).shouldPrune(s.store, s.id, live, 1, 0.0), false);
  assert.equal(prunerFor('none'), null);
  assert.equal(prunerFor('median'), medianPruner);
  assert.throws(() => createMedianPruner({ minTrials: 0 }), /minTrials/);
  const off = Study.open(':memory:', lmConfig({ strategy: 'random', prune: 'none' }));
  const id = off.ask().trialId;
  assert.equal(off.shouldPrune(id, report(1, -1)), false);
  off.close();
  s.close();
});
