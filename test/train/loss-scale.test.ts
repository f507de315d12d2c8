// The float16 loss scaler (src/train/loss-scale.ts), exercised in float32 on
// the CPU (the scaling arithmetic is the same): exact unscaling by powers of
// two, a skipped step and a halved scale on an overflow, growth after a run
// of good steps, clipping after unscaling, and its state for checkpoints.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward, grad, noGrad, ops, requiresGrad, setNumThreads, sgd, tensor, tidy, zeroGrad, type Tensor } from '../../src/engine/index.js';
import { LossScaler } from '../../src/train/loss-scale.js';

setNumThreads(1);

/** A weight, and a loss whose gradient with respect to it is 2 * c * w (no other rounding than float32's). */
function setup(values: number[]) {
  const w = requiresGrad(tensor(values, [values.length]));
  const loss = (c: number): Tensor => ops.mul(ops.sum(ops.mul(w, w)), c);
  return { w, loss };
}

test('scaled backward then unscaling gives the gradients of the unscaled loss exactly, and the step is taken', () => {
  tidy(() => {
    const { w, loss } = setup([0.3, -1.7, 2.5e-3]);
    backward(loss(0.75));
    const plain = grad(w)?.toArray();
    zeroGrad([w]);
    const opt = sgd([w], { lr: 0.5 });
    const scaler = new LossScaler({ initScale: 2 ** 10 });
    backward(scaler.scaled(loss(0.75)));
    assert.notDeepEqual(grad(w)?.toArray(), plain, 'the gradients were scaled');
    const before = w.toArray();
    assert.equal(scaler.unscaleClipStep([w], opt, 0), true);
    const g = plain as number[];
    assert.deepEqual(w.toArray(), before.map((v, i) => Math.fround(v - Math.fround(0.5 * g[i]))));
    assert.equal(scaler.scale, 2 ** 10);
    assert.equal(scaler.skipped, 0);
  });
});

test('a non-finite gradient skips the step, leaves the weights alone and halves the scale; good steps in a row double it', () => {
  tidy(() => {
    const { w, loss } = setup([1, 2]);
    const opt = sgd([w], { lr: 0.1 });
    const scaler = new LossScaler({ initScale: 2 ** 8, growthInterval: 2 });
    const before = w.toArray();
    backward(scaler.scaled(loss(1)));
    noGrad(() => ops.scaleInPlace(grad(w) as Tensor, Infinity)); // an overflowed float16 gradient
    assert.equal(scaler.unscaleClipStep([w], opt, 0), false);
    assert.deepEqual(w.toArray(), before);
    assert.equal(scaler.scale, 2 ** 7);
    assert.equal(scaler.skipped, 1);
    for (const expected of [2 ** 7, 2 ** 8, 2 ** 8, 2 ** 9]) {
      zeroGrad([w]);
      backward(scaler.scaled(loss(1)));
      assert.equal(scaler.unscaleClipStep([w], opt, 0), true);
      assert.equal(scaler.scale, expected);
    }
    assert.deepEqual(scaler.getState(), { scale: 2 ** 9, goodSteps: 0 });
  });
});

test('clipping applies to the unscaled gradients', () => {
  tidy(() => {
    const { w, loss } = setup([3, 4]);
    const opt = sgd([w], { lr: 1 });
    const scaler = new LossScaler({ initScale: 2 ** 12 });
    backward(scaler.scaled(loss(0.5))); // unscaled gradient w = (3, 4), norm 5
    assert.equal(scaler.unscaleClipStep([w], opt, 1), true);
    const [a, b] = w.toArray();
    assert.ok(Math.abs(a - (3 - 0.6)) < 1e-5 && Math.abs(b - (4 - 0.8)) < 1e-5, `clipped to norm 1: got ${a}, ${b}`);
  });
});

test('the state round-trips (a resumed run continues with the same scale), and bad options are refused', () => {
  const a = new LossScaler();
  assert.equal(a.scale, 2 ** 16);
  const b = new LossScaler();
  b.setState({ scale: 2 ** 5, goodSteps: 17 });
  assert.deepEqual(b.getState(), { scale: 2 ** 5, goodSteps: 17 });
  assert.throws(() => new LossScaler({ initScale: 1000 }), /power of two/);
  assert.throws(() => new LossScaler({ growthInterval: 0 }), /growthInterval/);
});
