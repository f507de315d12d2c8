// `autodropout train`: one child run on real data.
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { parseDropoutSpec } from '../layers/dropout-spec.js';
import type { PatternHook } from '../layers/pattern-file.js';
import { defaultConfig, precisionProblem, withOverrides, type ChildSettings, type TrainConfig } from '../train/settings.js';
import { TASKS } from '../train/task-names.js';
import { deviceName, positiveInt, UsageError } from './args.js';
import { addChildSettingOptions, checkChildSettings, childSettingsFromFlags, resolveTaskFlag } from './child-settings.js';
import { withConfigFile } from './config-file.js';

interface TrainFlags extends ChildSettings {
  task: string;
  dropout: string;
  pattern?: string;
  threads?: number;
  checkpoint?: string;
  dryRun?: boolean;
  resume?: boolean;
  json?: boolean;
  device: string;
}

/** The run's configuration: the task's defaults with the child settings given; every combination commander cannot check is checked here (exit 2). */
export async function buildConfig(f: TrainFlags): Promise<TrainConfig> {
  const task = await resolveTaskFlag(f.task, f.dataDir);
  const settings = childSettingsFromFlags(f);
  // `auto` is resolved once the engine loads (the precision is checked again then).
  const model = checkChildSettings(task, settings, f.device === 'auto' ? undefined : f.device);
  return withOverrides(defaultConfig(task, model), { ...settings, threads: f.threads });
}

export function trainCommand(): Command {
  const cmd = new Command('train')
    .description('train one child network on real data and report validation and test metrics')
    .requiredOption('--task <name>', `dataset: ${TASKS.join(' | ')} | auto (fashion-mnist if installed, else mnist)`);
  addChildSettingOptions(cmd)
    .option('--dropout <spec>', "dropout at every batch-norm / sublayer slot: 'none' or 'dropout:RATE'", 'none')
    .option('--pattern <ref>', 'a pattern file (e.g. from autodropout export) or preset:NAME, applied at the slots it addresses (not with --dropout)')
    .option('--device <name>', "cpu, cuda, cuda:N or auto (cuda when this libtorch has it)", deviceName('--device'), 'cpu')
    .option('--threads <n>', 'intra-op threads (default: all cores)', positiveInt('--threads'))
    .option('--checkpoint <dir>', 'checkpoint directory (default runs/train/TASK-MODEL-seedS)')
    .option('--resume', 'continue from the checkpoint directory if it holds a checkpoint')
    .option('--dry-run', 'check the flags (and --config file), print the resolved run as JSON and exit: loads no data, trains nothing')
    .addOption(new Option('--json', 'print one JSON object with the results on stdout'));
  return withConfigFile<TrainFlags>(cmd, async (f) => {
      let dropoutSpec;
      try {
        dropoutSpec = parseDropoutSpec(f.dropout);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      if (f.pattern !== undefined && dropoutSpec.kind !== 'none') throw new UsageError(`--pattern and --dropout ${f.dropout} both say what acts at the slots: give one.`);
      const config = await buildConfig(f);
      let patternHook: PatternHook | undefined;
      if (f.pattern !== undefined) {
        const { loadPatternRef } = await import('../patterns/presets.js');
        const { dropoutForPatternFile } = await import('../layers/pattern-file.js');
        const { modelSlots } = await import('../models/index.js');
        // An unknown preset or unreadable file is a PatternError (exit 1, with the validator's message).
        patternHook = dropoutForPatternFile(loadPatternRef(f.pattern), modelSlots(config.model), { source: f.pattern });
      }
      const checkpointDir = f.checkpoint ?? join('runs', 'train', `${config.task}-${config.model}-seed${config.seed}`);
      if (f.dryRun) {
        patternHook?.dispose();
        const run = { command: 'train', config, checkpoint: checkpointDir, resume: f.resume ?? false, device: f.device, dropout: f.dropout, pattern: f.pattern ?? null };
        process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
        return;
      }
      // The engine (libtorch, about a second to load) is imported only once a
      // run is going ahead, so usage errors, --help and --dry-run answer at once.
      const { useDevice } = await import('../engine/index.js');
      const dropout = (await import('../layers/dropout.js')).dropoutFromSpec(dropoutSpec);
      const { createProgress, train } = await import('../train/index.js');
      const device = useDevice(f.device);
      const precision = precisionProblem(config.precision, device);
      if (precision) throw new UsageError(precision);
      const progress = createProgress();
      progress.message(`training ${config.model} on ${config.task} for ${config.epochs} epoch(s), ${config.threads} thread(s) on ${device}; checkpoints in ${checkpointDir}`);
      const result = await train(config, {
        progress,
        checkpointDir,
        resume: f.resume,
        // The classic dropout goes on activations only: the batch-norm outputs
        // (images) and the Transformer sublayers, not the skip paths.
        dropoutFor: patternHook ?? ((slot) => (slot.kind === 'skip' ? null : dropout)),
      });
      if (f.json) {
        const { history: _h, ...summary } = result;
        process.stdout.write(`${JSON.stringify({ ...summary, history: result.history })}\n`);
      } else {
        const fmt = (m: typeof result.val): string =>
          m.accuracy !== undefined ? `loss ${m.loss.toFixed(4)}, accuracy ${(m.accuracy * 100).toFixed(2)}%` : `loss ${m.loss.toFixed(4)}, perplexity ${m.perplexity?.toFixed(2)}`;
        process.stdout.write(
          `validation: ${fmt(result.val)}\n` + (result.test ? `test:       ${fmt(result.test)}\n` : '') + `train time: ${result.trainSeconds.toFixed(1)} s on ${result.threads} thread(s)\n`,
        );
      }
    });
}
