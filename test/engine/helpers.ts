// Shared pieces of the engine tests: a seeded PRNG, a tiny N-d array type with
// pure-TS reference operations, closeness assertions and a finite-difference
// gradient checker. Nothing here calls the engine except the conversions and
// checkGrad, so the references are independent of libtorch.
import assert from 'node:assert/strict';
import {
  backward,
  grad,
  noGrad,
  ops,
  requiresGrad,
  setNumThreads,
  tensor,
  tidy,
  type DType,
  type Tensor,
} from '../../src/engine/index.js';

setNumThreads(1);

// ------------------------------------------------------------------ PRNG
/** mulberry32: small, fast and good enough for test inputs. */
export class Prng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  uniform(lo = -1, hi = 1): number {
    return lo + (hi - lo) * this.next();
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo));
  }
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
}

// ------------------------------------------------------------------ N-d arrays
export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = flat % shape[i];
    flat = Math.floor(flat / shape[i]);
  }
  return idx;
}
export function ravel(idx: readonly number[], shape: readonly number[]): number {
  let flat = 0;
  for (let i = 0; i < shape.length; i++) flat = flat * shape[i] + idx[i];
  return flat;
}

/** A dense row-major array of doubles: the references' value type. */
export class Nd {
  readonly data: Float64Array;
  readonly shape: number[];
  constructor(data: ArrayLike<number>, shape: readonly number[]) {
    this.data = Float64Array.from(data);
    this.shape = [...shape];
    if (this.data.length !== numel(shape)) throw new Error(`Nd: ${this.data.length} values for shape [${shape}]`);
  }
  static zeros(shape: readonly number[]): Nd {
    return new Nd(new Float64Array(numel(shape)), shape);
  }
  get(...idx: number[]): number {
    return this.data[ravel(idx, this.shape)];
  }
  set(idx: readonly number[], v: number): void {
    this.data[ravel(idx, this.shape)] = v;
  }
  map(f: (v: number, i: number) => number): Nd {
    return new Nd(this.data.map(f), this.shape);
  }
}

const normDim = (d: number, rank: number): number => (d < 0 ? d + rank : d);

/**
 * Random data, rounded to float32 when dtype is float32 so the reference sees
 * exactly the values the engine sees.
 */
export function randNd(rng: Prng, shape: readonly number[], lo = -1, hi = 1, dtype: DType = 'float32'): Nd {
  const n = numel(shape);
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = dtype === 'float32' ? Math.fround(rng.uniform(lo, hi)) : rng.uniform(lo, hi);
  return new Nd(d, shape);
}
export function randIntNd(rng: Prng, shape: readonly number[], lo: number, hi: number): Nd {
  return new Nd(Array.from({ length: numel(shape) }, () => rng.int(lo, hi)), shape);
}

/** An engine tensor holding an Nd's values. */
export function toTensor(x: Nd, dtype: DType = 'float32'): Tensor {
  return tensor(Array.from(x.data), x.shape, dtype);
}
export function fromTensor(t: Tensor): Nd {
  return new Nd(t.toArray(), t.shape);
}

// ------------------------------------------------------------------ references
export function permuteRef(x: Nd, dims: readonly number[]): Nd {
  const r = x.shape.length;
  const ds = dims.map((d) => normDim(d, r));
  const outShape = ds.map((d) => x.shape[d]);
  const out = Nd.zeros(outShape);
  for (let i = 0; i < out.data.length; i++) {
    const oi = unravel(i, outShape);
    const xi = new Array<number>(r);
    ds.forEach((d, k) => (xi[d] = oi[k]));
    out.data[i] = x.data[ravel(xi, x.shape)];
  }
  return out;
}

export function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`cannot broadcast [${a}] with [${b}]`);
    out.push(Math.max(da, db));
  }
  return out;
}
/** The element of x that broadcasts to index idx of an output of rank idx.length. */
function bcastIndex(idx: readonly number[], shape: readonly number[]): number {
  const off = idx.length - shape.length;
  let flat = 0;
  for (let i = 0; i < shape.length; i++) flat = flat * shape[i] + (shape[i] === 1 ? 0 : idx[off + i]);
  return flat;
}
export function broadcastRef(xs: readonly Nd[], f: (...v: number[]) => number): Nd {
  const shape = xs.map((x) => x.shape).reduce((a, b) => broadcastShape(a, b));
  const out = Nd.zeros(shape);
  for (let i = 0; i < out.data.length; i++) {
    const idx = unravel(i, shape);
    out.data[i] = f(...xs.map((x) => x.data[bcastIndex(idx, x.shape)]));
  }
  return out;
}

/** Reduces over dims (null: all) with f applied to the values of each group. */
export function reduceRef(x: Nd, dims: readonly number[] | null, keepdim: boolean, f: (vals: number[]) => number): Nd {
  const r = x.shape.length;
  const red = new Set((dims ?? x.shape.map((_, i) => i)).map((d) => normDim(d, r)));
  const keptShape = x.shape.map((s, i) => (red.has(i) ? 1 : s));
  const groups: number[][] = Array.from({ length: numel(keptShape) }, () => []);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape).map((v, k) => (red.has(k) ? 0 : v));
    groups[ravel(idx, keptShape)].push(x.data[i]);
  }
  const outShape = keepdim ? keptShape : x.shape.filter((_, i) => !red.has(i));
  return new Nd(groups.map(f), outShape);
}

/** Applies f to every 1-d fibre along dim (f returns a fibre of the same length). */
export function alongDim(x: Nd, dim: number, f: (vals: number[]) => number[]): Nd {
  const d = normDim(dim, x.shape.length);
  const out = Nd.zeros(x.shape);
  const st = stridesOf(x.shape)[d];
  const n = x.shape[d];
  for (let i = 0; i < x.data.length; i++) {
    if (unravel(i, x.shape)[d] !== 0) continue;
    const vals = Array.from({ length: n }, (_, k) => x.data[i + k * st]);
    const res = f(vals);
    res.forEach((v, k) => (out.data[i + k * st] = v));
  }
  return out;
}

export const sumOf = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0);
export const meanOf = (v: readonly number[]): number => sumOf(v) / v.length;
export function varOf(v: readonly number[], unbiased: boolean): number {
  const m = meanOf(v);
  return sumOf(v.map((x) => (x - m) ** 2)) / (v.length - (unbiased ? 1 : 0));
}
export function logSumExpOf(v: readonly number[]): number {
  const m = Math.max(...v);
  return m + Math.log(sumOf(v.map((x) => Math.exp(x - m))));
}
export const softmaxOf = (v: number[]): number[] => {
  const l = logSumExpOf(v);
  return v.map((x) => Math.exp(x - l));
};
export const logSoftmaxOf = (v: number[]): number[] => {
  const l = logSumExpOf(v);
  return v.map((x) => x - l);
};

/** erf by its Maclaurin series (accurate to ~1e-12 for |x| <= 5). */
export function erfRef(x: number): number {
  if (Math.abs(x) > 5) return Math.sign(x);
  let term = x;
  let s = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const add = term / (2 * n + 1);
    s += add;
    if (Math.abs(add) < 1e-17 * Math.abs(s)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * s;
}

/** Round half to even, as C's nearbyint (used by gridSample 'nearest'). */
export function rint(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

// ------------------------------------------------------------------ assertions
export interface Tol {
  atol?: number;
  rtol?: number;
}
/** Asserts the tensor has ref's shape and values within atol + rtol*|ref|. */
export function assertClose(actual: Tensor | Nd, expected: Nd, tol: Tol = {}, what = 'value'): void {
  const a = actual instanceof Nd ? actual : fromTensor(actual);
  assert.deepEqual(a.shape, expected.shape, `${what}: shape`);
  const atol = tol.atol ?? 1e-5;
  const rtol = tol.rtol ?? 1e-5;
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < a.data.length; i++) {
    const e = expected.data[i];
    const v = a.data[i];
    const err = Math.abs(v - e) - (atol + rtol * Math.abs(e));
    if (Number.isNaN(v) !== Number.isNaN(e) || err > worstErr) {
      worst = i;
      worstErr = Number.isNaN(err) ? Infinity : err;
    }
  }
  if (worst >= 0) {
    assert.fail(
      `${what}: element [${unravel(worst, expected.shape)}] is ${a.data[worst]}, expected ${expected.data[worst]} ` +
        `(atol ${atol}, rtol ${rtol})`,
    );
  }
}
export function assertExact(actual: Tensor, expected: Nd, what = 'value'): void {
  const a = fromTensor(actual);
  assert.deepEqual(a.shape, expected.shape, `${what}: shape`);
  assert.deepEqual(Array.from(a.data), Array.from(expected.data), `${what}: values`);
}

// ------------------------------------------------------------------ gradients
export interface GradCheck extends Tol {
  /** Which inputs to check (default: all). */
  wrt?: number[];
  eps?: number;
}

/**
 * Compares autograd's gradients of sum(fn(xs) * W) (W a fixed random weight,
 * so e.g. sum(softmax) = const is not a vacuous test) with central finite
 * differences, all in float64.
 */
export function checkGrad(fn: (xs: Tensor[]) => Tensor, inputs: readonly Nd[], o: GradCheck = {}): void {
  const eps = o.eps ?? 1e-6;
  const wrt = o.wrt ?? inputs.map((_, i) => i);
  tidy(() => {
    const xs = inputs.map((x) => requiresGrad(toTensor(x, 'float64')));
    const out = fn(xs);
    assert.equal(out.dtype, 'float64', 'checkGrad: fn must compute in float64');
    const rng = new Prng(99);
    const weights = toTensor(randNd(rng, out.shape, -1, 1, 'float64'), 'float64');
    const lossOf = (ts: Tensor[]): Tensor => ops.sum(ops.mul(fn(ts), weights));
    backward(lossOf(xs));
    for (const k of wrt) {
      const g = grad(xs[k]);
      assert.ok(g, `input ${k} has no gradient`);
      const analytic = fromTensor(g);
      const numeric = Nd.zeros(inputs[k].shape);
      noGrad(() => {
        for (let i = 0; i < numeric.data.length; i++) {
          const at = (delta: number): number =>
            tidy(() => {
              const perturbed = inputs.map((x, j) => {
                if (j !== k) return toTensor(x, 'float64');
                const d = Float64Array.from(x.data);
                d[i] += delta;
                return toTensor(new Nd(d, x.shape), 'float64');
              });
              return lossOf(perturbed).item();
            });
          numeric.data[i] = (at(eps) - at(-eps)) / (2 * eps);
        }
      });
      assertClose(analytic, numeric, { atol: o.atol ?? 1e-6, rtol: o.rtol ?? 1e-5 }, `gradient of input ${k}`);
    }
  });
}

/** Asserts fn throws an Error whose message contains every needle. */
export function assertThrowsWith(fn: () => unknown, needles: readonly string[], type: new (...a: never[]) => Error = Error): Error {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof type, `expected a ${type.name}, got ${String(caught)}`);
  const msg = (caught as Error).message;
  for (const n of needles) assert.ok(msg.includes(n), `message ${JSON.stringify(msg)} lacks ${JSON.stringify(n)}`);
  return caught as Error;
}
