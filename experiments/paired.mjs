#!/usr/bin/env node
// One pattern against another in a compare results.json, seed by seed: the
// paired test compare's results.md gives only against the best baseline (the
// README's "rl against random" figures). Uses compare's own statistics.
// Usage: node experiments/paired.mjs RESULTS.json CANDIDATE BASELINE   (after npm run build)
import { readFileSync } from 'node:fs';
import { formatDiff, formatP, formatSpread, isBetter } from '../dist/src/compare/results.js';
import { pairedTest } from '../dist/src/compare/stats.js';

const [file, candidate, baseline] = process.argv.slice(2);
if (!file || !candidate || !baseline) {
  console.error('usage: node experiments/paired.mjs RESULTS.json CANDIDATE BASELINE   (pattern labels as in results.md)');
  process.exit(2);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
const bySeed = (label) => {
  const runs = r.runs.filter((x) => x.pattern === label && x.state === 'done' && x.test !== null);
  if (runs.length === 0) {
    console.error(`${file} has no finished run of '${label}'; its patterns: ${r.patterns.map((p) => p.label).join(', ')}`);
    process.exit(1);
  }
  return new Map(runs.map((x) => [x.seed, x.test]));
};
const a = bySeed(candidate);
const b = bySeed(baseline);
const seeds = [...a.keys()].filter((s) => b.has(s)).sort((x, y) => x - y);
const t = pairedTest(seeds.map((s) => a.get(s)), seeds.map((s) => b.get(s)));
const better = seeds.filter((s) => isBetter(r.metric, a.get(s), b.get(s))).length;
console.log(`${candidate} − ${baseline}, test ${r.metric.name} (${r.metric.better} is better), seeds ${seeds.join(', ')}:`);
console.log(`difference ${formatDiff(r.metric, t.meanDiff)}${formatSpread(r.metric, t.stdDiff)}, better on ${better}/${seeds.length} seeds, paired t p = ${formatP(t.pValue)}, Wilcoxon p = ${formatP(t.wilcoxonP)}${t.note ? ` (${t.note})` : ''}`);
