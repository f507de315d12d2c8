// Per-epoch checkpoints: an interrupted run resumed from its checkpoint ends
// exactly where an uninterrupted run does; a mismatched or broken checkpoint
// is refused with an error naming state.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { liveTensorCount, ops } from '../../src/engine/index.js';
import type { SlotDropout } from '../../src/models/index.js';
import { defaultConfig, train, type TrainConfig, type TrainHooks } from '../../src/train/index.js';
import { tempDir, withoutSeconds } from '../helpers.js';

// A real dropout (random masks from the run's generator) so that resuming must restore the mask stream too.
const maskDropout: SlotDropout = {
  description: 'mask(0.1)',
  apply: (x, ctx) => ops.mul(x, ops.div(ops.ge(ops.rand(x.shape, ctx.generator), 0.1), 0.9)),
};

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
const hooks = (dir: string, extra: TrainHooks = {}): TrainHooks => ({
  checkpointDir: dir,
  dropoutFor: (s) => (s.kind === 'conv' ? maskDropout : null),
  ...extra,
});

class Interrupt extends Error {}

test('a run interrupted after epoch 1 and resumed ends with the metrics of an uninterrupted run', async () => {
  const fullDir = tempDir();
  const full = await train(mnist(), hooks(fullDir));
  assert.equal(full.resumedFromEpoch, 0);
  assert.ok(existsSync(join(fullDir, 'result.json')));

  const dir = tempDir();
  await assert.rejects(
    train(
      mnist(),
      hooks(dir, {
        onEpoch: (m) => {
          if (m.epoch === 1) throw new Interrupt('killed after epoch 1');
        },
      }),
    ),
    Interrupt,
  );
  const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8'));
  assert.equal(state.epochsDone, 1);
  assert.equal(state.history.length, 1);
  assert.ok(!existsSync(join(dir, 'result.json')), 'an interrupted run has no result');

  const before = liveTensorCount();
  const resumed = await train(mnist(), hooks(dir, { resume: true }));
  assert.equal(resumed.resumedFromEpoch, 1);
  assert.equal(resumed.epochs, 2);
  assert.deepEqual(resumed.val, full.val);
  assert.deepEqual(withoutSeconds(resumed.history), withoutSeconds(full.history));
  assert.deepEqual(resumed.dropout, full.dropout);
  assert.equal(liveTensorCount(), before);
  // Only the latest checkpoint's files are kept.
  assert.deepEqual(readdirSync(dir).sort(), ['generator-e2.bin', 'model-e2.adt', 'optimizer-e2.bin', 'result.json', 'state.json']);
  assert.equal(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).epochsDone, 2);

  // Resuming a finished run trains nothing more and reports the same metrics.
  const again = await train(mnist(), hooks(dir, { resume: true }));
  assert.equal(again.resumedFromEpoch, 2);
  assert.deepEqual(again.val, full.val);
});

test('without resume, or with an empty directory, a run starts from scratch', async () => {
  const dir = tempDir();
  const r = await train(mnist({ epochs: 1, trainLimit: 128 }), hooks(dir, { resume: true }));
  assert.equal(r.resumedFromEpoch, 0);
  // The directory now holds a checkpoint, but without resume it is overwritten, not used.
  const fresh = await train(mnist({ epochs: 1, trainLimit: 128 }), hooks(dir));
  assert.equal(fresh.resumedFromEpoch, 0);
  assert.deepEqual(withoutSeconds(fresh.history), withoutSeconds(r.history));
});

test('resuming with a different configuration or dropout is refused with an error naming state.json', async () => {
  const dir = tempDir();
  await train(mnist({ epochs: 1, trainLimit: 128 }), hooks(dir));
  const before = liveTensorCount();
  const refused = (e: unknown): boolean => {
    assert.ok(e instanceof Error);
    assert.ok(e.message.includes(join(dir, 'state.json')), e.message);
    assert.match(e.message, /different configuration/);
    return true;
  };
  await assert.rejects(train(mnist({ epochs: 1, trainLimit: 128, lr: 0.05 }), hooks(dir, { resume: true })), refused);
  await assert.rejects(train(mnist({ epochs: 2, trainLimit: 128 }), hooks(dir, { resume: true })), refused);
  await assert.rejects(train(mnist({ epochs: 1, trainLimit: 128, seed: 3 }), hooks(dir, { resume: true })), refused);
  await assert.rejects(train(mnist({ epochs: 1, trainLimit: 128 }), { checkpointDir: dir, resume: true }), refused);
  // A refused resume frees the model it built.
  assert.equal(liveTensorCount(), before);
  // Threads and evaluation settings do not change the trajectory, so they may differ.
  const ok = await train(mnist({ epochs: 1, trainLimit: 128, evalBatchSize: 100 }), hooks(dir, { resume: true }));
  assert.equal(ok.resumedFromEpoch, 1);
});

test('an unreadable state.json is reported, naming the file', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'state.json'), '{"version": 1, "epochs');
  const before = liveTensorCount();
  await assert.rejects(
    train(mnist({ epochs: 1, trainLimit: 128 }), hooks(dir, { resume: true })),
    (e: Error) => e.message.includes(join(dir, 'state.json')) && /unreadable checkpoint state/.test(e.message),
  );
  assert.equal(liveTensorCount(), before);
});
