import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/rng.js';

function draws(r: Rng, n: number): number[] {
  return Array.from({ length: n }, () => r.nextUint32());
}

test('xoshiro128** matches the reference outputs for state [1, 2, 3, 4]', () => {
  // Reference values from the authors' C implementation.
  const r = Rng.fromState([1, 2, 3, 4]);
  assert.deepEqual(draws(r, 6), [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
});

test('same seed gives the same stream, different seeds differ', () => {
  assert.deepEqual(draws(new Rng(42), 50), draws(new Rng(42), 50));
  const seeds = [0, 1, 2, -1, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER];
  const firsts = seeds.map((s) => draws(new Rng(s), 4).join(','));
  assert.equal(new Set(firsts).size, seeds.length);
  assert.throws(() => new Rng(1.5), RangeError);
  assert.throws(() => new Rng(Number.NaN), RangeError);
});

test('nextFloat is in [0, 1) with mean near 1/2', () => {
  const r = new Rng(7);
  let sum = 0;
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const x = r.nextFloat();
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.005, `mean ${sum / n}`);
});

test('nextInt covers [0, n) evenly and rejects bad n', () => {
  const r = new Rng(3);
  const counts = new Array<number>(10).fill(0);
  const n = 100_000;
  for (let i = 0; i < n; i++) counts[r.nextInt(10)]++;
  for (const c of counts) assert.ok(Math.abs(c - n / 10) < 0.05 * (n / 10), `counts ${counts}`);
  assert.equal(r.nextInt(1), 0);
  const big = r.nextInt(2 ** 32);
  assert.ok(Number.isInteger(big) && big >= 0 && big < 2 ** 32);
  assert.throws(() => r.nextInt(0), RangeError);
  assert.throws(() => r.nextInt(2.5), RangeError);
});

test('shuffle is a deterministic, unbiased permutation', () => {
  const a = new Rng(5).shuffle(Array.from({ length: 100 }, (_, i) => i));
  const b = new Rng(5).shuffle(Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual(a, b);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  assert.notDeepEqual(a, Array.from({ length: 100 }, (_, i) => i));

  const typed = new Rng(5).shuffle(Int32Array.from({ length: 100 }, (_, i) => i));
  assert.deepEqual(Array.from(typed), a);

  // All 6 orders of 3 items should be about equally likely.
  const r = new Rng(11);
  const seen = new Map<string, number>();
  const trials = 60_000;
  for (let i = 0; i < trials; i++) {
    const k = r.shuffle([0, 1, 2]).join('');
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  assert.equal(seen.size, 6);
  for (const c of seen.values()) assert.ok(Math.abs(c - trials / 6) < 0.05 * (trials / 6), `${[...seen]}`);

  const p = new Rng(9).permutation(1000);
  assert.deepEqual(Array.from(p).sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
});

test('normal has mean 0 and std 1', () => {
  const r = new Rng(13);
  const n = 100_000;
  let s = 0;
  let q = 0;
  for (let i = 0; i < n; i++) {
    const x = r.normal();
    assert.ok(Number.isFinite(x));
    s += x;
    q += x * x;
  }
  const mean = s / n;
  const std = Math.sqrt(q / n - mean * mean);
  assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(std - 1) < 0.02, `std ${std}`);
  const m = new Rng(13).normal(10, 0.001);
  assert.ok(Math.abs(m - 10) < 0.01);
});

test('fork gives independent, reproducible children without advancing the parent', () => {
  const parent = new Rng(21);
  const before = parent.getState();
  const c1 = parent.fork('val-split');
  const c2 = parent.fork('val-split');
  const c3 = parent.fork('epoch');
  const c4 = parent.fork(1);
  assert.deepEqual(parent.getState(), before);
  const s1 = draws(c1, 8);
  assert.deepEqual(s1, draws(c2, 8));
  assert.notDeepEqual(s1, draws(c3, 8));
  assert.notDeepEqual(s1, draws(c4, 8));
  assert.notDeepEqual(s1, draws(parent, 8));
  // Forking after the parent moved gives a different child.
  assert.notDeepEqual(draws(parent.fork('val-split'), 8), s1);
  // Different seeds, same label: different children.
  assert.notDeepEqual(draws(new Rng(22).fork('val-split'), 8), s1);
});

test('derive depends only on seed and path', () => {
  const a = draws(Rng.derive(1, 'data', 'epoch', 3), 5);
  assert.deepEqual(a, draws(Rng.derive(1, 'data', 'epoch', 3), 5));
  assert.deepEqual(a, draws(new Rng(1).fork('data').fork('epoch').fork(3), 5));
  assert.notDeepEqual(a, draws(Rng.derive(1, 'data', 'epoch', 4), 5));
  assert.notDeepEqual(a, draws(Rng.derive(2, 'data', 'epoch', 3), 5));
  assert.notDeepEqual(draws(Rng.derive(1, 3), 5), draws(Rng.derive(1, '3'), 5));
});

test('getState/setState resume a stream exactly, through JSON', () => {
  const r = new Rng(99);
  draws(r, 17);
  r.normal();
  const saved = JSON.parse(JSON.stringify(r.getState())) as number[];
  const expected = [r.nextFloat(), r.nextInt(1000), r.normal(), r.nextUint32()];
  const resumed = Rng.fromState(saved);
  assert.deepEqual([resumed.nextFloat(), resumed.nextInt(1000), resumed.normal(), resumed.nextUint32()], expected);

  const other = new Rng(1);
  other.setState(saved);
  assert.equal(other.nextFloat(), expected[0]);
  const clone = resumed.clone();
  assert.deepEqual(draws(clone, 5), draws(resumed, 5));

  assert.throws(() => r.setState([0, 0, 0, 0]), RangeError);
  assert.throws(() => r.setState([1, 2, 3]), RangeError);
  assert.throws(() => r.setState([1, 2, 3, 2 ** 32]), RangeError);
  assert.throws(() => r.setState([1, 2, 3, -1]), RangeError);
});
