// The comparison's statistics against values computed by hand: the mean and
// sample standard deviation, the paired t statistic and its two-sided p-value
// (Student's t with 4 degrees of freedom has a closed-form CDF), and exact
// Wilcoxon signed-rank p-values (counting sign assignments of the ranks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairedTest, summarize } from '../../src/compare/stats.js';

const close = (got: number | null, want: number, tol = 1e-9, what = ''): void => {
  assert.ok(got !== null && Math.abs(got - want) <= tol, `${what}: got ${got}, want ${want} (±${tol})`);
};

/**
 * Two-sided p of Student's t with 4 degrees of freedom, from its CDF
 * F(t) = 1/2 + (3/8)·a·(1 − b/12), a = t/√(1 + t²/4), b = t²/(1 + t²/4):
 * p = 2·(1 − F(|t|)) = 1 − (3/4)·|a|·(1 − b/12).
 */
function pT4(t: number): number {
  const q = 1 + (t * t) / 4;
  return 1 - 0.75 * (Math.abs(t) / Math.sqrt(q)) * (1 - (t * t) / q / 12);
}

test('summarize: mean and sample standard deviation (n − 1)', () => {
  const s = summarize([1, 2, 3, 4, 5]);
  assert.equal(s.n, 5);
  close(s.mean, 3, 1e-12, 'mean');
  // Squared deviations 4+1+0+1+4 = 10; 10/4 = 2.5.
  close(s.std, Math.sqrt(2.5), 1e-12, 'std');
  assert.deepEqual(summarize([0.7]), { n: 1, mean: 0.7, std: null });
  assert.deepEqual(summarize([]), { n: 0, mean: null, std: null });
});

test('paired t-test and Wilcoxon: differences all one sign', () => {
  // d = x − y = [−0.5, −0.1, −0.9, −0.2, −0.8]: mean −0.5; squared deviations
  // 0, 0.16, 0.16, 0.09, 0.09 = 0.5, variance 0.125; t = −0.5 / √(0.125/5) = −√10.
  const r = pairedTest([1, 2, 3, 4, 5], [1.5, 2.1, 3.9, 4.2, 5.8]);
  assert.equal(r.n, 5);
  close(r.meanDiff, -0.5, 1e-12, 'mean difference');
  close(r.stdDiff, Math.sqrt(0.125), 1e-12, 'std of differences');
  close(r.t, -Math.sqrt(10), 1e-9, 't');
  assert.equal(r.df, 4);
  // With t² = 10: p = 1 − (4/7)·√(20/7) = 0.0341094...
  close(r.pValue, 1 - (4 / 7) * Math.sqrt(20 / 7), 1e-6, 'p (t)');
  close(r.pValue, pT4(-Math.sqrt(10)), 1e-6, 'p (t) from the CDF');
  // Every difference negative: W+ = 0; of the 2^5 sign assignments only "all −"
  // (and "all +" on the other side) are as extreme: p = 2/32.
  close(r.wilcoxonP, 2 / 32, 1e-12, 'p (Wilcoxon)');
  assert.equal(r.note, null);
});

test('paired t-test and Wilcoxon: mixed signs', () => {
  // d = [0.3, −0.1, 0.5, 0.2, 0.4]: mean 0.26; squared deviations 0.0016, 0.1296,
  // 0.0576, 0.0036, 0.0196 = 0.212, variance 0.053; t = 0.26 / √(0.053/5).
  const r = pairedTest([1.3, 0.9, 1.5, 1.2, 1.4], [1, 1, 1, 1, 1]);
  close(r.meanDiff, 0.26, 1e-12, 'mean difference');
  close(r.stdDiff, Math.sqrt(0.053), 1e-12, 'std');
  const t = 0.26 / Math.sqrt(0.053 / 5);
  close(r.t, t, 1e-9, 't');
  close(r.pValue, pT4(t), 1e-6, 'p (t)');
  // |d| ranks 3, 1, 5, 2, 4; W− = 1 (the −0.1). Sign assignments with W− ≤ 1:
  // {} and {1}: 2 of 32 on each side -> p = 4/32.
  close(r.wilcoxonP, 4 / 32, 1e-12, 'p (Wilcoxon)');
});

test('Wilcoxon: a statistic at the centre of its distribution has p = 1, not more', () => {
  // d = [1, 2, −3]: W+ = 3. Of the 8 sign assignments, W+ takes 0, 1, 2, 3, 3,
  // 4, 5, 6: P(W+ ≤ 3) = P(W+ ≥ 3) = 5/8, so the two-sided p is min(1, 2 × 5/8) = 1.
  assert.equal(pairedTest([1, 2, -3], [0, 0, 0]).wilcoxonP, 1);
  // d = [1, −2, 3]: W+ = 4, P(W+ ≥ 4) = 3/8: p = 6/8 (below 1, unchanged).
  close(pairedTest([1, -2, 3], [0, 0, 0]).wilcoxonP, 6 / 8, 1e-12, 'p (Wilcoxon)');
});

test('undefined tests are null with the reason, never NaN', () => {
  const one = pairedTest([0.8], [0.7]);
  assert.deepEqual([one.t, one.pValue, one.wilcoxonP], [null, null, null]);
  assert.match(one.note ?? '', /1 pair: no test/);
  const same = pairedTest([1.5, 2.5, 3.5], [1, 2, 3]);
  assert.deepEqual([same.t, same.pValue], [null, null]);
  assert.match(same.note ?? '', /every difference is the same/);
  // The same difference up to floating-point rounding counts as the same.
  const rounded = pairedTest([0.94, 0.935, 0.95], [0.93, 0.925, 0.94]);
  assert.ok(rounded.stdDiff! > 0, 'the rounding is really there');
  assert.deepEqual([rounded.t, rounded.pValue], [null, null]);
  const zero = pairedTest([0.8, 0.9], [0.8, 0.9]);
  assert.equal(zero.wilcoxonP, null);
  assert.match(zero.note ?? '', /every difference is zero/);
  assert.throws(() => pairedTest([1, 2], [1]), /2 candidate values but 1 baseline values/);
});
