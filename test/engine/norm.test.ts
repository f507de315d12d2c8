// Normalisation, softmax, cross-entropy and embedding against pure-TS references.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ops, setNumThreads, tensor, tidy } from '../../src/engine/index.js';
import {
  Nd,
  Prng,
  alongDim,
  assertClose,
  logSoftmaxOf,
  randIntNd,
  randNd,
  softmaxOf,
  toTensor,
  unravel,
  varOf,
} from './helpers.js';

setNumThreads(1);

/** Per-channel (dim 1) values of x. */
function channelValues(x: Nd, c: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < x.data.length; i++) if (unravel(i, x.shape)[1] === c) out.push(x.data[i]);
  return out;
}
function normaliseChannels(x: Nd, mean: number[], vr: number[], w: Nd | null, b: Nd | null, eps: number): Nd {
  return x.map((v, i) => {
    const c = unravel(i, x.shape)[1];
    const y = (v - mean[c]) / Math.sqrt(vr[c] + eps);
    return y * (w ? w.data[c] : 1) + (b ? b.data[c] : 0);
  });
}

test('batchNorm in training: batch statistics and running-stat update', () => {
  const rng = new Prng(20);
  for (const shape of [
    [4, 3, 3, 2],
    [5, 3],
  ]) {
    tidy(() => {
      const C = 3;
      const x = randNd(rng, shape, -2, 3);
      const w = randNd(rng, [C], 0.5, 1.5);
      const b = randNd(rng, [C]);
      const rm0 = randNd(rng, [C]);
      const rv0 = randNd(rng, [C], 0.5, 2);
      const rm = toTensor(rm0);
      const rv = toTensor(rv0);
      const momentum = 0.3;
      const eps = 1e-3;
      const y = ops.batchNorm(toTensor(x), {
        weight: toTensor(w),
        bias: toTensor(b),
        runningMean: rm,
        runningVar: rv,
        training: true,
        momentum,
        eps,
      });
      const vals = Array.from({ length: C }, (_, c) => channelValues(x, c));
      const mean = vals.map((v) => v.reduce((a, z) => a + z, 0) / v.length);
      const biased = vals.map((v) => varOf(v, false));
      const unbiased = vals.map((v) => varOf(v, true));
      assertClose(y, normaliseChannels(x, mean, biased, w, b, eps), { atol: 1e-5, rtol: 1e-4 }, `batchNorm output [${shape}]`);
      assertClose(rm, rm0.map((v, c) => (1 - momentum) * v + momentum * mean[c]), {}, 'running mean');
      // the running variance takes the unbiased batch variance
      assertClose(rv, rv0.map((v, c) => (1 - momentum) * v + momentum * unbiased[c]), {}, 'running var');
    });
  }
});

test('batchNorm in eval uses the running statistics and leaves them alone', () => {
  const rng = new Prng(21);
  tidy(() => {
    const x = randNd(rng, [3, 4, 2, 3]);
    const w = randNd(rng, [4]);
    const b = randNd(rng, [4]);
    const rm0 = randNd(rng, [4]);
    const rv0 = randNd(rng, [4], 0.5, 2);
    const rm = toTensor(rm0);
    const rv = toTensor(rv0);
    const y = ops.batchNorm(toTensor(x), { weight: toTensor(w), bias: toTensor(b), runningMean: rm, runningVar: rv, training: false });
    assertClose(y, normaliseChannels(x, Array.from(rm0.data), Array.from(rv0.data), w, b, 1e-5), { atol: 1e-5, rtol: 1e-4 }, 'eval output');
    assertClose(rm, rm0, { atol: 0, rtol: 0 }, 'running mean untouched');
    assertClose(rv, rv0, { atol: 0, rtol: 0 }, 'running var untouched');
    // without affine parameters and running stats (training): plain standardisation
    const z = ops.batchNorm(toTensor(x), { training: true });
    const vals = Array.from({ length: 4 }, (_, c) => channelValues(x, c));
    const mean = vals.map((v) => v.reduce((a, q) => a + q, 0) / v.length);
    assertClose(z, normaliseChannels(x, mean, vals.map((v) => varOf(v, false)), null, null, 1e-5), { atol: 1e-5, rtol: 1e-4 }, 'no affine');
  });
});

test('layerNorm over the trailing dims', () => {
  const rng = new Prng(22);
  for (const [shape, normShape] of [
    [[4, 6], [6]],
    [[2, 3, 5], [5]],
    [[2, 3, 4], [3, 4]],
  ] as const) {
    tidy(() => {
      const x = randNd(rng, shape, -2, 2);
      const k = normShape.reduce((a, z) => a * z, 1);
      const w = randNd(rng, normShape);
      const b = randNd(rng, normShape);
      const eps = 1e-5;
      const plain = Nd.zeros(shape);
      for (let g = 0; g < x.data.length / k; g++) {
        const v = Array.from(x.data.subarray(g * k, (g + 1) * k));
        const m = v.reduce((a, z) => a + z, 0) / k;
        const s = Math.sqrt(varOf(v, false) + eps);
        v.forEach((z, j) => (plain.data[g * k + j] = (z - m) / s));
      }
      const ref = plain.map((v, i) => v * w.data[i % k] + b.data[i % k]);
      assertClose(ops.layerNorm(toTensor(x), normShape, toTensor(w), toTensor(b), eps), ref, { atol: 1e-5, rtol: 1e-4 }, `layerNorm [${shape}]`);
      assertClose(ops.layerNorm(toTensor(x), normShape), plain, { atol: 1e-5, rtol: 1e-4 }, 'layerNorm without affine');
    });
  }
});

test('softmax and logSoftmax along any dim', () => {
  const rng = new Prng(23);
  tidy(() => {
    const x = randNd(rng, [2, 3, 4], -4, 4);
    for (const dim of [0, 1, 2, -1]) {
      assertClose(ops.softmax(toTensor(x), dim), alongDim(x, dim, softmaxOf), { atol: 1e-6, rtol: 1e-5 }, `softmax dim ${dim}`);
      assertClose(ops.logSoftmax(toTensor(x), dim), alongDim(x, dim, logSoftmaxOf), { atol: 1e-5, rtol: 1e-5 }, `logSoftmax dim ${dim}`);
    }
    // large logits stay finite
    const big = new Nd([1000, 0, -1000, 999], [1, 4]);
    assertClose(ops.logSoftmax(toTensor(big), 1), alongDim(big, 1, logSoftmaxOf), { atol: 1e-3, rtol: 1e-6 }, 'logSoftmax large');
  });
});

/** cross_entropy for logits (N, C, ...rest) and targets (N, ...rest). */
function crossEntropyRef(
  logits: Nd,
  target: Nd,
  reduction: 'mean' | 'sum' | 'none',
  ignoreIndex = -100,
  smoothing = 0,
): Nd {
  const [N, C] = logits.shape;
  const rest = logits.shape.slice(2).reduce((a, b) => a * b, 1);
  const losses: number[] = [];
  let count = 0;
  for (let n = 0; n < N; n++)
    for (let r = 0; r < rest; r++) {
      const row = Array.from({ length: C }, (_, c) => logits.data[(n * C + c) * rest + r]);
      const lp = logSoftmaxOf(row);
      const y = target.data[n * rest + r];
      if (y === ignoreIndex) {
        losses.push(0);
        continue;
      }
      count++;
      const nll = -lp[y];
      const smooth = -lp.reduce((a, b) => a + b, 0) / C;
      losses.push((1 - smoothing) * nll + smoothing * smooth);
    }
  if (reduction === 'none') return new Nd(losses, target.shape);
  const total = losses.reduce((a, b) => a + b, 0);
  return new Nd([reduction === 'sum' ? total : total / count], []);
}

test('crossEntropy: reductions, ignoreIndex, label smoothing, spatial targets', () => {
  const rng = new Prng(24);
  tidy(() => {
    const logits = randNd(rng, [6, 5], -3, 3);
    const target = new Nd([0, 4, 2, 2, 1, 3], [6]);
    const tl = toTensor(logits);
    const tt = toTensor(target, 'int64');
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      assertClose(ops.crossEntropy(tl, tt, { reduction }), crossEntropyRef(logits, target, reduction), {}, `ce ${reduction}`);
      assertClose(
        ops.crossEntropy(tl, tt, { reduction, labelSmoothing: 0.2 }),
        crossEntropyRef(logits, target, reduction, -100, 0.2),
        {},
        `ce ${reduction} smoothing`,
      );
      const ignored = new Nd([0, -1, 2, -1, 1, 3], [6]);
      const ti = toTensor(ignored, 'int64');
      assertClose(ops.crossEntropy(tl, ti, { reduction, ignoreIndex: -1 }), crossEntropyRef(logits, ignored, reduction, -1), {}, `ce ${reduction} ignore`);
      assertClose(
        ops.crossEntropy(tl, ti, { reduction, ignoreIndex: -1, labelSmoothing: 0.1 }),
        crossEntropyRef(logits, ignored, reduction, -1, 0.1),
        {},
        `ce ${reduction} ignore + smoothing`,
      );
    }
    // default reduction is mean
    assertClose(ops.crossEntropy(tl, tt), crossEntropyRef(logits, target, 'mean'), {}, 'ce default');
    // (N, C, L) logits with (N, L) targets
    const l3 = randNd(rng, [2, 4, 3], -2, 2);
    const t3 = randIntNd(rng, [2, 3], 0, 4);
    assertClose(ops.crossEntropy(toTensor(l3), toTensor(t3, 'int64'), { reduction: 'none' }), crossEntropyRef(l3, t3, 'none'), {}, 'ce spatial none');
    assertClose(ops.crossEntropy(toTensor(l3), toTensor(t3, 'int64'), { labelSmoothing: 0.3 }), crossEntropyRef(l3, t3, 'mean', -100, 0.3), {}, 'ce spatial');
  });
});

test('embedding picks rows, for any index shape', () => {
  const rng = new Prng(25);
  tidy(() => {
    const w = randNd(rng, [7, 3]);
    const idx = new Nd([6, 0, 3, 3, 1, 6], [2, 3]);
    const got = ops.embedding(toTensor(w), toTensor(idx, 'int64'));
    assert.deepEqual(got.shape, [2, 3, 3]);
    const ref = Nd.zeros([2, 3, 3]);
    for (let i = 0; i < 6; i++) for (let d = 0; d < 3; d++) ref.data[i * 3 + d] = w.get(idx.data[i], d);
    assertClose(got, ref, { atol: 0, rtol: 0 }, 'embedding');
    assert.throws(() => ops.embedding(toTensor(w), tensor([7], [1], 'int64')), /embedding/);
  });
});
