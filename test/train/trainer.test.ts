// The training loop on real (tiny) data: determinism, memory, early stopping,
// divergence, config validation and a small language-model run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { liveTensorCount, ops } from '../../src/engine/index.js';
import type { SlotDropout } from '../../src/models/index.js';
import { DivergedError, defaultConfig, train, warmupCosineLr, type TrainConfig, type TrainHooks, type TrainResult } from '../../src/train/index.js';
import { withoutSeconds } from '../helpers.js';

function mnist(over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...defaultConfig('mnist', 'wrn-10-1'),
    trainLimit: 512,
    valSize: 256,
    epochs: 2,
    batchSize: 64,
    threads: 1,
    evalBatchSize: 256,
    evaluateTest: false,
    ...over,
  };
}

/** What must be bit-identical between two runs of the same configuration. */
function outcome(r: TrainResult): unknown {
  const { trainSeconds: _t, history, ...rest } = r;
  return { ...rest, history: withoutSeconds(history) };
}

test('a tiny MNIST run is deterministic; another seed gives another run', async () => {
  const a = await train(mnist());
  const b = await train(mnist());
  assert.deepEqual(outcome(b), outcome(a));
  assert.equal(a.history.length, 2);
  assert.deepEqual(
    a.history.map((h) => h.epoch),
    [1, 2],
  );
  assert.equal(a.epochs, 2);
  assert.equal(a.parameters, 77_562);
  assert.equal(a.test, null, 'evaluateTest: false skips the test split');
  assert.equal(a.resumedFromEpoch, 0);
  assert.equal(a.stoppedEarly, false);
  assert.deepEqual(a.dropout, {});
  for (const h of a.history) {
    assert.ok(Number.isFinite(h.trainLoss) && h.trainLoss > 0);
    assert.ok(h.val.accuracy !== undefined && h.val.accuracy >= 0 && h.val.accuracy <= 1);
    assert.ok(Number.isFinite(h.val.loss));
    assert.ok(h.seconds > 0);
  }
  assert.deepEqual(a.val, a.history[1].val);
  // Each epoch reports the lr of its last step: 8 steps per epoch, 16 in all, no warm-up at 3% of 16.
  assert.deepEqual(
    a.history.map((h) => h.lr),
    [warmupCosineLr(7, 16, 0, 0.1), warmupCosineLr(15, 16, 0, 0.1)],
  );

  const c = await train(mnist({ seed: 1 }));
  assert.equal(c.seed, 1);
  assert.notDeepEqual(withoutSeconds(c.history), withoutSeconds(a.history));
  assert.notEqual(c.history[0].trainLoss, a.history[0].trainLoss);
});

test('live tensors do not grow from epoch to epoch, and train() frees everything it made', async () => {
  const before = liveTensorCount();
  const counts: number[] = [];
  const r = await train(mnist({ epochs: 3 }), { onEpoch: () => void counts.push(liveTensorCount()) });
  assert.equal(counts.length, 3);
  assert.equal(counts[1], counts[0], `live tensors per epoch: ${counts}`);
  assert.equal(counts[2], counts[0], `live tensors per epoch: ${counts}`);
  // What is alive mid-run is the model's state (39 tensors for wrn-10-1) and nothing per step.
  assert.ok(counts[0] - before <= 45, `${counts[0] - before} tensors alive during training`);
  assert.equal(r.history.length, 3);
  assert.equal(liveTensorCount(), before, 'the model is disposed when train() returns');
});

test("onEpoch returning 'stop' ends training early", async () => {
  const seen: number[] = [];
  const r = await train(mnist({ epochs: 3 }), {
    onEpoch: (m) => {
      seen.push(m.epoch);
      return m.epoch === 1 ? 'stop' : undefined;
    },
  });
  assert.deepEqual(seen, [1]);
  assert.equal(r.stoppedEarly, true);
  assert.equal(r.epochs, 1);
  assert.equal(r.history.length, 1);
  assert.deepEqual(r.val, r.history[0].val);
  // Stopping on the last epoch is not early.
  const full = await train(mnist({ epochs: 1, trainLimit: 128 }), { onEpoch: () => 'stop' });
  assert.equal(full.stoppedEarly, false);
});

test('a SlotDropout that produces NaN makes train() reject with DivergedError and frees the model', async () => {
  const before = liveTensorCount();
  const nan: SlotDropout = { description: 'nan', apply: (x) => ops.mul(x, Number.NaN) };
  let epochs = 0;
  await assert.rejects(
    train(mnist(), { dropoutFor: (s) => (s.name === 'final.bn' ? nan : null), onEpoch: () => void epochs++ }),
    (e: unknown) => {
      assert.ok(e instanceof DivergedError, `expected DivergedError, got ${String(e)}`);
      assert.match(e.message, /training loss became NaN at epoch 1, step 1 .*diverged/);
      return true;
    },
  );
  assert.equal(epochs, 0);
  assert.equal(liveTensorCount(), before);
});

test('dropout assignments are reported per slot, and change the run', async () => {
  const drop: SlotDropout = { description: 'half', apply: (x) => ops.mul(x, 0.5) };
  const plain = await train(mnist({ epochs: 1 }));
  const r = await train(mnist({ epochs: 1 }), { dropoutFor: (s) => (s.kind === 'conv' ? drop : null) });
  assert.deepEqual(Object.keys(r.dropout), [
    'stage1.block1.bn1',
    'stage1.block1.bn2',
    'stage2.block1.bn1',
    'stage2.block1.bn2',
    'stage3.block1.bn1',
    'stage3.block1.bn2',
    'final.bn',
  ]);
  assert.ok(Object.values(r.dropout).every((d) => d === 'half'));
  assert.notEqual(r.history[0].trainLoss, plain.history[0].trainLoss);
});

test('invalid configurations are refused before any work', async () => {
  // The data is looked up right after validation: a refused config never reaches it.
  let dataLookedUp = false;
  const spy: TrainHooks = {
    get data() {
      dataLookedUp = true;
      return undefined;
    },
  };
  await assert.rejects(train(mnist({ model: 'wrn-16-0' }), spy), /wrn-16-0: widen factor/);
  assert.equal(dataLookedUp, false);
  await assert.rejects(train(mnist({ epochs: 0 })), (e: Error) => e instanceof RangeError && /epochs must be a positive integer, got 0/.test(e.message));
  await assert.rejects(train(mnist({ batchSize: 1.5 })), /batchSize must be a positive integer/);
  await assert.rejects(train(mnist({ lr: 0 })), /lr must be > 0/);
  await assert.rejects(train(mnist({ seed: -1 })), /seed must be a non-negative integer/);
  await assert.rejects(train(mnist({ model: 'tlm-1-32' })), /model tlm-1-32 is a language model but task mnist needs an image classifier/);
  await assert.rejects(train(mnist({ model: 'wrn-11-1' })), (e: Error) => e instanceof RangeError && /wrn-11-1: depth must be 6n\+4/.test(e.message));
  await assert.rejects(train(mnist({ model: 'wrn-10-0' })), /wrn-10-0: widen factor must be a positive integer/);
  await assert.rejects(train(mnist({ model: 'vgg-16' })), /unknown model 'vgg-16'/);
  await assert.rejects(
    train({ ...defaultConfig('moby-dick'), model: 'wrn-10-1', threads: 1 }),
    /model wrn-10-1 is an image model but task moby-dick needs a language model/,
  );
});

test('a tiny language-model run on Moby Dick reaches a finite perplexity below the vocabulary size', async () => {
  const before = liveTensorCount();
  const config: TrainConfig = {
    ...defaultConfig('moby-dick', 'tlm-1-32'),
    trainLimit: 4000,
    vocabSize: 500,
    seqLen: 16,
    epochs: 1,
    threads: 1,
    evaluateTest: false,
  };
  const r = await train(config);
  const ppl = r.val.perplexity;
  assert.ok(ppl !== undefined && Number.isFinite(ppl), `perplexity ${ppl}`);
  assert.ok(ppl < 500, `val perplexity ${ppl} is not below the vocabulary size`);
  assert.ok(Math.abs(ppl - Math.exp(r.val.loss)) < 1e-9 * ppl);
  assert.equal(r.val.accuracy, undefined);
  assert.equal(r.history.length, 1);
  assert.ok(Number.isFinite(r.history[0].trainLoss));
  // Embedding 500x32, positions 16x32, one layer of width 32, final LayerNorm.
  assert.equal(r.parameters, 500 * 32 + 16 * 32 + (2 * 32 + 3 * 32 * 33 + 32 * 33 + 2 * 32 + 128 * 33 + 32 * 128 + 32) + 2 * 32);
  const again = await train(config);
  assert.deepEqual(outcome(again), outcome(r), 'language-model runs are deterministic too');
  assert.equal(liveTensorCount(), before);
});

test('precision bf16: the child trains under autocast (another run than fp32, as good), memory flat; fp16 is refused on the CPU', async () => {
  const fp32 = await train(mnist({ epochs: 1 }));
  const before = liveTensorCount();
  const bf16 = await train(mnist({ epochs: 1, precision: 'bf16' }));
  assert.equal(liveTensorCount(), before);
  assert.notEqual(bf16.history[0].trainLoss, fp32.history[0].trainLoss, 'bfloat16 arithmetic changes the run');
  assert.ok(Math.abs(bf16.history[0].trainLoss - fp32.history[0].trainLoss) < 0.05, `close to fp32: ${bf16.history[0].trainLoss} vs ${fp32.history[0].trainLoss}`);
  const again = await train(mnist({ epochs: 1, precision: 'bf16' }));
  assert.deepEqual(outcome(again), outcome(bf16), 'and is deterministic');
  await assert.rejects(train(mnist({ precision: 'fp16' })), (e: Error) => e instanceof RangeError && /--precision fp16 needs a CUDA device/.test(e.message));
});
