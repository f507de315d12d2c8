// Mixed precision (src/engine/autocast.ts over libtorch's autocast): which ops
// compute in bfloat16 inside a region and not outside it, float32 weights and
// gradients, the weight-cast cache emptied between regions, the region's
// bookkeeping (errors, promises, no nesting), layer norm on a bfloat16 input,
// the pattern kernel's float32 multipliers, and bfloat16 data in and out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  autocast,
  backward,
  decodeTensors,
  encodeTensors,
  grad,
  inAutocast,
  liveTensorCount,
  noGrad,
  ops,
  requiresGrad,
  setNumThreads,
  tensor,
  tidy,
  zeroGrad,
  type Tensor,
} from '../../src/engine/index.js';
import { Prng } from './helpers.js';

setNumThreads(1);

const rng = new Prng(7);
const randn = (n: number): number[] => Array.from({ length: n }, () => rng.uniform(-1, 1));

/** float32 -> bfloat16 -> float32 by round-to-nearest-even on the bits (finite values): the reference rounding. */
function roundBf16(v: number): number {
  const f = new Float32Array([v]);
  const bits = new Uint32Array(f.buffer);
  const b = bits[0];
  bits[0] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) << 16;
  return f[0];
}

test('autocast bfloat16: conv2d and linear compute in bfloat16 inside the region, float32 outside; weights and gradients stay float32', () => {
  tidy(() => {
    const x = tensor(randn(2 * 3 * 5 * 5), [2, 3, 5, 5]);
    const w = requiresGrad(tensor(randn(4 * 3 * 3 * 3), [4, 3, 3, 3]));
    const lw = requiresGrad(tensor(randn(5 * 4), [5, 4]));
    const inside = autocast('bfloat16', () => {
      assert.equal(inAutocast(), true);
      const c = ops.conv2d(x, w, undefined, { padding: 1 });
      const l = ops.linear(ops.mean(c, [2, 3]), lw);
      return { c, l, loss: ops.crossEntropy(l, tensor([1, 3], [2], 'int64')) };
    });
    assert.equal(inAutocast(), false);
    assert.equal(inside.c.dtype, 'bfloat16');
    assert.equal(inside.l.dtype, 'bfloat16');
    assert.equal(inside.loss.dtype, 'float32', 'the loss is computed in float32 (autocast lists cross entropy as float32)');
    assert.equal(ops.conv2d(x, w, undefined, { padding: 1 }).dtype, 'float32', 'after the region: float32 again');
    backward(inside.loss);
    assert.equal(grad(w)?.dtype, 'float32');
    assert.equal(grad(lw)?.dtype, 'float32');
    assert.equal(w.dtype, 'float32');
  });
});

test('autocast: the bfloat16 copy of a weight is not reused after the region (an optimizer step shows in the next region)', () => {
  tidy(() => {
    const x = tensor([1, 0, 0, 0], [1, 4]);
    const weight = requiresGrad(tensor([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]));
    const first = autocast('bfloat16', () => ops.linear(x, weight).toArray());
    assert.deepEqual(first, [1, 5]);
    noGrad(() => ops.scaleInPlace(weight, 2));
    const second = autocast('bfloat16', () => ops.linear(x, weight).toArray());
    assert.deepEqual(second, [2, 10], 'the doubled weight, not a cached cast of the old one');
    // Within one region the cast is cached (which is why regions must end between steps).
    const within = autocast('bfloat16', () => {
      const before = ops.linear(x, weight).toArray();
      noGrad(() => ops.scaleInPlace(weight, 2));
      return [before, ops.linear(x, weight).toArray()];
    });
    assert.deepEqual(within, [[2, 10], [2, 10]]);
  });
});

test('autocast: the region closes when fn throws, stays open until a returned promise settles, and does not nest', async () => {
  assert.throws(() => autocast('bfloat16', () => {
    throw new Error('boom');
  }), /boom/);
  assert.equal(inAutocast(), false);
  const x = tensor(randn(4), [1, 4]);
  const w = tensor(randn(8), [2, 4]);
  const pending = autocast('bfloat16', async () => {
    await new Promise<void>((r) => setImmediate(r));
    assert.equal(inAutocast(), true);
    const y = ops.linear(x, w);
    const dtype = y.dtype;
    y.dispose();
    return dtype;
  });
  assert.equal(inAutocast(), true);
  assert.equal(await pending, 'bfloat16');
  assert.equal(inAutocast(), false);
  assert.throws(() => autocast('bfloat16', () => autocast('bfloat16', () => 0)), /already open/);
  assert.equal(inAutocast(), false);
  assert.throws(() => autocast('float16', () => 0), /float16 needs a CUDA device/);
  assert.equal(autocast(null, () => inAutocast()), false, 'null: no region');
  x.dispose();
  w.dispose();
});

test('layer norm of a bfloat16 activation with float32 weights normalises in float32', () => {
  tidy(() => {
    const x = ops.to(tensor(randn(3 * 8), [3, 8]), 'bfloat16');
    const g = tensor(randn(8), [8]);
    const b = tensor(randn(8), [8]);
    const y = ops.layerNorm(x, [8], g, b);
    assert.equal(y.dtype, 'float32');
    assert.deepEqual(y.toArray(), ops.layerNorm(ops.to(x, 'float32'), [8], g, b).toArray());
  });
});

test('pattern windows on a bfloat16 activation: the multiplier is applied in float32 and the product rounded once', () => {
  tidy(() => {
    const A = 4, G = 3, L = 5;
    // Multipliers 1/0.7 and 1/0.9: not representable in bfloat16, so rounding them first would change the product.
    const table = tensor([1, 0, 1, 1, 0, 1, 1, 1, 0, 1], [2, 5]);
    const index = tensor([0, 1, 1, 0], [4], 'int64');
    const scale = tensor([1 / 0.7, 1 / 0.9], [2]);
    const x = ops.to(tensor(randn(A * G * L), [A, G, L]), 'bfloat16');
    const out = ops.mulTableWindows(x, table, index, scale, L);
    assert.equal(out.dtype, 'bfloat16');
    const xv = x.toArray();
    const tv = table.toArray();
    const sv = scale.toArray();
    const idx = [0, 1, 1, 0];
    const expected: number[] = [];
    const multiplierRoundedFirst: number[] = [];
    for (let a = 0; a < A; a++) {
      for (let g = 0; g < G; g++) {
        for (let l = 0; l < L; l++) {
          const m = Math.fround(tv[idx[a] * L + l] * sv[Math.floor(a / 2)]);
          const v = xv[(a * G + g) * L + l];
          expected.push(roundBf16(Math.fround(v * m)));
          multiplierRoundedFirst.push(roundBf16(Math.fround(v * roundBf16(m))));
        }
      }
    }
    assert.deepEqual(out.toArray(), expected);
    assert.notDeepEqual(expected, multiplierRoundedFirst, 'the test can tell the two roundings apart');
  });
});

test('bfloat16 tensors: from numbers (rounded), as raw words, through the tensor blob format', () => {
  tidy(() => {
    const t = tensor([1, 1 / 3, -2.5, 1e-3], [4], 'bfloat16');
    assert.equal(t.dtype, 'bfloat16');
    assert.deepEqual(t.toArray(), [1, roundBf16(1 / 3), -2.5, roundBf16(1e-3)]);
    const words = t.data();
    assert.ok(words instanceof Uint16Array);
    assert.equal(words[0], 0x3f80, 'bfloat16 1.0 is the high half of float32 1.0');
    const back = decodeTensors(encodeTensors(new Map<string, Tensor>([['t', t]])), 'test').tensors.get('t');
    assert.equal(back?.dtype, 'bfloat16');
    assert.deepEqual(back?.toArray(), t.toArray());
    back?.dispose();
    assert.throws(() => tensor(new Uint16Array(2)), /pass the dtype/);
  });
});

test('training steps under autocast leave the live-tensor count flat', () => {
  const x = tensor(randn(4 * 2 * 6 * 6), [4, 2, 6, 6]);
  const y = tensor([0, 1, 2, 1], [4], 'int64');
  const w = requiresGrad(tensor(randn(3 * 2 * 3 * 3), [3, 2, 3, 3]));
  const step = (): void =>
    tidy(() => {
      const loss = autocast('bfloat16', () => ops.crossEntropy(ops.mean(ops.conv2d(x, w, undefined, { padding: 1 }), [2, 3]), y));
      backward(loss);
      noGrad(() => ops.addScaledInPlace(w, grad(w) as Tensor, -0.1));
      zeroGrad([w]);
    });
  step();
  const before = liveTensorCount();
  for (let i = 0; i < 5; i++) step();
  assert.equal(liveTensorCount(), before);
  for (const t of [x, y, w]) t.dispose();
});
