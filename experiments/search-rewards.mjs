#!/usr/bin/env node
// The rewards of every study in a search database, in blocks of trials (in
// the order they were asked): does the rl controller's sampling improve over
// the search, against random sampling at the same budget? Prints a Markdown
// table: per study, the mean validation reward of each block, the mean and
// median over all done trials, and the best.
// Usage: node experiments/search-rewards.mjs DB [BLOCK, default 10]   (after npm run build)
import { SearchStore } from '../dist/src/search/store.js';

const [db, blockArg] = process.argv.slice(2);
if (!db) {
  console.error('usage: node experiments/search-rewards.mjs DB [BLOCK]');
  process.exit(2);
}
const block = Number(blockArg ?? 10);
const store = SearchStore.open(db, { readonly: true });
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (v) => `${(v * 100).toFixed(2)} %`;
try {
  const studies = store.listStudies();
  const rows = studies.map((s) => {
    const done = store.trials(s.id, ['done']).sort((a, b) => a.id - b.id).map((t) => t.reward);
    const blocks = [];
    for (let i = 0; i < done.length; i += block) blocks.push(mean(done.slice(i, i + block)));
    return { name: s.name, done, blocks };
  });
  const nBlocks = Math.max(...rows.map((r) => r.blocks.length));
  const heads = Array.from({ length: nBlocks }, (_, k) => `trials ${k * block + 1}-${(k + 1) * block}`);
  console.log(`| study | ${heads.join(' | ')} | mean | median | best |`);
  console.log(`|---|${heads.map(() => '---').join('|')}|---|---|---|`);
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.blocks.map(pct).join(' | ')} | ${pct(mean(r.done))} | ${pct(median(r.done))} | ${pct(Math.max(...r.done))} |`);
  }
} finally {
  store.close();
}
