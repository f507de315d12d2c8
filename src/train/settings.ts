// The settings a child network trains with, declared once. Each entry says
// what the setting is (its TrainConfig field, flag, kind of value, help), its
// default per task family, and where it applies. From this table come:
//  - TrainConfig's defaults (defaultConfig);
//  - the `train` and `search` flags, their --config keys and a resumed
//    search's overlay (cli/child-settings.ts adds them to a commander Command);
//  - a search child's TrainConfig (childTrainConfig) from the study's stored
//    ChildTrainConfig;
//  - the checks shared by every command (childSettingsProblem).
// Engine-free on purpose: the CLI checks its flags before libtorch loads.
import { availableParallelism } from 'node:os';
import { DEFAULT_IMAGE_SIZE } from '../data/image-decode.js';
import { MODEL_NAME_HELP, modelKind, modelTaskProblem } from '../models/names.js';
import { LANGUAGE_TASKS, isImageTask, type TaskName } from './task-names.js';

/**
 * The numeric precision a child trains in: float32, or mixed precision (the
 * forward pass and the loss under autocast to bfloat16 or float16, float32
 * master weights and optimizer; float16 with a loss scaler, on CUDA only).
 */
export const PRECISIONS = ['fp32', 'bf16', 'fp16'] as const;
export type Precision = (typeof PRECISIONS)[number];

/** Why a precision cannot train on a device ('cpu', 'cuda:1'), worded for the command line, or null. */
export function precisionProblem(p: Precision, device: string): string | null {
  if (p === 'fp16' && !device.startsWith('cuda')) {
    return `--precision fp16 needs a CUDA device (libtorch's CPU autocast has bfloat16 only); these children train on ${device}: use --precision bf16 or fp32.`;
  }
  return null;
}

export interface TrainConfig {
  task: TaskName;
  model: string;
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  weightDecay: number;
  /** SGD momentum (images). */
  momentum: number;
  /** Fraction of all steps spent warming the learning rate up. */
  warmup: number;
  /** Max global gradient norm (0 = off). */
  gradClip: number;
  trainLimit?: number;
  valSize?: number;
  dataDir?: string;
  augment: boolean;
  threads: number;
  evalBatchSize: number;
  /** Language models: tokens per training window, vocabulary cap (undefined: none, every training token). */
  seqLen: number;
  vocabSize: number | undefined;
  /** imagenet: side of the square crops the model sees (undefined: 224). */
  imageSize?: number;
  /** txl-L-D: positions of memory carried between segments (undefined: seqLen, the original's mem_len = tgt_len). */
  memLen?: number;
  /** Evaluate the test split at the end (the search turns it off). */
  evaluateTest: boolean;
  precision: Precision;
}

/** How a flag's text becomes a value (cli/child-settings.ts maps each to its parser; `directory`: one that exists). */
export type SettingKind = 'positive-int' | 'non-negative-int' | 'positive-number' | 'non-negative-number' | 'directory' | 'text' | 'switch' | 'choice';

/** Where a setting means something; giving it elsewhere is refused with `refusal`. */
export interface SettingScope {
  applies(task: TaskName, model: string): boolean;
  refusal(task: TaskName, model: string): string;
}

/** What a default depends on. */
export interface DefaultContext {
  task: TaskName;
  model: string;
  image: boolean;
}

/** The settings a command line or a study may give a child. */
export type ChildSettingKey =
  | 'model'
  | 'epochs'
  | 'batchSize'
  | 'lr'
  | 'seed'
  | 'trainLimit'
  | 'valSize'
  | 'dataDir'
  | 'weightDecay'
  | 'gradClip'
  | 'warmup'
  | 'augment'
  | 'imageSize'
  | 'seqLen'
  | 'vocabSize'
  | 'memLen'
  | 'precision';

/** Given settings: those absent take their default. */
export type ChildSettings = { [K in ChildSettingKey]?: Exclude<TrainConfig[K], undefined> };

export interface ChildSetting<K extends ChildSettingKey = ChildSettingKey> {
  /** The TrainConfig field; also the flag's attribute name and its --config key. */
  key: K;
  /** Long flag, e.g. '--batch-size'; its value placeholder ('<n>'), absent for a switch. */
  flag: string;
  arg?: string;
  kind: SettingKind;
  /** A `choice`'s values. */
  choices?: readonly string[];
  help: string;
  /**
   * The default: one value per task family, or a function of the task and
   * model (then `defaultHelp` says it in words). Absent: none (undefined).
   */
  default?: { image: TrainConfig[K]; language: TrainConfig[K] } | ((c: DefaultContext) => TrainConfig[K]);
  defaultHelp?: string;
  /** A switch's negation ('--no-augment') and what it says. */
  negation?: string;
  scope?: SettingScope;
}

const LANGUAGE_ONLY: SettingScope = {
  applies: (task) => !isImageTask(task),
  refusal: () => `--seq-len and --vocab-size are for language tasks (${LANGUAGE_TASKS.join(', ')}).`,
};

const setting = <K extends ChildSettingKey>(s: ChildSetting<K>): ChildSetting<K> => s;

/** imagenet's crop side for a model: its published resolution where it has one (efficientnet-b0 224 … b7 600), else 224. */
export function imagenetImageSize(model: string): number {
  return modelKind(model)?.resolution?.(model) ?? DEFAULT_IMAGE_SIZE;
}

const DEFAULT_MODELS = { image: 'wrn-10-1', language: 'tlm-2-128' } as const;

/** Every child-training setting, in the order the usage lists them. */
export const CHILD_SETTINGS = [
  setting({
    key: 'model',
    flag: '--model',
    arg: '<name>',
    kind: 'text',
    help: `child network: ${MODEL_NAME_HELP}`,
    default: DEFAULT_MODELS,
  }),
  setting({ key: 'epochs', flag: '--epochs', arg: '<n>', kind: 'positive-int', help: 'training epochs', default: { image: 3, language: 1 } }),
  setting({ key: 'batchSize', flag: '--batch-size', arg: '<n>', kind: 'positive-int', help: 'examples (images) or sequences (text) per step', default: { image: 64, language: 32 } }),
  setting({
    key: 'lr',
    flag: '--lr',
    arg: '<x>',
    kind: 'positive-number',
    help: 'peak learning rate (SGD with Nesterov momentum for images, AdamW for text)',
    default: { image: 0.1, language: 2e-3 },
  }),
  setting({ key: 'seed', flag: '--seed', arg: '<n>', kind: 'non-negative-int', help: 'seed for weights, data order, validation split and dropout masks', default: { image: 0, language: 0 } }),
  setting({
    key: 'trainLimit',
    flag: '--train-limit',
    arg: '<n>',
    kind: 'positive-int',
    help: 'use only N training examples (images; imagenet: a class-balanced draw) or the last N tokens, those next to the validation text (text)',
  }),
  setting({
    key: 'valSize',
    flag: '--val-size',
    arg: '<n>',
    kind: 'positive-int',
    help: "images held out of the training set for validation (default 5000: 10% of CIFAR, the paper's reduced-ImageNet 5,000)",
    scope: { applies: (task) => isImageTask(task), refusal: () => "--val-size is for image tasks (language tasks use their corpus's own train/valid/test split)." },
  }),
  setting({
    key: 'dataDir',
    flag: '--data-dir',
    arg: '<dir>',
    kind: 'directory',
    help:
      'directory searched first for the dataset: cifar10/cifar100 cifar-10-batches-bin/ / cifar-100-binary/ (or a folder holding it); ' +
      'imagenet ROOT with train/<class>/ and val/<class>/; ptb simple-examples/data/; wikitext-2/-103 wikitext-2/ / wikitext-103/ (or a folder holding it)',
  }),
  setting({ key: 'weightDecay', flag: '--weight-decay', arg: '<x>', kind: 'non-negative-number', help: 'weight decay', default: { image: 5e-4, language: 0.01 } }),
  setting({ key: 'gradClip', flag: '--grad-clip', arg: '<x>', kind: 'non-negative-number', help: 'max global gradient norm, 0 = off', default: { image: 5, language: 1 } }),
  setting({ key: 'warmup', flag: '--warmup', arg: '<fraction>', kind: 'non-negative-number', help: 'fraction of steps for linear lr warm-up', default: { image: 0.03, language: 0.05 } }),
  setting({
    key: 'augment',
    flag: '--augment',
    kind: 'switch',
    help: 'image augmentation: crop (MNIST family), pad-4 crop + flip (CIFAR), random-resized-crop + flip (imagenet)',
    // Crop augmentation slows the short runs a search trains (measured: wrn-10-1,
    // 10k Fashion-MNIST, 3 epochs: 82.7% with it, 86.1% without), so it is opt-in
    // for the MNIST family. CIFAR and ImageNet train with their standard
    // augmentation (pad-4 crop + flip; random-resized-crop + flip), as the paper.
    default: ({ task }) => task === 'cifar10' || task === 'cifar100' || task === 'imagenet',
    defaultHelp: 'on for cifar10/cifar100/imagenet, off for the MNIST family: it slows short runs',
    negation: 'no augmentation (imagenet then trains on the evaluation crops)',
  }),
  setting({
    key: 'imageSize',
    flag: '--image-size',
    arg: '<n>',
    kind: 'positive-int',
    help: 'imagenet: side of the square crops the model sees',
    default: ({ task, model }) => (task === 'imagenet' ? imagenetImageSize(model) : undefined),
    defaultHelp: 'efficientnet-bN its own resolution, other models 224',
    scope: { applies: (task) => task === 'imagenet', refusal: (task) => `--image-size is for imagenet (images decoded from files); ${task} images have a fixed size.` },
  }),
  setting({ key: 'seqLen', flag: '--seq-len', arg: '<n>', kind: 'positive-int', help: 'tokens per training window (text)', default: { image: 64, language: 64 }, scope: LANGUAGE_ONLY }),
  setting({
    key: 'vocabSize',
    flag: '--vocab-size',
    arg: '<n>',
    kind: 'positive-int',
    help: 'vocabulary cap incl. <unk> and <eos> (text)',
    // The benchmarks' vocabularies are part of their protocol (PTB: 10k words,
    // WikiText-2: 33,278): no cap unless one is asked for.
    default: ({ task }) => (task === 'ptb' || task === 'wikitext-2' || task === 'wikitext-103' ? undefined : 10000),
    defaultHelp: '10000 for sotu/moby-dick, none for ptb/wikitext: every training token',
    scope: LANGUAGE_ONLY,
  }),
  setting({
    key: 'memLen',
    flag: '--mem-len',
    arg: '<n>',
    kind: 'non-negative-int',
    help: "txl-L-D: positions of each layer's input kept as memory for the next segment, 0 = none",
    defaultHelp: '--seq-len',
    scope: {
      applies: (_task, model) => modelKind(model)?.id === 'txl',
      refusal: (_task, model) => `--mem-len is for txl-L-D models (Transformer-XL's segment memory), not ${model}.`,
    },
  }),
  setting({
    key: 'precision',
    flag: '--precision',
    arg: '<p>',
    kind: 'choice',
    choices: PRECISIONS,
    help:
      'fp32, or mixed precision with float32 master weights: bf16 (autocast to bfloat16; on the CPU it pays where oneDNN has bfloat16 kernels, ' +
      'e.g. AVX512-BF16 or AMX) or fp16 (float16 with a loss scaler, CUDA only)',
    default: { image: 'fp32', language: 'fp32' },
  }),
] as const satisfies readonly ChildSetting[];

const DEFAULTS_BY_FAMILY = (s: ChildSetting): s is ChildSetting & { default: { image: unknown; language: unknown } } => typeof s.default === 'object';

/** "(default 3 for images, 1 for text)": the help's default, from the declaration. */
export function defaultHelpOf(s: ChildSetting): string {
  if (s.defaultHelp !== undefined) return s.defaultHelp;
  if (!DEFAULTS_BY_FAMILY(s)) return '';
  const { image, language } = s.default;
  return image === language ? String(image) : `${String(image)} for images, ${String(language)} for text`;
}

/** The default model of a task's family. */
export function defaultModel(task: TaskName): string {
  return isImageTask(task) ? DEFAULT_MODELS.image : DEFAULT_MODELS.language;
}

/** Defaults per task family (CHILD_SETTINGS), plus what no flag sets; flags override them. */
export function defaultConfig(task: TaskName, model?: string): TrainConfig {
  const image = isImageTask(task);
  const ctx: DefaultContext = { task, model: model ?? defaultModel(task), image };
  const fromSettings: Record<string, unknown> = {};
  for (const s of CHILD_SETTINGS as readonly ChildSetting[]) {
    if (s.default === undefined || s.key === 'model') continue;
    const value = typeof s.default === 'function' ? s.default(ctx) : image ? s.default.image : s.default.language;
    // vocabSize is present (as undefined: no cap) for every task; imageSize only for imagenet.
    if (value !== undefined || s.key === 'vocabSize') fromSettings[s.key] = value;
  }
  return {
    task,
    model: ctx.model,
    ...(fromSettings as Pick<TrainConfig, 'epochs' | 'batchSize' | 'lr' | 'seed' | 'weightDecay' | 'warmup' | 'gradClip' | 'augment' | 'seqLen' | 'vocabSize' | 'precision'>),
    momentum: 0.9,
    threads: availableParallelism(),
    // 224-px ImageNet batches are 100x the size of 28-px ones.
    evalBatchSize: task === 'imagenet' ? 64 : image ? 500 : 10,
    evaluateTest: true,
  };
}

/**
 * `base` with every override that is defined: how the train command's flags
 * and a search study's child settings both land on defaultConfig().
 */
export function withOverrides(base: TrainConfig, overrides: Partial<TrainConfig>): TrainConfig {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...base, ...defined };
}

/** The settings among `values` that are given (defined), keyed as CHILD_SETTINGS. */
export function givenChildSettings(values: Readonly<Record<string, unknown>>): ChildSettings {
  const given: Record<string, unknown> = {};
  for (const s of CHILD_SETTINGS) if (values[s.key] !== undefined) given[s.key] = values[s.key];
  return given as ChildSettings;
}

/**
 * What the search trains every child with (the same for all trials of a
 * study), as stored with the study: the given settings only (absent ones take
 * the task's defaults, so studies made before a setting existed read as
 * before), with the epochs always and the seed under the name `childSeed`.
 */
export type ChildTrainConfig = Omit<ChildSettings, 'seed' | 'model' | 'epochs'> & {
  task: TaskName;
  model: string;
  epochs: number;
  /** Seed of every child's weights/data order; the pattern is the only thing that varies. */
  childSeed: number;
};

/** A child's stored settings: the task, model, epochs and seed always (the seed `seedDefault` when not given), the rest as given. */
export function makeChildTrainConfig(task: TaskName, model: string, given: ChildSettings, seedDefault = 0): ChildTrainConfig {
  const { epochs, model: _model, seed, ...rest } = given;
  return { task, model, epochs: epochs ?? defaultConfig(task, model).epochs, childSeed: seed ?? seedDefault, ...rest };
}

/** Given settings in the stored form of ChildTrainConfig (`seed` is `childSeed` there). */
export function storedChildSettings(given: ChildSettings): Partial<ChildTrainConfig> {
  const { seed, ...rest } = given;
  return { ...rest, ...(seed !== undefined ? { childSeed: seed } : {}) };
}

/**
 * The trainer's configuration for a child: the task's defaults, the study's
 * settings; the test split only when asked (compare's final runs), never in a search.
 */
export function childTrainConfig(child: ChildTrainConfig, threads: number, evaluateTest = false): TrainConfig {
  const { childSeed, task, ...settings } = child;
  return withOverrides(defaultConfig(task, child.model), {
    ...givenChildSettings(settings),
    seed: childSeed,
    threads,
    // A search never sees the test split (docs/architecture.md, "The search"); compare's final runs evaluate it once, at the end.
    evaluateTest,
  });
}

/**
 * The first reason the child settings cannot go together, worded for the
 * command line (flags named), or null: the model must exist and fit the
 * task's family, and each given setting must apply to the task and model.
 */
export function childSettingsProblem(task: TaskName, model: string, given: ChildSettings): string | null {
  const m = modelTaskProblem(model, task, isImageTask(task) ? 'image' : 'language');
  if (m?.kind === 'name') return modelKind(model) ? `--model ${m.message}.` : `--model '${model}' is not a model: expected ${MODEL_NAME_HELP}.`;
  if (m) return `--model ${model} cannot train on --task ${task}: ${m.message}.`;
  for (const s of CHILD_SETTINGS as readonly ChildSetting[]) {
    if (s.scope && given[s.key] !== undefined && !s.scope.applies(task, model)) return s.scope.refusal(task, model);
  }
  return null;
}
