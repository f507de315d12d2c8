// Optimizer steps against their formulas (PyTorch semantics), lr changes and state round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adam, adamw, backward, noGrad, ops, requiresGrad, setNumThreads, sgd, tidy, type Optimizer, type Tensor } from '../../src/engine/index.js';
import { Nd, Prng, assertClose, randNd, toTensor } from './helpers.js';

setNumThreads(1);

const N = 5;
/** Leaf parameters (float64, kept out of scopes) with the given values. */
function makeParam(values: Nd): Tensor {
  return requiresGrad(toTensor(values, 'float64').keep());
}
/** Sets p.grad to g exactly: backward of sum(p * g). */
function setGrad(p: Tensor, g: Nd): void {
  tidy(() => backward(ops.sum(ops.mul(p, toTensor(g, 'float64')))));
}
function gradsFor(seed: number, steps: number): Nd[] {
  const rng = new Prng(seed);
  return Array.from({ length: steps }, () => randNd(rng, [N], -1, 1, 'float64'));
}
function run(opt: Optimizer, p: Tensor, grads: Nd[]): void {
  for (const g of grads) {
    opt.zeroGrad();
    setGrad(p, g);
    opt.step();
  }
}

interface SgdCfg {
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
}
function sgdRef(p0: Nd, grads: Nd[], c: SgdCfg): Nd {
  const p = Float64Array.from(p0.data);
  let buf: Float64Array | null = null;
  for (const g of grads) {
    const d = p.map((v, i) => g.data[i] + c.weightDecay * v);
    if (c.momentum) {
      const b: Float64Array = buf ? buf.map((v, i) => c.momentum * v + d[i]) : Float64Array.from(d);
      buf = b;
      if (c.nesterov) d.forEach((v, i) => (d[i] = v + c.momentum * b[i]));
      else d.set(b);
    }
    p.forEach((v, i) => (p[i] = v - c.lr * d[i]));
  }
  return new Nd(p, p0.shape);
}

interface AdamCfg {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
}
function adamRef(p0: Nd, grads: Nd[], c: AdamCfg): Nd {
  const p = Float64Array.from(p0.data);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  grads.forEach((gNd, k) => {
    const t = k + 1;
    if (c.decoupled) p.forEach((x, i) => (p[i] = x * (1 - c.lr * c.weightDecay)));
    const g = gNd.data.map((x, i) => (c.decoupled ? x : x + c.weightDecay * p[i]));
    for (let i = 0; i < p.length; i++) {
      m[i] = c.beta1 * m[i] + (1 - c.beta1) * g[i];
      v[i] = c.beta2 * v[i] + (1 - c.beta2) * g[i] * g[i];
      const mHat = m[i] / (1 - c.beta1 ** t);
      const vHat = v[i] / (1 - c.beta2 ** t);
      p[i] -= (c.lr * mHat) / (Math.sqrt(vHat) + c.eps);
    }
  });
  return new Nd(p, p0.shape);
}

test('SGD: plain, momentum, Nesterov, weight decay over 3 steps', () => {
  const cfgs: SgdCfg[] = [
    { lr: 0.1, momentum: 0, weightDecay: 0, nesterov: false },
    { lr: 0.1, momentum: 0.9, weightDecay: 0, nesterov: false },
    { lr: 0.05, momentum: 0.9, weightDecay: 0, nesterov: true },
    { lr: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: false },
    { lr: 0.2, momentum: 0.9, weightDecay: 5e-4, nesterov: true },
  ];
  cfgs.forEach((c, k) => {
    const p0 = randNd(new Prng(70 + k), [N], -1, 1, 'float64');
    const grads = gradsFor(80 + k, 3);
    const p = makeParam(p0);
    run(sgd([p], c), p, grads);
    assertClose(p, sgdRef(p0, grads, c), { atol: 1e-12, rtol: 1e-12 }, `sgd ${JSON.stringify(c)}`);
    p.dispose();
  });
});

test('AdamW (decoupled decay) and Adam (L2) over 3 steps', () => {
  const cases: [string, AdamCfg][] = [
    ['adamw', { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true }],
    ['adamw', { lr: 0.05, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, decoupled: true }],
    ['adam', { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false }],
    ['adam', { lr: 0.02, beta1: 0.85, beta2: 0.995, eps: 1e-7, weightDecay: 0.05, decoupled: false }],
  ];
  cases.forEach(([kind, c], k) => {
    const p0 = randNd(new Prng(90 + k), [N], -1, 1, 'float64');
    const grads = gradsFor(100 + k, 3);
    const p = makeParam(p0);
    const o = { lr: c.lr, beta1: c.beta1, beta2: c.beta2, eps: c.eps, weightDecay: c.weightDecay };
    run(kind === 'adamw' ? adamw([p], o) : adam([p], o), p, grads);
    assertClose(p, adamRef(p0, grads, c), { atol: 1e-12, rtol: 1e-10 }, `${kind} ${JSON.stringify(c)}`);
    p.dispose();
  });
  // AdamW's default weight decay is 0.01
  const p0 = randNd(new Prng(110), [N], -1, 1, 'float64');
  const grads = gradsFor(111, 2);
  const p = makeParam(p0);
  run(adamw([p], { lr: 0.01 }), p, grads);
  assertClose(p, adamRef(p0, grads, { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true }), { atol: 1e-12, rtol: 1e-10 }, 'adamw defaults');
  p.dispose();
});

test('the lr setter takes effect on the next step', () => {
  const p0 = new Nd([1, 2, 3, 4, 5], [N]);
  const grads = gradsFor(120, 2);
  const p = makeParam(p0);
  const opt = sgd([p], { lr: 0.1 });
  assert.equal(opt.lr, 0.1);
  run(opt, p, grads.slice(0, 1));
  opt.lr = 0.5;
  assert.equal(opt.lr, 0.5);
  run(opt, p, grads.slice(1));
  const ref = p0.map((v, i) => v - 0.1 * grads[0].data[i] - 0.5 * grads[1].data[i]);
  assertClose(p, ref, { atol: 1e-12, rtol: 1e-12 }, 'sgd with changed lr');
  p.dispose();
  assert.throws(() => sgd([], { lr: 0 }), RangeError);
});

test('saveState/loadState: a restored optimizer continues identically', () => {
  const makers: [string, (ps: Tensor[]) => Optimizer][] = [
    ['sgd nesterov', (ps) => sgd(ps, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 })],
    ['adam', (ps) => adam(ps, { lr: 0.01 })],
    ['adamw', (ps) => adamw(ps, { lr: 0.01, weightDecay: 0.1 })],
  ];
  for (const [name, make] of makers) {
    const p0 = randNd(new Prng(130), [N], -1, 1, 'float64');
    const grads = gradsFor(131, 5);
    const a = makeParam(p0);
    const optA = make([a]);
    run(optA, a, grads.slice(0, 2));
    const state = optA.saveState();
    assert.ok(Buffer.isBuffer(state) && state.length > 0);

    // a copy of the parameters with a fresh optimizer that loads the state
    const b = makeParam(new Nd(a.toArray(), [N]));
    const optB = make([b]);
    optB.loadState(state);
    // the same copy with a fresh, state-less optimizer must diverge (so the test can fail)
    const c = makeParam(new Nd(a.toArray(), [N]));
    const optC = make([c]);

    run(optA, a, grads.slice(2));
    run(optB, b, grads.slice(2));
    run(optC, c, grads.slice(2));
    assert.deepEqual(b.toArray(), a.toArray(), `${name}: restored optimizer matches`);
    assert.notDeepEqual(c.toArray(), a.toArray(), `${name}: a fresh optimizer differs`);
    assert.throws(() => optB.loadState(Buffer.from('not an archive')), /loadState/);
    for (const t of [a, b, c]) t.dispose();
  }
});

test('an optimizer skips parameters without gradients and does not track its updates', () => {
  const p = makeParam(new Nd([1, 2, 3, 4, 5], [N]));
  const q = makeParam(new Nd([5, 4, 3, 2, 1], [N]));
  const opt = sgd([p, q], { lr: 1 });
  setGrad(p, new Nd([1, 1, 1, 1, 1], [N]));
  opt.step();
  assert.deepEqual(p.toArray(), [0, 1, 2, 3, 4]);
  assert.deepEqual(q.toArray(), [5, 4, 3, 2, 1]);
  noGrad(() => assert.equal(p.dtype, 'float64'));
  p.dispose();
  q.dispose();
});
