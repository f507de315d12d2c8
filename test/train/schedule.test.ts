// The learning-rate schedule: linear warm-up, peak, cosine decay to the floor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { warmupCosineLr, warmupSteps } from '../../src/train/index.js';

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} != ${b}`);

test('warm-up ramps linearly from base/warm to the peak, then the cosine falls to the floor', () => {
  const total = 100;
  const warm = 10;
  const base = 0.1;
  // Ramp: (step + 1) / warm of the peak, strictly increasing.
  for (let s = 0; s < warm; s++) close(warmupCosineLr(s, total, warm, base), (base * (s + 1)) / warm, `warm-up step ${s}`);
  close(warmupCosineLr(0, total, warm, base), 0.01, 'first step');
  close(warmupCosineLr(warm - 1, total, warm, base), base, 'last warm-up step reaches the peak');
  // Peak at the end of the warm-up, never exceeded.
  close(warmupCosineLr(warm, total, warm, base), base, 'peak');
  const all = Array.from({ length: total + 1 }, (_, s) => warmupCosineLr(s, total, warm, base));
  assert.ok(all.every((v) => v >= 0));
  assert.equal(Math.max(...all), base);
  // Monotone decay after the peak, halfway at the middle of the cosine, the floor at the end.
  for (let s = warm; s < total; s++) assert.ok(all[s + 1] <= all[s], `decay at ${s}`);
  close(warmupCosineLr(warm + 45, total, warm, base), base / 2, 'midpoint');
  close(warmupCosineLr(total, total, warm, base), 0, 'end');
  close(warmupCosineLr(total + 50, total, warm, base), 0, 'past the end stays at the floor');
  close(warmupCosineLr(total, total, warm, base, 1e-3), 1e-3, 'end with a floor');
  close(warmupCosineLr(warm + 45, total, warm, base, 1e-3), 1e-3 + (base - 1e-3) / 2, 'midpoint with a floor');
});

test('without warm-up the first step is the peak', () => {
  close(warmupCosineLr(0, 10, 0, 0.5), 0.5, 'step 0');
  close(warmupCosineLr(5, 10, 0, 0.5), 0.25, 'step 5');
  close(warmupCosineLr(10, 10, 0, 0.5), 0, 'step 10');
  // A single-step run still trains at the peak.
  close(warmupCosineLr(0, 1, 0, 0.5), 0.5, 'one-step run');
});

test('warmupSteps is a floored fraction of all steps, capped', () => {
  assert.equal(warmupSteps(100, 0.03), 3);
  assert.equal(warmupSteps(100, 0.05), 5);
  assert.equal(warmupSteps(10, 0.05), 0);
  assert.equal(warmupSteps(1_000_000, 0.05), 1000);
  assert.equal(warmupSteps(1_000_000, 0.05, 200), 200);
  assert.equal(warmupSteps(100, 0), 0);
});
