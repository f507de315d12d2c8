// Autograd gradients against central finite differences, in float64.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward, clipGradNorm, grad, isRequiringGrad, noGrad, ops, requiresGrad, setNumThreads, tensor, tidy, zeroGrad } from '../../src/engine/index.js';
import { Nd, Prng, checkGrad, randIntNd, randNd, toTensor } from './helpers.js';

setNumThreads(1);

const f64 = (rng: Prng, shape: number[], lo = -1, hi = 1): Nd => randNd(rng, shape, lo, hi, 'float64');

test('matmul, bmm and linear gradients', () => {
  const rng = new Prng(60);
  checkGrad(([a, b]) => ops.matmul(a, b), [f64(rng, [3, 4]), f64(rng, [4, 2])]);
  checkGrad(([a, b]) => ops.bmm(a, b), [f64(rng, [2, 2, 3]), f64(rng, [2, 3, 2])]);
  checkGrad(([x, w, b]) => ops.linear(x, w, b), [f64(rng, [3, 4]), f64(rng, [2, 4]), f64(rng, [2])]);
});

test('conv2d gradients (stride 2, padding, groups, depthwise)', () => {
  const rng = new Prng(61);
  checkGrad(([x, w, b]) => ops.conv2d(x, w, b, { stride: 2, padding: 1 }), [f64(rng, [2, 2, 5, 6]), f64(rng, [3, 2, 3, 3]), f64(rng, [3])]);
  checkGrad(([x, w]) => ops.conv2d(x, w, undefined, { stride: 2, padding: 1, groups: 2 }), [f64(rng, [1, 4, 5, 5]), f64(rng, [4, 2, 3, 3])]);
  checkGrad(([x, w]) => ops.conv2d(x, w, undefined, { padding: 1, groups: 3, dilation: 2 }), [f64(rng, [1, 3, 5, 4]), f64(rng, [3, 1, 2, 2])]);
});

test('batchNorm (training) and layerNorm gradients', () => {
  const rng = new Prng(62);
  checkGrad(([x, w, b]) => ops.batchNorm(x, { weight: w, bias: b, training: true }), [f64(rng, [4, 3, 2, 2], -2, 2), f64(rng, [3]), f64(rng, [3])], {
    atol: 1e-5,
    rtol: 1e-4,
  });
  checkGrad(([x]) => ops.batchNorm(x, { training: true }), [f64(rng, [5, 2], -2, 2)], { atol: 1e-5, rtol: 1e-4 });
  checkGrad(([x, w, b]) => ops.layerNorm(x, [5], w, b), [f64(rng, [3, 5], -2, 2), f64(rng, [5]), f64(rng, [5])], { atol: 1e-5, rtol: 1e-4 });
  checkGrad(([x]) => ops.layerNorm(x, [2, 3]), [f64(rng, [2, 2, 3], -2, 2)], { atol: 1e-5, rtol: 1e-4 });
});

test('softmax, logSoftmax and crossEntropy gradients', () => {
  const rng = new Prng(63);
  checkGrad(([x]) => ops.softmax(x, 1), [f64(rng, [3, 4], -2, 2)]);
  checkGrad(([x]) => ops.softmax(x, 0), [f64(rng, [3, 4], -2, 2)]);
  checkGrad(([x]) => ops.logSoftmax(x, -1), [f64(rng, [2, 3, 4], -2, 2)]);
  const target = new Nd([1, 0, 3, -1, 2], [5]);
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    checkGrad(
      ([x]) =>
        tidy(() => ops.crossEntropy(x, toTensor(target, 'int64'), { reduction, ignoreIndex: -1, labelSmoothing: 0.1 })),
      [f64(rng, [5, 4], -2, 2)],
    );
  }
  const t3 = randIntNd(rng, [2, 3], 0, 4);
  checkGrad(([x]) => tidy(() => ops.crossEntropy(x, toTensor(t3, 'int64'))), [f64(rng, [2, 4, 3], -2, 2)]);
});

test('embedding, gelu, maxPool2d, gridSample gradients', () => {
  const rng = new Prng(64);
  const idx = new Nd([3, 0, 3, 1, 3, 2], [2, 3]); // repeats accumulate
  checkGrad(([w]) => tidy(() => ops.embedding(w, toTensor(idx, 'int64'))), [f64(rng, [5, 2])]);
  checkGrad(([x]) => ops.gelu(x), [f64(rng, [3, 5], -3, 3)]);
  checkGrad(([x]) => ops.gelu(x, true), [f64(rng, [3, 5], -3, 3)]);
  checkGrad(([x]) => ops.silu(x), [f64(rng, [8], -3, 3)]);
  checkGrad(([x]) => ops.maxPool2d(x, 3, { stride: 2, padding: 1 }), [f64(rng, [2, 2, 5, 6])]);
  checkGrad(([x]) => ops.avgPool2d(x, 2), [f64(rng, [1, 2, 4, 4])]);
  checkGrad(([x]) => ops.adaptiveAvgPool2d(x, [2, 3]), [f64(rng, [1, 2, 5, 7])]);
  // bilinear sampling: gradients with respect to the input and the grid
  checkGrad(([x, g]) => ops.gridSample(x, g, 'bilinear', 'zeros', false), [f64(rng, [1, 2, 4, 5]), f64(rng, [1, 3, 3, 2], -0.9, 0.9)], {
    atol: 1e-5,
    rtol: 1e-4,
  });
  checkGrad(([t]) => ops.affineGrid(t, [1, 1, 3, 4]), [f64(rng, [1, 2, 3])]);
});

test('elementwise, reduction and shape-op gradients through a composite', () => {
  const rng = new Prng(65);
  checkGrad(
    ([a, b]) =>
      ops.logsumexp(ops.mul(ops.tanh(ops.add(ops.permute(a, [1, 0]), b)), ops.sigmoid(ops.pow(ops.abs(b), 1.5))), 1, true),
    [f64(rng, [4, 3]), f64(rng, [4], 0.2, 1)],
  );
  checkGrad(([a]) => ops.variance(ops.cat([a, ops.flip(a, [0])], 1), 1), [f64(rng, [3, 2])]);
  checkGrad(([a]) => ops.sum(ops.gather(ops.pad(a, [1, 1]), 1, tensor([0, 2, 3, 4, 1, 0], [2, 3], 'int64')), 1), [f64(rng, [2, 3])]);
});

test('backward accumulates, zeroGrad clears, noGrad records nothing, clipGradNorm scales', () => {
  tidy(() => {
    const p = requiresGrad(toTensor(new Nd([1, -2, 3], [3]), 'float64'));
    assert.equal(isRequiringGrad(p), true);
    assert.equal(grad(p), null);
    backward(ops.sum(ops.mul(p, p)));
    assert.deepEqual(grad(p)?.toArray(), [2, -4, 6]);
    backward(ops.sum(p));
    assert.deepEqual(grad(p)?.toArray(), [3, -3, 7], 'gradients accumulate');
    zeroGrad([p]);
    assert.equal(grad(p), null);
    const y = noGrad(() => ops.mul(p, 2));
    assert.equal(isRequiringGrad(y), false);
    assert.throws(() => backward(ops.sum(y)), /backward/);
    backward(ops.sum(ops.mul(p, 3)));
    const norm = clipGradNorm([p], 1);
    assert.ok(Math.abs(norm - Math.sqrt(27)) < 1e-12);
    const g = grad(p)?.toArray() ?? [];
    assert.ok(Math.abs(Math.hypot(...g) - 1) < 1e-6, 'clipped to norm 1');
    // non-scalar backward takes an explicit gradient
    zeroGrad([p]);
    backward(ops.mul(p, p), toTensor(new Nd([1, 0, 2], [3]), 'float64'));
    assert.deepEqual(grad(p)?.toArray().map((v) => v + 0), [2, 0, 12]); // + 0 turns -0 into 0
    // detach cuts the graph
    assert.equal(isRequiringGrad(ops.detach(ops.mul(p, 1))), false);
  });
});
