// `autodropout search | status | export | replay | worker` (docs/architecture.md §5, §7).
//
//   autodropout search --task fashion-mnist --model wrn-10-1 --space tile --strategy rl \
//     --trials 100 --workers 2 --train-limit 10000 --epochs 3 --seed 0 --db runs/fm.db
//   autodropout search --db runs/fm.db --resume          (continue an interrupted search)
//   autodropout status --db runs/fm.db [--json]
//   autodropout export --db runs/fm.db --best -o pattern.json
//   autodropout replay --db runs/fm.db                   (exit 1 on a mismatch)
//   autodropout search ... --redis redis://HOST:6379/0   (trials as jobs on a queue named after the study)
//   autodropout worker --redis redis://HOST:6379/0 --queue fm   (on any machine: trains them)
//
// Every flag is checked before anything heavy loads (a bad one exits 2 with
// the usage); the engine, the store and the data are imported in the actions.
import { availableParallelism } from 'node:os';
import { basename, extname } from 'node:path';
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CONTROLLER_DEFAULTS, CONTROLLER_OPTION_DOCS, resolveControllerOptions, type ControllerOptions } from '../controller/options.js';
import type { StudyConfig } from '../search/types.js';
import { makeChildTrainConfig, type ChildSettings } from '../train/settings.js';
import { TASKS, isImageTask } from '../train/task-names.js';
import { nonNegativeInt, positiveInt, positiveNumber, UsageError } from './args.js';
import { addChildSettingOptions, checkChildSettings, childSettingsFromFlags, resolveTaskFlag, type ChildSettingOptions } from './child-settings.js';
import { withConfigFile } from './config-file.js';
import { addQueueOptions } from './queue-settings.js';
import type { QueueSettings } from '../search/executors/queue-settings.js';

/** Every task can be searched on (the list lives in train/task-names.ts). */
export const SEARCH_TASKS = TASKS;

/** Default controller update period (tells per update) of the rl strategy. */
export const DEFAULT_UPDATE_EVERY = 8;

/** `layers` -> `--controller-layers`, `entropyWeight` -> `--controller-entropy-weight`. */
export function controllerFlag(key: string): string {
  return `--controller-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}
/** commander's attribute name of a controller flag. */
function controllerAttr(key: string): string {
  return `controller${key[0].toUpperCase()}${key.slice(1)}`;
}

function finiteNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got '${v}'.`);
    return n;
  };
}

/** The queue flags `search` takes (QUEUE_SETTINGS with side search or both); absent when not given. */
export type SearchQueueFlags = Partial<Pick<QueueSettings, 'redis' | 'queue' | 'jobAttempts' | 'backoff'>>;

/** Where a search trains its children. */
export type ExecutorName = 'local' | 'inline' | 'bullmq';

export interface SearchFlags extends ChildSettings, SearchQueueFlags {
  task?: string;
  space?: 'tile' | 'span';
  strategy?: 'rl' | 'random' | 'fixed';
  fixed?: string;
  trials?: number;
  workers: number;
  /** The search's seed (controller, random sampling); the children's is `childSeed`. */
  seed?: number;
  childSeed?: number;
  db: string;
  name?: string;
  resume?: boolean;
  takeover?: boolean;
  prune?: 'none' | 'median';
  updateEvery?: number;
  /** Absent: bullmq with --redis, else local. */
  executor?: ExecutorName;
  heartbeatTimeout: number;
  json?: boolean;
  quiet?: boolean;
  dryRun?: boolean;
  [controllerFlag: string]: unknown;
}

/** The children's settings: train's, with the children's seed under --child-seed (--seed is the search's). */
export const SEARCH_CHILD_SETTINGS: ChildSettingOptions = {
  seed: { flag: '--child-seed', help: "seed of every child's weights and data order (default: --seed)" },
};

/** The package version, recorded with each study (a resumed study says if the code changed). */
export function codeVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return `autodropout@${pkg.version ?? '0.0.0'}`;
  } catch {
    return 'autodropout@unknown';
  }
}

/** Which controller flags the user gave (commander fills in every default, so compare with them). */
function controllerOptions(f: SearchFlags): ControllerOptions {
  const given: Partial<ControllerOptions> = {};
  for (const key of Object.keys(CONTROLLER_DEFAULTS) as (keyof ControllerOptions)[]) {
    const v = f[controllerAttr(key)];
    if (typeof v === 'number') given[key] = v;
  }
  try {
    return resolveControllerOptions(given);
  } catch (e) {
    throw new UsageError((e as Error).message.replace(/^controller options: /, 'controller flags: '));
  }
}

/** Flags -> the study's configuration; every combination commander cannot check is checked here (exit 2). */
export async function buildStudyConfig(f: SearchFlags): Promise<StudyConfig> {
  if (f.task === undefined) throw new UsageError('--task is required for a new search (with --resume, the study in --db supplies it).');
  const task = await resolveTaskFlag(f.task, f.dataDir);
  const image = isImageTask(task);
  const settings = childSettingsFromFlags(f, SEARCH_CHILD_SETTINGS);
  // Local children train on the CPU; with --redis each worker's --device decides.
  const model = checkChildSettings(task, settings, f.redis === undefined ? 'cpu' : undefined);
  const space = f.space ?? (image ? 'tile' : 'span');
  if ((space === 'tile') !== image) throw new UsageError(`--space ${space} does not fit ${model}: image models search the tile space, language models the span space.`);
  const strategy = f.strategy ?? 'rl';
  if (strategy === 'fixed' && f.fixed === undefined) throw new UsageError('--strategy fixed needs --fixed preset:NAME or --fixed FILE (the pattern every trial trains with).');
  if (strategy !== 'fixed' && f.fixed !== undefined) throw new UsageError(`--fixed only goes with --strategy fixed (got --strategy ${strategy}).`);
  if (f.fixed !== undefined) {
    // Load it now: a bad preset name or file is a usage error here, not a failed trial later.
    const { loadPatternRef } = await import('../patterns/presets.js');
    const { dropoutForPatternFile } = await import('../layers/pattern-file.js');
    const { modelSlots } = await import('../models/index.js');
    try {
      dropoutForPatternFile(loadPatternRef(f.fixed), modelSlots(model), { source: f.fixed }).dispose();
    } catch (e) {
      throw new UsageError(`--fixed ${f.fixed}: ${(e as Error).message}`);
    }
  }
  const controller = controllerOptions(f);
  return {
    name: f.name ?? basename(f.db, extname(f.db)),
    strategy,
    space,
    trials: f.trials ?? 20,
    seed: f.seed ?? 0,
    child: makeChildTrainConfig(task, model, settings, f.seed ?? 0),
    updateEvery: f.updateEvery ?? DEFAULT_UPDATE_EVERY,
    prune: f.prune ?? 'none',
    ...(f.fixed !== undefined ? { fixed: f.fixed } : {}),
    ...(strategy === 'rl' ? { controller: { ...controller } } : {}),
    codeVersion: codeVersion(),
  };
}

function addControllerFlags(cmd: Command): Command {
  for (const key of Object.keys(CONTROLLER_DEFAULTS) as (keyof ControllerOptions)[]) {
    const flag = controllerFlag(key);
    // No commander default: an absent flag is "not given" (a resumed study keeps its own values); --help shows the default.
    cmd.addOption(new Option(`${flag} <x>`, `${CONTROLLER_OPTION_DOCS[key]} (rl; default ${CONTROLLER_DEFAULTS[key]})`).argParser(finiteNumber(flag)));
  }
  return cmd;
}

export function searchCommand(): Command {
  const cmd = new Command('search')
    .description('search dropout patterns: train children with sampled patterns, learn from their validation scores')
    .option('--task <name>', `dataset: ${SEARCH_TASKS.join(' | ')} | auto (fashion-mnist if installed, else mnist); required unless --resume`)
    .addOption(new Option('--space <name>', 'search space (default tile for images, span for text)').choices(['tile', 'span']))
    .addOption(new Option('--strategy <name>', 'rl (the controller), random (uniform over the space), fixed (one pattern: baselines) (default rl)').choices(['rl', 'random', 'fixed']))
    .option('--fixed <ref>', 'with --strategy fixed: preset:NAME or a pattern file')
    .option('--trials <n>', 'children to train in all (default 20; on --resume, a larger number extends the study)', positiveInt('--trials'))
    .option(
      '--workers <n>',
      'children trained at once: local worker processes, one thread each; with --redis, trials in the queue at once (give at least the sum of the workers\' --concurrency); the default is one per core',
      positiveInt('--workers'),
      availableParallelism(),
    )
    .option('--seed <n>', 'seed of the search (controller, random sampling) (default 0)', nonNegativeInt('--seed'));
  addChildSettingOptions(cmd, SEARCH_CHILD_SETTINGS)
    .requiredOption('--db <file>', 'SQLite file of the study (created if missing), e.g. runs/NAME.db')
    .option('--name <name>', 'study name (default: the --db file name)')
    .option('--resume', 'continue the study in --db: re-queued and interrupted trials first, then new ones')
    .option('--takeover', 'with --resume: take over a study whose lock names a coordinator on another host (a copied database, a renamed container); never one still running here')
    .addOption(new Option('--prune <rule>', 'early stopping of weak children: none, or median (stop a child below the median of earlier ones at the same epoch) (default none)').choices(['none', 'median']))
    .option('--update-every <k>', `rl: update the controller after every K results (default ${DEFAULT_UPDATE_EVERY})`, positiveInt('--update-every'))
    .addOption(
      new Option('--executor <name>', 'local: worker processes on this machine (default); inline: in this process, one child at a time; bullmq: jobs on a Redis queue (default with --redis)').choices([
        'local',
        'inline',
        'bullmq',
      ]),
    )
    .option('--heartbeat-timeout <s>', 'kill a worker silent for this many seconds mid-trial (then retry its trial once)', positiveNumber('--heartbeat-timeout'), 120)
    .option('--quiet', 'no progress output on stderr')
    .option('--json', 'print the summary as one JSON object on stdout')
    .option('--dry-run', 'check the flags (and --config file), print the study configuration as JSON and exit: loads no data, trains nothing');
  addQueueOptions(cmd, 'search');
  addControllerFlags(cmd);
  return withConfigFile<SearchFlags>(cmd, async (f) => {
    const { runSearchCli } = await import('./search-actions.js');
    process.exitCode = await runSearchCli(f);
  });
}

export function statusCommand(): Command {
  return new Command('status')
    .description('trial counts, best reward and pattern, failures, timing of a study')
    .requiredOption('--db <file>', 'the study file')
    .option('--name <name>', 'which study in the file (default: the only one)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (f: { db: string; name?: string; json?: boolean }) => {
      const { statusCli } = await import('./search-actions.js');
      process.exitCode = await statusCli(f);
    });
}

export function exportCommand(): Command {
  return new Command('export')
    .description("write a study's best pattern as a pattern file (with provenance)")
    .requiredOption('--db <file>', 'the study file')
    .option('--name <name>', 'which study in the file (default: the only one)')
    .option('--best', 'the trial with the highest reward (the only choice for now; may be omitted)')
    .requiredOption('-o, --out <file>', 'where to write the pattern (.json)')
    .action(async (f: { db: string; name?: string; best?: boolean; out: string }) => {
      if (!/\.json$/i.test(f.out)) throw new UsageError(`--out must name a .json file, got '${f.out}'.`);
      const { exportCli } = await import('./search-actions.js');
      process.exitCode = await exportCli(f);
    });
}

export function replayCommand(): Command {
  return new Command('replay')
    .description("re-run a study's strategy from its log and check every sample and update matches (exit 1 on a mismatch)")
    .requiredOption('--db <file>', 'the study file')
    .option('--name <name>', 'which study in the file (default: the only one)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (f: { db: string; name?: string; json?: boolean }) => {
      const { replayCli } = await import('./search-actions.js');
      process.exitCode = await replayCli(f);
    });
}

export function workerCommand(): Command {
  const cmd = new Command('worker').description(
    'train the trials of a search that runs over Redis (search --redis): start one on every machine that should train; Ctrl-C stops it',
  );
  addQueueOptions(cmd, 'worker');
  return withConfigFile<Record<string, unknown>>(cmd, async (f) => {
    const { queueWorkerCli } = await import('./worker-action.js');
    // Exit now: a connection still retrying a Redis that went away would keep the process alive.
    process.exit(await queueWorkerCli(f));
  });
}
