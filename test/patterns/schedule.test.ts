import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scalePattern, scheduleFactor, scheduledPattern } from '../../src/patterns/schedule.js';
import type { Pattern, Schedule } from '../../src/patterns/types.js';

const ramp: Schedule = { kind: 'linear-ramp', until: 0.5 };

test('constant (or no) schedule: full strength, always applied', () => {
  for (const s of [undefined, { kind: 'constant' } as const]) {
    for (const p of [0, 0.3, 1]) assert.deepEqual(scheduleFactor(s, p), { strength: 1, probability: 1 });
  }
});

test('linear ramp scales strength from 0 to 1 by `until`, then holds', () => {
  const at = (p: number): number => scheduleFactor(ramp, p).strength;
  assert.deepEqual([0, 0.1, 0.25, 0.5, 0.75, 1].map(at), [0, 0.2, 0.5, 1, 1, 1]);
  assert.equal(scheduleFactor(ramp, 0.25).probability, 1);
  // progress outside [0, 1] is clamped
  assert.equal(at(-1), 0);
  assert.equal(at(7), 1);
  assert.deepEqual(scheduleFactor({ kind: 'linear-ramp', until: 1 }, 0.3), { strength: 0.3, probability: 1 });
});

test("applies: 'probability' ramps the chance of applying the full-strength mask", () => {
  const s: Schedule = { kind: 'linear-ramp', until: 0.5, applies: 'probability' };
  assert.deepEqual(scheduleFactor(s, 0.25), { strength: 1, probability: 0.5 });
  assert.deepEqual(scheduleFactor(s, 0.9), { strength: 1, probability: 1 });
});

test('tile and span have no rate: a strength ramp acts as a probability ramp', () => {
  for (const kind of ['tile', 'span'] as const) assert.deepEqual(scheduleFactor(ramp, 0.25, kind), { strength: 1, probability: 0.5 });
  assert.deepEqual(scheduleFactor(ramp, 0.25, 'dropblock'), { strength: 0.5, probability: 1 });
});

test('scalePattern: rates multiplied, keepProb interpolated from 1, tile/span/none unchanged', () => {
  assert.deepEqual(scalePattern({ kind: 'dropout', rate: 0.1 }, 0.5), { kind: 'dropout', rate: 0.05 });
  assert.deepEqual(scalePattern({ kind: 'spatial', rate: 0.2 }, 0), { kind: 'spatial', rate: 0 });
  assert.deepEqual(scalePattern({ kind: 'variational', rate: 0.3 }, 1), { kind: 'variational', rate: 0.3 });
  assert.deepEqual(scalePattern({ kind: 'droppath', rate: 0.4 }, 0.25), { kind: 'droppath', rate: 0.1 });
  const db: Pattern = { kind: 'dropblock', blockSize: 3, keepProb: 0.9 };
  assert.deepEqual(scalePattern(db, 0), { kind: 'dropblock', blockSize: 3, keepProb: 1 });
  assert.deepEqual(scalePattern(db, 1), db);
  const half = scalePattern(db, 0.5);
  assert.equal(half.kind === 'dropblock' && Math.abs(half.keepProb - 0.95) < 1e-12, true);
  const tile: Pattern = { kind: 'tile', size: [1, 1], stride: [2, 2], repeat: 'all', rotate: 0, shearX: 0, shearY: 0, shareC: true, residual: false };
  assert.equal(scalePattern(tile, 0.5), tile);
  assert.deepEqual(scalePattern({ kind: 'none' }, 0.5), { kind: 'none' });
  assert.throws(() => scalePattern(db, 1.5), RangeError);
  assert.throws(() => scalePattern(db, -0.1), RangeError);
});

test('scheduledPattern combines both for one slot and step', () => {
  const db: Pattern = { kind: 'dropblock', blockSize: 3, keepProb: 0.8 };
  const early = scheduledPattern(db, { kind: 'linear-ramp', until: 1 }, 0.25);
  assert.equal(early.probability, 1);
  assert.ok(early.pattern.kind === 'dropblock' && Math.abs(early.pattern.keepProb - 0.95) < 1e-12);
  const span: Pattern = { kind: 'span', size: 2, stride: 8, repeat: 'all', shareC: true, noise: 'zero', sublayers: ['query'] };
  assert.deepEqual(scheduledPattern(span, ramp, 0.1), { pattern: span, probability: 0.2 });
  assert.deepEqual(scheduledPattern({ kind: 'none' }, ramp, 0.1), { pattern: { kind: 'none' }, probability: 1 });
  assert.deepEqual(scheduledPattern(db, undefined, 0), { pattern: db, probability: 1 });
});

test('bad progress or schedule values throw', () => {
  assert.throws(() => scheduleFactor(ramp, NaN), /NaN/);
  assert.throws(() => scheduleFactor({ kind: 'linear-ramp', until: 0 }, 0.5), /until must be in \(0, 1\]/);
});
