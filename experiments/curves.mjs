#!/usr/bin/env node
// Learning curves from a compare results.json, as a Markdown table: for each
// pattern, the mean over its seeded runs of the training loss and the
// validation metric at the given epochs (the README's regime tables).
// Usage: node experiments/curves.mjs RESULTS.json [EPOCHS, default 1,5,10,15,20,25,30] [PATTERNS, default all]
import { readFileSync } from 'node:fs';

const [file, epochsArg, patternsArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node experiments/curves.mjs RESULTS.json [EPOCHS] [PATTERNS]');
  process.exit(2);
}
const r = JSON.parse(readFileSync(file, 'utf8'));
const epochs = (epochsArg ?? '1,5,10,15,20,25,30').split(',').map(Number);
const patterns = patternsArg ? patternsArg.split(',') : r.patterns.map((p) => p.label);
const accuracy = r.metric.name === 'accuracy';
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmtVal = (v) => (accuracy ? `${(v.accuracy * 100).toFixed(1)} %` : v.perplexity.toFixed(1));
const rows = [`| pattern | ${epochs.map((e) => `epoch ${e}`).join(' | ')} |`, `|---|${epochs.map(() => '---').join('|')}|`];
for (const label of patterns) {
  const runs = r.runs.filter((x) => x.pattern === label && x.state === 'done');
  if (runs.length === 0) continue;
  const cells = epochs.map((e) => {
    const at = runs.map((x) => x.epochs.find((h) => h.epoch === e)).filter(Boolean);
    if (at.length === 0) return '';
    const val = accuracy ? { accuracy: mean(at.map((h) => h.val.accuracy)) } : { perplexity: mean(at.map((h) => Math.exp(h.val.loss))) };
    return `${mean(at.map((h) => h.trainLoss)).toFixed(3)} / ${fmtVal(val)}`;
  });
  rows.push(`| ${label} (${runs.length} runs) | ${cells.join(' | ')} |`);
}
console.log(`${r.model} on ${r.task}: mean training loss / validation ${r.metric.name} by epoch`);
console.log(rows.join('\n'));
