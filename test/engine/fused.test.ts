// ops.mulTableWindows (native/fused.cc) against a pure-TS reference: values
// and gradients of the float32 kernel (plain, ReLU, residual add; windows
// shared by G rows; one scale per group of indices), the float64 path that
// runs as ATen ops, and the errors for bad windows.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backward, grad, ops, requiresGrad, setNumThreads, tensor, tidy, zeroGrad, type Tensor } from '../../src/engine/index.js';
import { Prng } from './helpers.js';

setNumThreads(1);

interface Case {
  A: number;
  G: number;
  L: number;
  /** table rows x row stride */
  R: number;
  S: number;
  K: number;
}

function draw(rng: Prng, c: Case) {
  const x = Float32Array.from({ length: c.A * c.G * c.L }, () => rng.uniform(-1, 1));
  const base = Float32Array.from({ length: x.length }, () => rng.uniform(-1, 1));
  const upstream = Float32Array.from({ length: x.length }, () => rng.uniform(-1, 1));
  // A table of 0/1 and some fractional values, so a wrong window shows.
  const table = Float32Array.from({ length: c.R * c.S }, () => (rng.next() < 0.3 ? 0 : rng.next() < 0.5 ? 1 : rng.uniform(0.1, 2)));
  const maxStart = Math.floor((c.R * c.S - c.L) / c.S);
  const index = Array.from({ length: c.A }, () => rng.int(0, maxStart + 1));
  const scale = Float32Array.from({ length: c.K }, () => rng.uniform(0.5, 3));
  return { x, base, upstream, table, index, scale };
}

/** out and d out / d x by the definition, in float64. */
function reference(c: Case, d: ReturnType<typeof draw>, mode: 'plain' | 'relu' | 'add') {
  const out = new Float64Array(d.x.length);
  const gx = new Float64Array(d.x.length);
  const perScale = c.A / c.K;
  for (let a = 0; a < c.A; a++) {
    const s = d.scale[Math.floor(a / perScale)];
    for (let g = 0; g < c.G; g++) {
      for (let l = 0; l < c.L; l++) {
        const i = (a * c.G + g) * c.L + l;
        const m = d.table[d.index[a] * c.S + l] * s;
        const v = d.x[i];
        if (mode === 'relu') {
          out[i] = Math.max(v, 0) * m;
          gx[i] = v > 0 ? d.upstream[i] * m : 0;
        } else {
          out[i] = (mode === 'add' ? d.base[i] : 0) + v * m;
          gx[i] = d.upstream[i] * m;
        }
      }
    }
  }
  return { out, gx };
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i];
    assert.ok(Math.abs(actual[i] - e) <= tol * (1 + Math.abs(e)), `${what}[${i}]: ${actual[i]} vs ${e}`);
  }
}

const CASES: Case[] = [
  // per channel: one window per (example, channel), one scale per example of 3 channels
  { A: 12, G: 1, L: 20, R: 9, S: 5, K: 4 },
  // shared over channels: each window serves G = 6 rows
  { A: 4, G: 6, L: 12, R: 7, S: 4, K: 4 },
  // a single scale; windows that start mid-row and run across rows
  { A: 5, G: 2, L: 33, R: 10, S: 7, K: 1 },
];

for (const mode of ['plain', 'relu', 'add'] as const) {
  test(`mulTableWindows (${mode}): values and gradients match the definition (float32 kernel)`, () => {
    const rng = new Prng(mode === 'plain' ? 1 : mode === 'relu' ? 2 : 3);
    for (const c of CASES) {
      const d = draw(rng, c);
      const ref = reference(c, d, mode);
      tidy(() => {
        const x = requiresGrad(tensor(d.x, [c.A, c.G, c.L]));
        const base = requiresGrad(tensor(d.base, [c.A, c.G, c.L]));
        const table = tensor(d.table, [c.R, c.S]);
        const index = tensor(BigInt64Array.from(d.index.map(BigInt)), [c.A], 'int64');
        const y = ops.mulTableWindows(x, table, index, tensor(d.scale, [c.K]), c.L, { relu: mode === 'relu', base: mode === 'add' ? base : undefined });
        close(y.data() as Float32Array, ref.out, 1e-6, `${JSON.stringify(c)} out`);
        backward(y, tensor(d.upstream, [c.A, c.G, c.L]));
        close((grad(x) as Tensor).data() as Float32Array, ref.gx, 1e-6, `${JSON.stringify(c)} d/dx`);
        if (mode === 'add') close((grad(base) as Tensor).data() as Float32Array, d.upstream, 0, 'd/dbase is the upstream gradient');
        else assert.equal(grad(base), null, 'base is not an input without `base`');
      });
    }
  });
}

test('mulTableWindows with a 0/1 table (float32 or uint8) and `binary`: the ReLU gradient without the second table read is the same', () => {
  const rng = new Prng(5);
  for (const c of CASES) {
    const d = draw(rng, c);
    d.table = d.table.map((v) => (v === 0 ? 0 : 1));
    const ref = reference(c, d, 'relu');
    tidy(() => {
      const x = requiresGrad(tensor(d.x, [c.A, c.G, c.L]));
      const index = tensor(BigInt64Array.from(d.index.map(BigInt)), [c.A], 'int64');
      // The same 0/1 table as float32 and as uint8.
      for (const table of [tensor(d.table, [c.R, c.S]), tensor(Uint8Array.from(d.table), [c.R, c.S], 'uint8')]) {
        const y = ops.mulTableWindows(x, table, index, tensor(d.scale, [c.K]), c.L, { relu: true, binary: true });
        close(y.data() as Float32Array, ref.out, 1e-6, `${JSON.stringify(c)} ${table.dtype} out`);
        backward(y, tensor(d.upstream, [c.A, c.G, c.L]));
        close((grad(x) as Tensor).data() as Float32Array, ref.gx, 1e-6, `${JSON.stringify(c)} ${table.dtype} d/dx`);
        zeroGrad([x]);
      }
    });
  }
});

test('mulTableWindows on float64 runs as ATen ops with the same result and gradient', () => {
  const rng = new Prng(4);
  const c = CASES[0];
  const d = draw(rng, c);
  for (const mode of ['plain', 'relu', 'add'] as const) {
    const ref = reference(c, d, mode);
    tidy(() => {
      const x = requiresGrad(ops.to(tensor(d.x, [c.A, c.G, c.L]), 'float64'));
      const base = ops.to(tensor(d.base, [c.A, c.G, c.L]), 'float64');
      const index = tensor(BigInt64Array.from(d.index.map(BigInt)), [c.A], 'int64');
      const y = ops.mulTableWindows(x, tensor(d.table, [c.R, c.S]), index, tensor(d.scale, [c.K]), c.L, {
        relu: mode === 'relu',
        base: mode === 'add' ? base : undefined,
      });
      assert.equal(y.dtype, 'float64');
      close(y.data() as Float64Array, ref.out, 1e-6, `${mode} out`);
      backward(y, ops.to(tensor(d.upstream, [c.A, c.G, c.L]), 'float64'));
      close((grad(x) as Tensor).data() as Float64Array, ref.gx, 1e-6, `${mode} d/dx`);
    });
  }
});

test('mulTableWindows refuses windows outside the table and inconsistent shapes, naming the problem', () => {
  tidy(() => {
    const x = ops.ones([2, 1, 4]);
    const table = ops.ones([3, 2]);
    const scale = ops.ones([2]);
    const idx = (v: number[]): Tensor => tensor(BigInt64Array.from(v.map(BigInt)), [v.length], 'int64');
    assert.throws(() => ops.mulTableWindows(x, table, idx([0, 2]), scale, 4), /index\[1\] = 2 puts a window of 4 outside the table's 6 values/);
    assert.throws(() => ops.mulTableWindows(x, table, idx([0, -1]), scale, 4), /index\[1\] = -1/);
    assert.throws(() => ops.mulTableWindows(x, table, idx([0, 1]), ops.ones([3]), 4), /scale must be 1-D with a length dividing index's 2/);
    assert.throws(() => ops.mulTableWindows(ops.ones([2, 1, 5]), table, idx([0, 1]), scale, 4), /not a whole number of \(A, G, L\)/);
    assert.throws(() => ops.mulTableWindows(x, table, idx([0, 1]), scale, 4, { relu: true, base: x }), /relu and base cannot be combined/);
    assert.throws(() => ops.mulTableWindows(x, table, idx([0, 1]), scale, 4, { base: ops.ones([2, 4]) }), /base must have x's shape/);
  });
});

test('mulTableWindows on bfloat16 (autocast): the float32 kernel computed on the widened values, each result rounded once, values and gradients', () => {
  const rng = new Prng(6);
  for (const c of CASES) {
    const d = draw(rng, c);
    d.table = d.table.map((v) => (v === 0 ? 0 : 1)); // canvas tables are 0/1
    for (const mode of ['plain', 'relu', 'add'] as const) {
      for (const binary of mode === 'relu' ? [false, true] : [false]) {
        tidy(() => {
          const bf16 = (v: Float32Array): Tensor => ops.to(tensor(v, [c.A, c.G, c.L]), 'bfloat16');
          const index = tensor(BigInt64Array.from(d.index.map(BigInt)), [c.A], 'int64');
          const table = tensor(Uint8Array.from(d.table), [c.R, c.S], 'uint8');
          const scale = tensor(d.scale, [c.K]);
          const xh = requiresGrad(bf16(d.x));
          const baseh = bf16(d.base);
          const upstream = bf16(d.upstream);
          const xf = requiresGrad(ops.to(bf16(d.x), 'float32'));
          const o = (base: Tensor) => ({ relu: mode === 'relu', base: mode === 'add' ? base : undefined, binary });
          const yh = ops.mulTableWindows(xh, table, index, scale, c.L, o(baseh));
          const yf = ops.mulTableWindows(xf, table, index, scale, c.L, o(ops.to(baseh, 'float32')));
          assert.equal(yh.dtype, 'bfloat16');
          const what = `${JSON.stringify(c)} ${mode}${binary ? ' binary' : ''}`;
          assert.deepEqual(yh.toArray(), ops.to(yf, 'bfloat16').toArray(), `${what}: out`);
          backward(yh, upstream);
          backward(yf, ops.to(upstream, 'float32'));
          const gh = grad(xh) as Tensor;
          assert.equal(gh.dtype, 'bfloat16');
          assert.deepEqual(gh.toArray(), ops.to(grad(xf) as Tensor, 'bfloat16').toArray(), `${what}: d/dx`);
        });
      }
    }
  }
});
