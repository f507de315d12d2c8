// Seeded random ops: reproducibility, independence of seeds, distributions, state round trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, ops, setNumThreads, tidy } from '../../src/engine/index.js';
import { meanOf, varOf } from './helpers.js';

setNumThreads(1);

test('the same Generator seed gives the same numbers; different seeds differ', () => {
  tidy(() => {
    const draw = (seed: number): number[][] => {
      const g = new Generator(seed);
      return [
        ops.rand([50], g).toArray(),
        ops.randn([50], g).toArray(),
        ops.randint(0, 1000, [50], g).toArray(),
        ops.randperm(20, g).toArray(),
        ops.bernoulli(ops.full([50], 0.5), g).toArray(),
      ];
    };
    const a = draw(1234);
    assert.deepEqual(draw(1234), a);
    const b = draw(1235);
    for (let k = 0; k < a.length; k++) assert.notDeepEqual(b[k], a[k], `stream ${k} differs between seeds`);
    // successive draws from one generator differ
    const g = new Generator(7);
    assert.notDeepEqual(ops.rand([10], g).toArray(), ops.rand([10], g).toArray());
    // float64 draws are reproducible too
    assert.deepEqual(ops.randn([5], new Generator(3), 'float64').toArray(), ops.randn([5], new Generator(3), 'float64').toArray());
    assert.equal(ops.randn([5], new Generator(3), 'float64').dtype, 'float64');
  });
});

test('rand is uniform on [0, 1) with mean 0.5; randn has mean 0 and std 1', () => {
  tidy(() => {
    const g = new Generator(42);
    const n = 20000;
    const u = ops.rand([n], g).toArray();
    assert.ok(u.every((v) => v >= 0 && v < 1), 'rand in [0, 1)');
    assert.ok(Math.abs(meanOf(u) - 0.5) < 0.01, `rand mean ${meanOf(u)}`);
    assert.ok(Math.abs(varOf(u, true) - 1 / 12) < 0.005, `rand var ${varOf(u, true)}`);
    const z = ops.randn([n], g).toArray();
    assert.ok(Math.abs(meanOf(z)) < 0.03, `randn mean ${meanOf(z)}`);
    assert.ok(Math.abs(Math.sqrt(varOf(z, true)) - 1) < 0.03, `randn std ${Math.sqrt(varOf(z, true))}`);
    const r = ops.randint(-3, 4, [n], g);
    assert.equal(r.dtype, 'int64');
    const ints = r.toArray();
    assert.ok(ints.every((v) => Number.isInteger(v) && v >= -3 && v < 4), 'randint in [low, high)');
    assert.equal(new Set(ints).size, 7, 'randint hits every value');
    const p = ops.randperm(30, g).toArray();
    assert.deepEqual([...p].sort((a, b) => a - b), Array.from({ length: 30 }, (_, i) => i), 'randperm is a permutation');
    const probs = ops.full([n], 0.2);
    const bern = ops.bernoulli(probs, g).toArray();
    assert.ok(bern.every((v) => v === 0 || v === 1));
    assert.ok(Math.abs(meanOf(bern) - 0.2) < 0.015, `bernoulli mean ${meanOf(bern)}`);
  });
});

test('getState/setState reproduces the continuation', () => {
  tidy(() => {
    const g = new Generator(99);
    ops.randn([17], g); // advance
    const state = g.getState();
    assert.ok(Buffer.isBuffer(state) && state.length > 0);
    const first = [ops.rand([20], g).toArray(), ops.randn([20], g).toArray()];
    const after = ops.rand([5], g).toArray();
    g.setState(state);
    assert.deepEqual([ops.rand([20], g).toArray(), ops.randn([20], g).toArray()], first, 'same generator rewound');
    // restoring into another generator (any seed) continues identically
    const h = new Generator(5);
    h.setState(state);
    assert.deepEqual([ops.rand([20], h).toArray(), ops.randn([20], h).toArray()], first, 'state copied to a fresh generator');
    assert.deepEqual(ops.rand([5], h).toArray(), after);
    assert.throws(() => g.setState(Buffer.from('nonsense')), /Generator\.setState/);
    assert.throws(() => new Generator(-1), RangeError);
    assert.throws(() => new Generator(1.5), RangeError);
  });
});

test('manualSeed makes the global generator reproducible', () => {
  tidy(() => {
    ops.manualSeed(11);
    const a = ops.rand([10]).toArray();
    const d1 = ops.dropout(ops.ones([40]), 0.5, true).toArray();
    ops.manualSeed(11);
    assert.deepEqual(ops.rand([10]).toArray(), a);
    assert.deepEqual(ops.dropout(ops.ones([40]), 0.5, true).toArray(), d1);
    assert.ok(d1.every((v) => v === 0 || v === 2), 'dropout scales kept values by 1/(1-p)');
    assert.deepEqual(ops.dropout(ops.ones([4]), 0.5, false).toArray(), [1, 1, 1, 1], 'dropout is identity in eval');
    ops.manualSeed(12);
    assert.notDeepEqual(ops.rand([10]).toArray(), a);
  });
});
