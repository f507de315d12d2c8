#!/usr/bin/env node
// The rewards of every study in a search database, in blocks of trials (in
// the order they were asked): does the rl controller's sampling improve over
// the search, against random sampling at the same budget? Prints a Markdown
// table: per study, the mean validation metric (accuracy for image tasks,
// perplexity for language models) of each block's children, the mean and
// median over all done trials, the best, and the compute: the workers' wall
// minutes of the done trials (each on one core), summed.
// Usage: node experiments/search-rewards.mjs DB [BLOCK, default 10]   (after npm run build)
import { metricFromReward } from '../dist/src/search/reward.js';
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
const show = (m) => (m.name === 'accuracy' ? `${(m.value * 100).toFixed(2)} %` : m.value.toFixed(2));
try {
  const studies = store.listStudies();
  const rows = studies.map((s) => {
    const task = s.config.child.task;
    const kind = metricFromReward(task, 1).name;
    const metric = (value) => ({ name: kind, value });
    const trials = store.trials(s.id, ['done']).sort((a, b) => a.id - b.id);
    const done = trials.map((t) => metricFromReward(task, t.reward).value);
    const coreMinutes = trials.reduce((sum, t) => sum + (t.finished - t.started), 0) / 60000;
    const blocks = [];
    for (let i = 0; i < done.length; i += block) blocks.push(metric(mean(done.slice(i, i + block))));
    const best = kind === 'accuracy' ? Math.max(...done) : Math.min(...done);
    return { name: `${s.name} (${kind})`, blocks, mean: metric(mean(done)), median: metric(median(done)), best: metric(best), coreMinutes };
  });
  const nBlocks = Math.max(...rows.map((r) => r.blocks.length));
  const heads = Array.from({ length: nBlocks }, (_, k) => `trials ${k * block + 1}-${(k + 1) * block}`);
  console.log(`| study | ${heads.join(' | ')} | mean | median | best | core-minutes |`);
  console.log(`|---|${heads.map(() => '---').join('|')}|---|---|---|---|`);
  for (const r of rows) {
    console.log(`| ${r.name} | ${r.blocks.map(show).join(' | ')} | ${show(r.mean)} | ${show(r.median)} | ${show(r.best)} | ${r.coreMinutes.toFixed(1)} |`);
  }
} finally {
  store.close();
}
