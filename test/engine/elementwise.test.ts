// Elementwise math, activations, broadcasting and selection against pure-TS references.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ops, scalar, setNumThreads, tidy, type Tensor } from '../../src/engine/index.js';
import { Nd, Prng, assertClose, assertExact, broadcastRef, erfRef, randNd, toTensor } from './helpers.js';

setNumThreads(1);

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
const geluExact = (v: number): number => 0.5 * v * (1 + erfRef(v / Math.SQRT2));
const geluTanh = (v: number): number => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));

test('unary math matches the reference on random inputs', () => {
  const rng = new Prng(1);
  const cases: [string, (x: Tensor) => Tensor, (v: number) => number, number, number][] = [
    ['neg', ops.neg, (v) => -v, -3, 3],
    ['exp', ops.exp, Math.exp, -3, 3],
    ['log', ops.log, Math.log, 0.05, 5],
    ['log1p', ops.log1p, Math.log1p, -0.9, 5],
    ['sqrt', ops.sqrt, Math.sqrt, 0, 5],
    ['rsqrt', ops.rsqrt, (v) => 1 / Math.sqrt(v), 0.1, 5],
    ['abs', ops.abs, Math.abs, -3, 3],
    ['sign', ops.sign, Math.sign, -3, 3],
    ['square', ops.square, (v) => v * v, -3, 3],
    ['reciprocal', ops.reciprocal, (v) => 1 / v, 0.2, 3],
    ['floor', ops.floor, Math.floor, -5, 5],
    ['ceil', ops.ceil, Math.ceil, -5, 5],
    ['round', ops.round, Math.round, -5, 5], // random floats: no .5 ties
    ['sin', ops.sin, Math.sin, -4, 4],
    ['cos', ops.cos, Math.cos, -4, 4],
    ['erf', ops.erf, erfRef, -3, 3],
    ['relu', ops.relu, (v) => Math.max(v, 0), -3, 3],
    ['silu', ops.silu, (v) => v * sigmoid(v), -6, 6],
    ['sigmoid', ops.sigmoid, sigmoid, -6, 6],
    ['tanh', ops.tanh, Math.tanh, -4, 4],
    ['gelu', (x) => ops.gelu(x), geluExact, -4, 4],
    ['gelu tanh', (x) => ops.gelu(x, true), geluTanh, -4, 4],
    ['leakyRelu', (x) => ops.leakyRelu(x, 0.2), (v) => (v > 0 ? v : 0.2 * v), -3, 3],
    ['clamp', (x) => ops.clamp(x, -0.5, 0.75), (v) => Math.min(Math.max(v, -0.5), 0.75), -2, 2],
    ['clamp min only', (x) => ops.clamp(x, 0.25), (v) => Math.max(v, 0.25), -2, 2],
  ];
  for (const [name, op, ref, lo, hi] of cases) {
    tidy(() => {
      const x = randNd(rng, [3, 7], lo, hi);
      assertClose(op(toTensor(x)), x.map(ref), { atol: 1e-5, rtol: 1e-5 }, name);
      // float64 goes through the same op with tighter error
      assertClose(op(toTensor(x, 'float64')), x.map(ref), { atol: 1e-10, rtol: 1e-10 }, `${name} float64`);
    });
  }
});

test('binary ops broadcast like the reference', () => {
  const rng = new Prng(2);
  const shapes: [number[], number[]][] = [
    [[2, 3, 4], [2, 3, 4]],
    [[2, 1, 4], [3, 1]],
    [[1], [2, 3]],
    [[4], [3, 1]],
    [[], [2, 3]],
    [[2, 3, 1, 5], [1, 4, 1]],
  ];
  const cases: [string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number, number, number][] = [
    ['add', ops.add, (a, b) => a + b, -2, 2],
    ['sub', ops.sub, (a, b) => a - b, -2, 2],
    ['mul', ops.mul, (a, b) => a * b, -2, 2],
    ['div', ops.div, (a, b) => a / b, 0.5, 2],
    ['pow', ops.pow, (a, b) => a ** b, 0.5, 2],
    ['maximum', ops.maximum, Math.max, -2, 2],
    ['minimum', ops.minimum, Math.min, -2, 2],
    // Python semantics: the result has the divisor's sign
    ['remainder', ops.remainder, (a, b) => a - b * Math.floor(a / b), -3, 3],
  ];
  for (const [sa, sb] of shapes) {
    for (const [name, op, ref, lo, hi] of cases) {
      tidy(() => {
        const a = randNd(rng, sa, lo, hi);
        let b = randNd(rng, sb, lo, hi);
        if (name === 'remainder') b = b.map((v) => (Math.abs(v) < 0.3 ? 0.5 : v));
        assertClose(op(toTensor(a), toTensor(b)), broadcastRef([a, b], ref), { atol: 1e-5, rtol: 1e-5 }, `${name} [${sa}] [${sb}]`);
        assertClose(op(toTensor(b), toTensor(a)), broadcastRef([b, a], ref), { atol: 1e-5, rtol: 1e-5 }, `${name} [${sb}] [${sa}]`);
      });
    }
  }
});

test('binary ops with a number operand and a 0-d tensor', () => {
  tidy(() => {
    const rng = new Prng(3);
    const x = randNd(rng, [2, 5], 0.5, 2);
    const t = toTensor(x);
    assertClose(ops.add(t, 1.5), x.map((v) => v + 1.5));
    assertClose(ops.sub(t, 0.25), x.map((v) => v - 0.25));
    assertClose(ops.mul(t, -3), x.map((v) => v * -3));
    assertClose(ops.div(t, 4), x.map((v) => v / 4));
    assertClose(ops.pow(t, 2), x.map((v) => v * v));
    assertClose(ops.pow(t, 0.5), x.map(Math.sqrt));
    assertClose(ops.maximum(t, 1), x.map((v) => Math.max(v, 1)));
    assertClose(ops.minimum(t, 1), x.map((v) => Math.min(v, 1)));
    assertClose(ops.mul(t, scalar(2.5)), x.map((v) => v * 2.5));
    const s = scalar(7);
    assert.deepEqual(s.shape, []);
    assert.equal(s.item(), 7);
  });
});

test('comparisons, logical ops, where and maskedFill', () => {
  const rng = new Prng(4);
  tidy(() => {
    const a = randNd(rng, [3, 4]);
    const b = randNd(rng, [4]);
    const ta = toTensor(a);
    const tb = toTensor(b);
    const cmp: [string, (x: Tensor, y: Tensor) => Tensor, (x: number, y: number) => boolean][] = [
      ['eq', ops.eq, (x, y) => x === y],
      ['ne', ops.ne, (x, y) => x !== y],
      ['lt', ops.lt, (x, y) => x < y],
      ['le', ops.le, (x, y) => x <= y],
      ['gt', ops.gt, (x, y) => x > y],
      ['ge', ops.ge, (x, y) => x >= y],
    ];
    for (const [name, op, ref] of cmp) {
      const r = op(ta, tb);
      assert.equal(r.dtype, 'bool', name);
      assertExact(r, broadcastRef([a, b], (x, y) => Number(ref(x, y))), name);
    }
    // equal values exist only when compared with themselves
    assertExact(ops.eq(ta, ta), a.map(() => 1), 'eq self');
    assertExact(ops.gt(ta, 0), a.map((v) => Number(v > 0)), 'gt number');

    const m1 = ops.gt(ta, 0);
    const m2 = ops.lt(ta, 0.5);
    assertExact(ops.logicalAnd(m1, m2), a.map((v) => Number(v > 0 && v < 0.5)), 'and');
    assertExact(ops.logicalOr(m1, m2), a.map((v) => Number(v > 0 || v < 0.5)), 'or');
    assertExact(ops.logicalNot(m1), a.map((v) => Number(!(v > 0))), 'not');

    const cond = ops.gt(tb, 0); // [4] broadcast against [3, 4]
    const c = b.map((v) => Number(v > 0));
    assertClose(ops.where(cond, ta, ops.neg(ta)), broadcastRef([c, a], (k, v) => (k ? v : -v)), {}, 'where tensors');
    assertClose(ops.where(cond, ta, 9), broadcastRef([c, a], (k, v) => (k ? v : 9)), {}, 'where number');
    assertClose(ops.where(cond, -1, ta), broadcastRef([c, a], (k, v) => (k ? -1 : v)), {}, 'where number first');
    assertClose(ops.maskedFill(ta, cond, -5), broadcastRef([c, a], (k, v) => (k ? -5 : v)), {}, 'maskedFill');

    const special = toTensor(new Nd([1, NaN, Infinity, -2], [4]));
    assertExact(ops.isnan(special), new Nd([0, 1, 0, 0], [4]), 'isnan');
    assertExact(ops.isfinite(special), new Nd([1, 0, 0, 1], [4]), 'isfinite');
  });
});

test('dtype conversion, creation and clone', () => {
  tidy(() => {
    const x = toTensor(new Nd([1.7, -2.2, 3.5], [3]));
    const i = ops.to(x, 'int64');
    assert.equal(i.dtype, 'int64');
    assert.deepEqual(i.toArray(), [1, -2, 3]); // truncation toward zero
    assert.equal(ops.to(x, 'float64').dtype, 'float64');
    assert.deepEqual(ops.zeros([2, 2]).toArray(), [0, 0, 0, 0]);
    assert.deepEqual(ops.ones([3], 'int32').toArray(), [1, 1, 1]);
    assert.deepEqual(ops.full([2], 2.5).toArray(), [2.5, 2.5]);
    assert.deepEqual(ops.arange(0, 5, 2).toArray(), [0, 2, 4]);
    assert.deepEqual(ops.eye(2).toArray(), [1, 0, 0, 1]);
    const c = ops.clone(x);
    ops.fillInto(c, 0);
    assert.deepEqual(x.toArray(), [Math.fround(1.7), Math.fround(-2.2), 3.5], 'clone does not alias');
    const y = ops.clone(x);
    ops.addScaledInPlace(y, x, 2);
    assertClose(y, new Nd([1.7 * 3, -2.2 * 3, 3.5 * 3], [3]));
    ops.scaleInPlace(y, 0.5);
    assertClose(y, new Nd([1.7 * 1.5, -2.2 * 1.5, 3.5 * 1.5], [3]));
  });
});
