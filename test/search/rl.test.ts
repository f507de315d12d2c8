// The rl strategy: the controller updates on every K-th tell, each update is
// stored as a checkpoint together with the trials it consumed, failed and
// pruned trials enter the update with their documented rewards, and samples
// drawn by an older policy are marked stale (the PPO branch).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SPAN_SPACE } from '../../src/patterns/spaces.js';
import { decodeTensors } from '../../src/engine/index.js';
import { replayStudy } from '../../src/search/replay.js';
import type { SamplerState } from '../../src/search/samplers.js';
import { Study } from '../../src/search/study.js';
import type { Proposal } from '../../src/search/types.js';
import { tempDir } from '../helpers.js';
import { imageConfig, lmConfig } from './fixtures.js';

test('rl: the controller updates every updateEvery tells and stores a checkpoint with the consumed trials', () => {
  const s = Study.open(':memory:', lmConfig({ updateEvery: 3 }));
  assert.equal(s.controllerVersion, 0);
  assert.deepEqual(
    s.store.checkpoints(s.id).map((c) => [c.version, c.consumed]),
    [[0, []]],
    'version 0 is stored at creation',
  );
  const ids: number[] = [];
  for (let i = 0; i < 7; i++) {
    const p = s.ask();
    assert.equal(p.tokens.length, SPAN_SPACE.tokens.length);
    assert.equal(p.policyVersion, Math.floor(i / 3));
    assert.ok(p.logProb < 0);
    ids.push(p.trialId);
    s.markRunning(p.trialId, 'w');
    s.tell(p.trialId, { state: 'done', reward: 0.5 + 0.01 * i, val: { loss: 1, perplexity: 150 }, trainSeconds: 1 });
    assert.equal(s.controllerVersion, Math.floor((i + 1) / 3));
  }
  const cks = s.store.checkpoints(s.id, { blobs: true });
  assert.deepEqual(
    cks.map((c) => [c.version, c.consumed, c.asked, c.told]),
    [
      [0, [], 0, 0],
      [1, ids.slice(0, 3), 3, 3],
      [2, ids.slice(3, 6), 6, 6],
    ],
  );
  assert.deepEqual(s.bufferedTrialIds(), [ids[6]]);
  assert.equal(s.trial(ids[6]).consumedVersion, null);
  assert.deepEqual(
    ids.slice(0, 6).map((id) => s.trial(id).consumedVersion),
    [1, 1, 1, 2, 2, 2],
  );
  const last = cks[2];
  assert.equal(last.meta.version, 2);
  assert.equal(typeof last.meta.baseline, 'number');
  assert.equal((last.meta.rngState as number[]).length, 4);
  assert.equal((last.stats as { samples: number }).samples, 3);
  // The stored parameters are the controller's.
  const { tensors } = decodeTensors(last.tensors!, 'checkpoint 2');
  const own = s.controller!.net.stateDict();
  assert.deepEqual([...tensors.keys()].sort(), [...own.keys()].sort());
  for (const [k, t] of tensors) {
    assert.deepEqual(t.toArray(), own.get(k)!.toArray(), k);
    t.dispose();
  }
  s.close();
});

test('rl: failed and pruned trials enter the update with their stored rewards', () => {
  const s = Study.open(':memory:', lmConfig({ updateEvery: 4 }));
  const ids = Array.from({ length: 4 }, () => s.ask().trialId);
  for (const id of ids) s.markRunning(id, 'w');
  s.tell(ids[0], { state: 'done', reward: 0.6, val: { loss: 1 }, trainSeconds: 1 });
  s.recordEpoch(ids[1], { epoch: 1, value: 0.3, trainLoss: 2, val: { loss: 2 }, seconds: 1 });
  s.tell(ids[1], { state: 'pruned', reward: 0.3, atEpoch: 1, trainSeconds: 1 });
  s.tell(ids[2], { state: 'failed', error: 'diverged' });
  s.tell(ids[3], { state: 'done', reward: 0.9, val: { loss: 1 }, trainSeconds: 1 });
  const ck = s.store.checkpoints(s.id).at(-1)!;
  assert.equal(ck.version, 1);
  assert.deepEqual(ck.consumed, ids);
  const rewards = [0.6, 0.3, 0.3, 0.9]; // failed = lowest so far (the pruned 0.3)
  assert.deepEqual(
    ids.map((id) => s.trial(id).updateReward),
    rewards,
  );
  const stats = ck.stats as { meanReward: number; baselineBefore: number; samples: number };
  assert.equal(stats.samples, 4);
  assert.ok(Math.abs(stats.meanReward - rewards.reduce((a, b) => a + b) / 4) < 1e-12);
  // The first update's baseline is the batch mean, so the advantages are reward - mean.
  assert.ok(Math.abs(stats.baselineBefore - stats.meanReward) < 1e-12);
  s.close();
});

test('rl: samples drawn before an update and told after it are stale (PPO branch)', () => {
  const s = Study.open(':memory:', lmConfig({ updateEvery: 2 }));
  const early = [s.ask(), s.ask(), s.ask()];
  for (const p of early) s.markRunning(p.trialId, 'w');
  s.tell(early[0].trialId, { state: 'done', reward: 0.5, val: { loss: 1 }, trainSeconds: 1 });
  s.tell(early[1].trialId, { state: 'done', reward: 0.6, val: { loss: 1 }, trainSeconds: 1 });
  assert.equal(s.controllerVersion, 1);
  const late = s.ask();
  assert.equal(late.policyVersion, 1);
  s.markRunning(late.trialId, 'w');
  s.tell(early[2].trialId, { state: 'done', reward: 0.7, val: { loss: 1 }, trainSeconds: 1 });
  s.tell(late.trialId, { state: 'done', reward: 0.4, val: { loss: 1 }, trainSeconds: 1 });
  const stats = s.store.checkpoints(s.id).at(-1)!.stats as { stale: number; samples: number; freshLogProbError: number };
  assert.equal(stats.samples, 2);
  assert.equal(stats.stale, 1);
  assert.ok(stats.freshLogProbError < 1e-4, `fresh sample log-prob error ${stats.freshLogProbError}`);
  s.close();
});

test('rl over the tile space: one token group per conv slot of the model (final.bn, with no skip path, without the residual token)', () => {
  const s = Study.open(':memory:', imageConfig());
  const p = s.ask();
  assert.equal(s.controller!.length, 6 * 8 + 7);
  assert.equal(p.tokens.length, 55);
  const convSlots = s.slots.filter((x) => x.kind === 'conv').map((x) => x.name);
  assert.deepEqual(Object.keys(p.pattern.slots), convSlots);
  for (const v of Object.values(p.pattern.slots)) assert.equal(v.kind, 'tile');
  s.close();
});

test('rl: asks are drawn in controller batches up to the next update, draws an update overtakes are dropped, and replay redraws the batches', () => {
  const path = join(tempDir(), 'batches.db');
  const s = Study.open(path, lmConfig({ updateEvery: 3 }));
  const state = (p: Proposal) => s.store.samplerState(s.id, s.trial(p.trialId).askOrder) as Extract<SamplerState, { kind: 'rl' }>;
  const tell = (p: Proposal, reward: number) => {
    s.markRunning(p.trialId, 'w');
    s.tell(p.trialId, { state: 'done', reward, val: { loss: 1 }, trainSeconds: 1 });
  };
  const [x, y, z] = s.askBatch(3);
  assert.deepEqual([x, y, z].map((p) => state(p).batch), [0, 1, 2].map((index) => ({ index, size: 3 })));
  // Every trial of a batch stores the sampling state after the whole batch.
  assert.deepEqual(state(x).rng, state(z).rng);
  assert.deepEqual(state(z).rng, s.controller!.rng.getState());
  tell(x, 0.5);
  // Two tells before the next update: a batch of two, one of them kept for the next ask.
  const a = s.ask();
  assert.deepEqual(state(a).batch, { index: 0, size: 2 });
  tell(y, 0.6);
  tell(z, 0.7);
  assert.equal(s.controllerVersion, 1);
  // The kept draw came from version 0: dropped, and the next ask draws a fresh batch from version 1.
  const b = s.ask();
  const c = s.ask();
  assert.deepEqual([b, c].map((p) => [p.policyVersion, state(p).batch]), [
    [1, { index: 0, size: 3 }],
    [1, { index: 1, size: 3 }],
  ]);
  assert.notDeepEqual(state(b).rng, state(a).rng);
  assert.equal(s.askedCount(), 6);
  s.close();
  const r = replayStudy(path);
  assert.equal(r.checked, 6);
  assert.equal(r.updates, 1);
  assert.deepEqual(r.mismatches, []);
});

test('rl: a batch of n draws the same tokens as n single draws (log-probs equal up to float rounding)', () => {
  const one = Study.open(':memory:', lmConfig({ updateEvery: 1 }));
  const many = Study.open(':memory:', lmConfig({ updateEvery: 1 }));
  // updateEvery 1: nothing is drawn ahead, so each ask of `one` is a single draw.
  const singles = Array.from({ length: 5 }, () => one.ask());
  const batch = many.askBatch(5);
  assert.deepEqual(
    batch.map((p) => p.tokens),
    singles.map((p) => p.tokens),
  );
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(batch[i].logProb - singles[i].logProb) < 1e-5, `draw ${i}: ${batch[i].logProb} vs ${singles[i].logProb}`);
  one.close();
  many.close();
});
