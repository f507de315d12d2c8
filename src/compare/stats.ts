// The statistics of a comparison, all from @stdlib (none written here):
// mean and sample standard deviation (n − 1) of each pattern's per-seed
// metric, and for a candidate against a baseline trained with the same seeds
// the paired differences, a two-sided paired Student's t-test and an exact
// Wilcoxon signed-rank test (exact for n ≤ 50 without ties or zero
// differences; the normal approximation otherwise, as @stdlib decides).
//
// Differences are candidate − baseline in the metric's own units (accuracy
// or perplexity); which sign is better depends on the metric and is the
// caller's to say.
import ttest from '@stdlib/stats-ttest';
import wilcoxon from '@stdlib/stats-wilcoxon';
import mean from '@stdlib/stats-strided-mean';
import stdev from '@stdlib/stats-strided-stdev';

export interface Summary {
  n: number;
  /** null when n = 0. */
  mean: number | null;
  /** Sample standard deviation (n − 1); null when n < 2. */
  std: number | null;
}

/** Mean and sample standard deviation of a list of values. */
export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  return { n, mean: n > 0 ? mean(n, values, 1) : null, std: n > 1 ? stdev(n, 1, values, 1) : null };
}

export interface PairedTest {
  /** Pairs compared. */
  n: number;
  /** Mean and sample standard deviation of candidate − baseline. */
  meanDiff: number | null;
  stdDiff: number | null;
  /** Paired t statistic, its degrees of freedom (n − 1) and two-sided p-value; null when undefined (n < 2, or every difference equal). */
  t: number | null;
  df: number | null;
  pValue: number | null;
  /** Two-sided Wilcoxon signed-rank p-value; null when undefined (n < 2, or every difference zero). */
  wilcoxonP: number | null;
  /** Why a test is missing, when one is. */
  note: string | null;
}

/**
 * Candidate against baseline, pair i = the same seed in both: the paired
 * differences, a paired t-test and a Wilcoxon signed-rank test (two-sided).
 */
export function pairedTest(candidate: readonly number[], baseline: readonly number[]): PairedTest {
  if (candidate.length !== baseline.length) throw new RangeError(`pairedTest: ${candidate.length} candidate values but ${baseline.length} baseline values; pairs need both`);
  const n = candidate.length;
  const diffs = candidate.map((c, i) => c - baseline[i]);
  const d = summarize(diffs);
  const out: PairedTest = { n, meanDiff: d.mean, stdDiff: d.std, t: null, df: null, pValue: null, wilcoxonP: null, note: null };
  const notes: string[] = [];
  if (n < 2) notes.push(`${n} pair${n === 1 ? '' : 's'}: no test`);
  // Equal differences computed in floating point (0.94 − 0.93 vs 0.95 − 0.94)
  // differ in the last bits; their tiny spread would give an absurd t.
  else if (d.std! <= 1e-9 * Math.max(...diffs.map(Math.abs))) notes.push('every difference is the same: the t-test is undefined');
  else {
    const r = ttest([...candidate], [...baseline]);
    out.t = r.statistic;
    out.df = n - 1;
    out.pValue = r.pValue;
  }
  // @stdlib's exact two-sided p is twice the smaller tail, not capped: with a
  // statistic at the centre of its distribution it exceeds 1 (n = 3, W+ = 3:
  // 2 × 5/8 = 1.25). A probability is at most 1.
  if (n >= 2 && diffs.some((x) => x !== 0)) out.wilcoxonP = Math.min(1, wilcoxon([...candidate], [...baseline]).pValue);
  else if (n >= 2) notes.push('every difference is zero: no Wilcoxon test');
  out.note = notes.length ? notes.join('; ') : null;
  return out;
}
