// Reductions with dims and keepdim against pure-TS references.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ops, setNumThreads, tidy, type Tensor } from '../../src/engine/index.js';
import { Nd, Prng, alongDim, assertClose, assertExact, logSumExpOf, meanOf, randNd, reduceRef, sumOf, toTensor, varOf } from './helpers.js';

setNumThreads(1);

const argmaxOf = (v: number[]): number => v.indexOf(Math.max(...v));
const argminOf = (v: number[]): number => v.indexOf(Math.min(...v));

test('sum, mean, amax, amin, variance, logsumexp over dims with keepdim', () => {
  const rng = new Prng(30);
  const x = randNd(rng, [2, 3, 4], -3, 3);
  const dimSets: (number[] | null)[] = [null, [0], [1], [2], [-1], [0, 2], [1, -1], [0, 1, 2]];
  type Red = (t: Tensor, dims: number[] | undefined, keepdim: boolean) => Tensor;
  const cases: [string, Red, (v: number[]) => number][] = [
    ['sum', (t, d, k) => ops.sum(t, d, k), sumOf],
    ['mean', (t, d, k) => ops.mean(t, d, k), meanOf],
    ['amax', (t, d, k) => ops.amax(t, d, k), (v) => Math.max(...v)],
    ['amin', (t, d, k) => ops.amin(t, d, k), (v) => Math.min(...v)],
    ['variance', (t, d, k) => ops.variance(t, d, true, k), (v) => varOf(v, true)],
    ['variance biased', (t, d, k) => ops.variance(t, d, false, k), (v) => varOf(v, false)],
  ];
  for (const [name, op, ref] of cases) {
    for (const dims of dimSets) {
      for (const keepdim of [false, true]) {
        tidy(() => {
          // dims omitted reduces everything; keepdim then keeps [1, 1, 1]
          const expected = reduceRef(x, dims, keepdim, ref);
          assertClose(op(toTensor(x), dims ?? undefined, keepdim), expected, { atol: 1e-5, rtol: 1e-5 }, `${name} dims ${JSON.stringify(dims)} keepdim ${keepdim}`);
        });
      }
    }
  }
  for (const dims of [[0], [2], [-2], [0, 2], [0, 1, 2]]) {
    for (const keepdim of [false, true]) {
      tidy(() => {
        assertClose(ops.logsumexp(toTensor(x), dims, keepdim), reduceRef(x, dims, keepdim, logSumExpOf), {}, `logsumexp ${dims} ${keepdim}`);
      });
    }
  }
  tidy(() => {
    assertClose(ops.sum(toTensor(x), 1), reduceRef(x, [1], false, sumOf), {}, 'number dim');
    assertClose(ops.logsumexp(toTensor(x), 2), reduceRef(x, [2], false, logSumExpOf), {}, 'logsumexp number dim');
    // a scalar reduction is 0-d
    assert.deepEqual(ops.sum(toTensor(x)).shape, []);
  });
});

test('argmax and argmin', () => {
  const rng = new Prng(31);
  const x = randNd(rng, [3, 4, 5]);
  for (const dim of [0, 1, 2, -1]) {
    for (const keepdim of [false, true]) {
      tidy(() => {
        const am = ops.argmax(toTensor(x), dim, keepdim);
        assert.equal(am.dtype, 'int64');
        assertExact(am, reduceRef(x, [dim], keepdim, argmaxOf), `argmax ${dim} ${keepdim}`);
        assertExact(ops.argmin(toTensor(x), dim, keepdim), reduceRef(x, [dim], keepdim, argminOf), `argmin ${dim} ${keepdim}`);
      });
    }
  }
});

test('norm and cumsum', () => {
  const rng = new Prng(32);
  tidy(() => {
    const x = randNd(rng, [3, 4]);
    assertClose(ops.norm(toTensor(x)), new Nd([Math.sqrt(sumOf(Array.from(x.data, (v) => v * v)))], []), {}, 'norm 2');
    assertClose(ops.norm(toTensor(x), 1), new Nd([sumOf(Array.from(x.data, Math.abs))], []), {}, 'norm 1');
    const cs = (v: number[]): number[] => v.map((_, i) => sumOf(v.slice(0, i + 1)));
    assertClose(ops.cumsum(toTensor(x), 1), alongDim(x, 1, cs), {}, 'cumsum dim 1');
    assertClose(ops.cumsum(toTensor(x), 0), alongDim(x, 0, cs), {}, 'cumsum dim 0');
  });
});
