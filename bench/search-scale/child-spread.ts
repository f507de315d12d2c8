// How much real search children vary in length: the spread bench/search-scale
// gives its simulated children (--sim-spread). Reads the done trials of every
// study in a search database (read-only) and prints their count, the mean,
// range and coefficient of variation (sample standard deviation over mean) of
// their training seconds.
//
//   node dist/bench/search-scale/child-spread.js experiments/images/search/search.db
import { summarize } from '../../src/compare/stats.js';
import { SearchStore } from '../../src/search/store.js';

const path = process.argv[2];
if (!path) {
  process.stderr.write('usage: node dist/bench/search-scale/child-spread.js SEARCH.db\n');
  process.exit(2);
}
try {
  const store = SearchStore.open(path, { readonly: true });
  try {
    const seconds = store
      .listStudies()
      .flatMap((s) => store.trials(s.id, ['done']))
      .map((t) => t.trainSeconds)
      .filter((x): x is number => x !== null);
    const { n, mean, std } = summarize(seconds);
    if (mean === null || std === null) throw new Error(`${path}: fewer than 2 done trials with their training seconds`);
    process.stdout.write(
      `${n} done children: ${mean.toFixed(1)} s on average, ${Math.min(...seconds).toFixed(1)}-${Math.max(...seconds).toFixed(1)} s, coefficient of variation ${(std / mean).toFixed(3)}\n`,
    );
  } finally {
    store.close();
  }
} catch (e) {
  process.stderr.write(`child-spread: ${(e as Error).message}\n`);
  process.exitCode = 1;
}
