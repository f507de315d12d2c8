#!/usr/bin/env node
// Two comparisons of the same patterns and seeds, one per precision, paired:
// for each pattern, the test metric in each, and bf16 − fp32 seed by seed
// with a paired t-test (the project's statistics, src/compare/stats.ts).
// Patterns are matched by their pattern file, not their label.
// Usage: node experiments/precision/summary.mjs FP32_DIR BF16_DIR
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pairedTest, summarize } from '../../dist/src/compare/stats.js';

const [fp32Dir, bf16Dir] = process.argv.slice(2);
if (!fp32Dir || !bf16Dir) {
  console.error('usage: node experiments/precision/summary.mjs FP32_DIR BF16_DIR');
  process.exit(2);
}
const load = (dir) => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));
const a = load(fp32Dir);
const b = load(bf16Dir);
const precisionOf = (r) => r.child.precision ?? 'fp32';
if (precisionOf(a) !== 'fp32' || precisionOf(b) !== 'bf16') {
  console.error(`summary: expected an fp32 then a bf16 comparison, got ${precisionOf(a)} (${fp32Dir}) and ${precisionOf(b)} (${bf16Dir})`);
  process.exit(2);
}
const accuracy = a.metric.name === 'accuracy';
const unit = accuracy ? 'pp' : 'ppl';
const fmt = (v) => (v === null ? '—' : accuracy ? (v * 100).toFixed(2) : v.toFixed(2));
/** The run's test metric (accuracy as a fraction, or perplexity). */
const testOf = (run) => run.test;
const key = (p) => JSON.stringify(p.file);
const rows = [
  `# ${a.model} on ${a.task}: float32 against bf16 mixed precision`,
  '',
  `Test ${accuracy ? 'accuracy (%)' : 'perplexity'}, mean ± std over the seeds both ran; bf16 − fp32 paired by seed (${unit}), two-sided paired t-test.`,
  '',
  `| pattern | seeds | fp32 | bf16 | bf16 − fp32 | p (paired t) | fp32 s/run | bf16 s/run |`,
  '|---|---|---|---|---|---|---|---|',
];
for (const p of a.patterns) {
  const q = b.patterns.find((x) => key(x) === key(p));
  if (!q) continue;
  const done = (r, label) => r.runs.filter((x) => x.pattern === label && x.state === 'done' && typeof x.test === 'number');
  const ra = done(a, p.label);
  const rb = done(b, q.label);
  const seeds = ra.map((x) => x.seed).filter((s) => rb.some((y) => y.seed === s)).sort((x, y) => x - y);
  if (seeds.length === 0) continue;
  const va = seeds.map((s) => testOf(ra.find((x) => x.seed === s)));
  const vb = seeds.map((s) => testOf(rb.find((x) => x.seed === s)));
  const sa = summarize(va);
  const sb = summarize(vb);
  const t = pairedTest(vb, va);
  const scale = accuracy ? 100 : 1;
  const secs = (runs) => (runs.reduce((s, x) => s + x.seconds, 0) / runs.length).toFixed(1);
  rows.push(
    `| ${p.label} | ${seeds.join(', ')} | ${fmt(sa.mean)} ± ${sa.std === null ? '—' : (sa.std * scale).toFixed(2)} | ${fmt(sb.mean)} ± ${sb.std === null ? '—' : (sb.std * scale).toFixed(2)} | ` +
      `${t.meanDiff === null ? '—' : `${t.meanDiff >= 0 ? '+' : ''}${(t.meanDiff * scale).toFixed(2)}`} ± ${t.stdDiff === null ? '—' : (t.stdDiff * scale).toFixed(2)} | ${t.pValue === null ? (t.note ?? '—') : t.pValue.toFixed(3)} | ${secs(ra)} | ${secs(rb)} |`,
  );
}
process.stdout.write(`${rows.join('\n')}\n`);
