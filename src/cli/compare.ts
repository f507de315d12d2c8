// `autodropout compare` and `autodropout report`.
//
//   autodropout compare --task fashion-mnist --model wrn-10-1 --train-limit 4000 --epochs 10 \
//     --patterns none,preset:dropblock,best:runs/fm.db --grid 'dropblock:blockSize=3,5,7;keepProb=0.8,0.9' \
//     --seeds 5 --workers 2 --out runs/compare-fm
//   autodropout report --db runs/fm.db --out runs/report-fm
//
// The child settings are train's and search's (one declaration,
// train/settings.ts), with the children's first seed under --first-seed:
// run k of every pattern trains with seed first-seed + k. Flags are checked
// before anything heavy loads (exit 2); rerunning the same compare command
// continues what its database holds.
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { makeChildTrainConfig, type ChildSettings } from '../train/settings.js';
import { TASKS } from '../train/task-names.js';
import { positiveInt, positiveNumber, UsageError } from './args.js';
import { addChildSettingOptions, checkChildSettings, childSettingsFromFlags, resolveTaskFlag, type ChildSettingOptions } from './child-settings.js';
import { withConfigFile } from './config-file.js';

/** The children's settings: train's, with the seed of each pattern's first run under --first-seed. */
export const COMPARE_CHILD_SETTINGS: ChildSettingOptions = {
  seed: { flag: '--first-seed', help: "child seed of each pattern's first run; run k trains with first-seed + k (default 0)" },
};

/** Seeds per pattern when --seeds is not given. */
export const DEFAULT_SEEDS = 5;

export interface CompareFlags extends ChildSettings {
  task?: string;
  patterns?: string;
  grid?: string[];
  seeds: number;
  workers: number;
  db?: string;
  out: string;
  executor: 'local' | 'inline';
  heartbeatTimeout: number;
  json?: boolean;
  quiet?: boolean;
  dryRun?: boolean;
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

export function compareCommand(): Command {
  const cmd = new Command('compare')
    .description('train every pattern with several seeds on the test split (tuned baselines picked on validation first); write results.json, results.md, results.png')
    .option('--task <name>', `dataset: ${TASKS.join(' | ')} | auto (fashion-mnist if installed, else mnist)`)
    .option(
      '--patterns <list>',
      'comma-separated: none or preset:NAME (baselines), FILE.json or best:DB[:STUDY] (candidates: a pattern file, or the best trial of a search study)',
    )
    .option(
      '--grid <spec>',
      "a tuned baseline: PRESET:field=v1,v2;field=v1,v2 (e.g. 'dropblock:blockSize=3,5,7;keepProb=0.8,0.9,0.95'); every point trains once at the first seed, the validation-best one then with every seed (repeatable)",
      collect,
    )
    .option('--seeds <n>', 'runs per pattern, seeds first-seed .. first-seed + n − 1; a larger number on a rerun adds seeds', positiveInt('--seeds'), DEFAULT_SEEDS)
    .option('--workers <n>', 'runs trained at once: local worker processes, one thread each; the default is one per core', positiveInt('--workers'), availableParallelism());
  addChildSettingOptions(cmd, COMPARE_CHILD_SETTINGS)
    .requiredOption('--out <dir>', 'output folder: results.json, results.md, results.png, patterns/')
    .option('--db <file>', 'SQLite file of the runs (default OUT/compare.db); rerunning the same command continues it')
    .addOption(new Option('--executor <name>', 'local: worker processes (default); inline: in this process, one run at a time').choices(['local', 'inline']).default('local'))
    .option('--heartbeat-timeout <s>', 'kill a worker silent for this many seconds mid-run (then retry its run once)', positiveNumber('--heartbeat-timeout'), 120)
    .option('--quiet', 'no progress output on stderr')
    .option('--json', 'print a summary as one JSON object on stdout')
    .option('--dry-run', 'check the flags, print the comparison as JSON and exit: trains nothing');
  return withConfigFile<CompareFlags>(cmd, async (f) => {
    process.exitCode = await compareCli(f);
  });
}

/** `autodropout compare`; returns the exit code. */
export async function compareCli(f: CompareFlags): Promise<number> {
  if (f.task === undefined) throw new UsageError('--task is required.');
  if (f.patterns === undefined && !f.grid?.length) throw new UsageError('nothing to compare: give --patterns (e.g. none,preset:dropblock,best.json) and/or --grid.');
  const task = await resolveTaskFlag(f.task, f.dataDir);
  const settings = childSettingsFromFlags(f, COMPARE_CHILD_SETTINGS);
  // The runs train in local worker processes, on the CPU.
  const model = checkChildSettings(task, settings, 'cpu');
  const child = makeChildTrainConfig(task, model, settings, 0);
  const { parseGrid, gridPoints } = await import('../compare/grid.js');
  const { resolvePatternRefs } = await import('../compare/patterns.js');
  const asUsage = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof RangeError) throw new UsageError(e.message);
      throw e;
    }
  };
  const grids = (f.grid ?? []).map((g) => asUsage(() => parseGrid(g)));
  const presets = grids.map((g) => g.preset);
  const twice = presets.find((p, i) => presets.indexOf(p) !== i);
  if (twice) throw new UsageError(`two --grid for preset ${twice}: give one grid per preset (every combination of its values is tried).`);
  let patterns;
  try {
    patterns = await resolvePatternRefs(f.patterns === undefined ? [] : f.patterns.split(','), join(f.out, 'patterns'));
  } catch (e) {
    if (e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
  // Every pattern must act on this model: a usage error now, not a failed run later.
  const { dropoutForPatternFile } = await import('../layers/pattern-file.js');
  const { modelSlots } = await import('../models/index.js');
  const slots = modelSlots(model);
  for (const p of [...patterns.map((x) => ({ label: x.label, file: x.file })), ...grids.flatMap((g) => gridPoints(g))]) {
    try {
      dropoutForPatternFile(p.file, slots, { source: p.label }).dispose();
    } catch (e) {
      throw new UsageError(`--patterns/--grid ${p.label} cannot act on ${model}: ${(e as Error).message}`);
    }
  }
  const { codeVersion } = await import('./search.js');
  const setup = { child, patterns, grids, seeds: f.seeds, codeVersion: codeVersion() };
  const db = f.db ?? join(f.out, 'compare.db');
  if (f.dryRun) {
    process.stdout.write(`${JSON.stringify({ command: 'compare', db, out: f.out, executor: f.executor, workers: f.workers, ...setup }, null, 2)}\n`);
    return 0;
  }
  const { runCompare } = await import('../compare/run.js');
  const { readResults, writeResults, formatMetric, formatP } = await import('../compare/results.js');
  const { createSearchProgress } = await import('../search/progress.js');
  const { ConfigMismatchError } = await import('../search/study.js');
  const progress = createSearchProgress({ quiet: f.quiet });
  let run;
  try {
    run = await runCompare(setup, { db, out: f.out, workers: f.executor === 'inline' ? 1 : f.workers, executor: f.executor, heartbeatTimeoutMs: f.heartbeatTimeout * 1000, progress });
  } catch (e) {
    if (e instanceof ConfigMismatchError) throw new UsageError(`${e.message.replace(/; use the stored settings or another --db$/, '')}; repeat the settings the comparison started with, or use another --db (or --out)`);
    throw e;
  }
  if (run.interrupted) {
    process.stderr.write(`interrupted by ${run.interrupted}: rerun the same command to continue (${db})\n`);
    return run.interrupted === 'SIGINT' ? 130 : 143;
  }
  const results = readResults(db, setup);
  const files = await writeResults(f.out, results);
  if (f.json) {
    process.stdout.write(
      `${JSON.stringify({ out: f.out, db, files, complete: results.complete, metric: results.metric, bestBaseline: results.bestBaseline, patterns: results.patterns.map(({ file: _f, ...p }) => p), comparisons: results.comparisons, session: { finished: run.finished, requeued: run.requeued } })}\n`,
    );
  } else {
    const m = results.metric;
    const lines = [`${results.model} on ${results.task}: test ${m.name} (${m.better} is better) over seeds ${results.seeds.join(', ')}`];
    for (const p of results.patterns) lines.push(`  ${p.label}${p.label === results.bestBaseline ? ' (best baseline)' : ''}: ${formatMetric(m, p.mean)}${p.std === null ? '' : ` ± ${formatMetric(m, p.std)}`} (n=${p.n})`);
    for (const c of results.comparisons.filter((x) => results.patterns.find((p) => p.label === x.pattern)?.role === 'candidate')) {
      lines.push(`  ${c.pattern} vs ${c.baseline}: better on ${c.wins}/${c.n} seeds, paired t p = ${formatP(c.pValue)}, Wilcoxon p = ${formatP(c.wilcoxonP)}`);
    }
    if (!results.complete) lines.push('  incomplete: some runs failed or are missing (see results.md)');
    lines.push(`wrote ${files.json}, ${files.md}, ${files.png}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return 0;
}

export function reportCommand(): Command {
  return new Command('report')
    .description("charts and a page for a search database: best-so-far of every study vs trials and child-epochs, the controller's entropy and baseline, the top patterns")
    .requiredOption('--db <file>', 'the search (or compare) database')
    .requiredOption('--out <dir>', 'output folder: report.md, report.json and the PNGs')
    .option('--top <k>', 'how many of the best distinct patterns to draw (default 4)', positiveInt('--top'), 4)
    .action(async (f: { db: string; out: string; top: number }) => {
      const { existsSync } = await import('node:fs');
      if (!existsSync(f.db)) throw new UsageError(`--db ${f.db}: no such file.`);
      const { writeReport } = await import('../report/report.js');
      const r = await writeReport(f.db, f.out, { top: f.top });
      process.stdout.write(`${r.files.map((x) => join(f.out, x)).join('\n')}\n`);
    });
}
