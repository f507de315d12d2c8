// A task binds a dataset to a child model: how to batch it, what a training
// step's loss is, and how to evaluate. The training loop (trainer.ts) is the
// same for every task.
import { noGrad, ops, tensor, tidy, type Tensor } from '../engine/index.js';
import {
  DEFAULT_IMAGE_SIZE,
  cifarAugment,
  defaultImageAugment,
  fileBatches,
  imageBatchCount,
  imageBatches,
  lmBatchCount,
  lmBatches,
  loadCifarTask,
  loadFolderDataset,
  loadImageTask,
  loadTextTask,
  loadTokenFileTask,
} from '../data/index.js';
import type { FolderDataset, ImageAugment, ImageBatch, ImageFileList, ImageSplit, ImageTask, TextTask } from '../data/index.js';
import type { Rng } from '../util/rng.js';
import type { ChildModel, ModelInput } from '../models/index.js';
import type { TaskName } from './task-names.js';

export { IMAGE_TASKS, LANGUAGE_TASKS, TASKS, isImageTask, isTaskName, type ImageTaskId, type LanguageTaskId, type TaskName } from './task-names.js';

/** Image tasks report accuracy; language tasks perplexity. Both report mean cross-entropy as loss. */
export interface EvalMetrics {
  loss: number;
  accuracy?: number;
  perplexity?: number;
}

export interface StepOutput {
  loss: Tensor;
  examples: number;
}

export interface TaskData {
  name: TaskName;
  family: 'image' | 'language';
  modelInput: ModelInput;
  trainSize: number;
  /** Steps in one epoch at this batch size. */
  stepsPerEpoch(batchSize: number): number;
  /**
   * One epoch of batches; rng drives order and augmentation (images). Asynchronous where batches
   * are decoded from files while the previous ones train (imagenet); consume with `for await`.
   */
  epoch(batchSize: number, rng: Rng): Iterable<unknown> | AsyncIterable<unknown>;
  /** Forward pass and loss for one batch (inside the caller's scope). */
  loss(model: ChildModel, batch: unknown): StepOutput;
  evaluate(model: ChildModel, split: 'val' | 'test', batchSize: number): EvalMetrics | Promise<EvalMetrics>;
  sources: string[];
}

export interface TaskOptions {
  dataDir?: string;
  trainLimit?: number;
  valSize?: number;
  seed: number;
  augment: boolean;
  /** Vocabulary cap; undefined: the task's default (10000 for sotu / moby-dick, none for ptb / wikitext). */
  vocabSize?: number;
  seqLen: number;
  /** imagenet: side of the square crops the model sees (default DEFAULT_IMAGE_SIZE = 224). */
  imageSize?: number;
  /** txl-L-D: memory positions (default: seqLen). */
  memLen?: number;
}

/** What of a run's configuration loading its task depends on, picked from it (a TrainConfig has every field). */
export function taskOptions(c: TaskOptions): TaskOptions {
  return {
    dataDir: c.dataDir,
    trainLimit: c.trainLimit,
    valSize: c.valSize,
    seed: c.seed,
    augment: c.augment,
    vocabSize: c.vocabSize,
    seqLen: c.seqLen,
    imageSize: c.imageSize,
    memLen: c.memLen,
  };
}

function imageTensors(x: Float32Array, y: Int32Array, n: number, s: Pick<ImageSplit, 'channels' | 'height' | 'width'>): [Tensor, Tensor] {
  return [tensor(x, [n, s.channels, s.height, s.width]), ops.to(tensor(y, [n]), 'int64')];
}

/** Summed cross-entropy and correct predictions of one evaluation batch. */
function scoreImageBatch(model: ChildModel, b: ImageBatch, shape: Pick<ImageSplit, 'channels' | 'height' | 'width'>): readonly [number, number] {
  return noGrad(() =>
    tidy(() => {
      const [x, y] = imageTensors(b.x, b.y, b.n, shape);
      const logits = model.forward(x);
      const loss = ops.crossEntropy(logits, y, { reduction: 'sum' }).item();
      const right = ops.sum(ops.eq(ops.argmax(logits, 1), y)).item();
      return [loss, right] as const;
    }),
  );
}

/** The model's inputs for images of this shape (imageSize lets a model pick its stem). */
function imageModelInput(channels: number, numClasses: number, imageSize: number): ModelInput {
  return { inChannels: channels, numClasses, imageSize };
}

/** CIFAR trains with its standard pad-4 crop + flip; the MNIST family with a small crop, no flip. */
function augmentFor(task: ImageTask): ImageAugment {
  return task.name === 'cifar10' || task.name === 'cifar100' ? cifarAugment(task) : defaultImageAugment(task);
}

function imageData(name: TaskName, task: ImageTask, o: TaskOptions): TaskData {
  const augment = o.augment ? augmentFor(task) : undefined;
  const evalSplit = (model: ChildModel, split: ImageSplit, batchSize: number): EvalMetrics => {
    const wasTraining = model.training;
    model.eval();
    let lossSum = 0;
    let correct = 0;
    try {
      for (const b of imageBatches(split, { batchSize })) {
        const [l, c] = scoreImageBatch(model, b, split);
        lossSum += l;
        correct += c;
      }
    } finally {
      model.train(wasTraining);
    }
    return { loss: lossSum / split.n, accuracy: correct / split.n };
  };
  return {
    name,
    family: 'image',
    modelInput: imageModelInput(task.train.channels, task.numClasses, task.train.height),
    trainSize: task.train.n,
    stepsPerEpoch: (bs) => imageBatchCount(task.train.n, bs),
    epoch: (bs, rng) => imageBatches(task.train, { batchSize: bs, rng, augment }),
    loss(model, batch) {
      const b = batch as { x: Float32Array; y: Int32Array; n: number };
      const [x, y] = imageTensors(b.x, b.y, b.n, task.train);
      return { loss: ops.crossEntropy(model.forward(x), y), examples: b.n };
    },
    evaluate: (model, split, bs) => evalSplit(model, split === 'val' ? task.val : task.test, bs),
    sources: task.sources,
  };
}

/**
 * Images decoded from files batch by batch (folders.ts, folder-batches.ts). Training uses
 * random-resized-crop + flip when augmentation is on (the default for imagenet) and the
 * evaluation transform (resize, centre crop) when it is off.
 */
function folderData(name: TaskName, ds: FolderDataset, o: TaskOptions): TaskData {
  const size = o.imageSize ?? DEFAULT_IMAGE_SIZE;
  const shape = { channels: 3, height: size, width: size };
  const evalList = async (model: ChildModel, list: ImageFileList, batchSize: number): Promise<EvalMetrics> => {
    const wasTraining = model.training;
    model.eval();
    let lossSum = 0;
    let correct = 0;
    try {
      for await (const b of fileBatches(list, { batchSize, size, transform: 'eval' })) {
        const [l, c] = scoreImageBatch(model, b, shape);
        lossSum += l;
        correct += c;
      }
    } finally {
      model.train(wasTraining);
    }
    const n = Math.max(1, list.files.length);
    return { loss: lossSum / n, accuracy: correct / n };
  };
  return {
    name,
    family: 'image',
    modelInput: imageModelInput(3, ds.classes.length, size),
    trainSize: ds.train.files.length,
    stepsPerEpoch: (bs) => imageBatchCount(ds.train.files.length, bs),
    epoch: (bs, rng) => fileBatches(ds.train, { batchSize: bs, size, transform: o.augment ? 'train' : 'eval', rng }),
    loss(model, batch) {
      const b = batch as ImageBatch;
      const [x, y] = imageTensors(b.x, b.y, b.n, shape);
      return { loss: ops.crossEntropy(model.forward(x), y), examples: b.n };
    },
    evaluate: (model, split, bs) => evalList(model, split === 'val' ? ds.val : ds.test, bs),
    sources: ds.sources,
  };
}

function textData(name: TaskName, task: TextTask, o: TaskOptions): TaskData {
  // The last N training tokens: the text next to the validation documents
  // (the splits are contiguous, validation after train), so a small training
  // set is not also a shift of era or chapter (SOTU's first tokens are 1790).
  const train = o.trainLimit ? task.train.subarray(Math.max(0, task.train.length - o.trainLimit)) : task.train;
  const vocab = task.vocab.length;
  const lmLoss = (model: ChildModel, b: { x: Int32Array; y: Int32Array; batchSize: number; seqLen: number }, reduction: 'mean' | 'sum'): Tensor => {
    const x = ops.to(tensor(b.x, [b.batchSize, b.seqLen]), 'int64');
    const y = ops.to(tensor(b.y, [b.batchSize * b.seqLen]), 'int64');
    const logits = model.forward(x);
    return ops.crossEntropy(ops.reshape(logits, [b.batchSize * b.seqLen, vocab]), y, { reduction });
  };
  const evalTokens = (model: ChildModel, tokens: Int32Array, batchSize: number): EvalMetrics => {
    const wasTraining = model.training;
    model.eval();
    // A recurrent model (txl) reads the split from its start, without the training stream's memory.
    model.resetState?.();
    let sum = 0;
    let count = 0;
    try {
      for (const b of lmBatches(tokens, { batchSize, seqLen: o.seqLen })) {
        sum += noGrad(() => tidy(() => lmLoss(model, b, 'sum').item()));
        count += b.batchSize * b.seqLen;
      }
    } finally {
      model.resetState?.();
      model.train(wasTraining);
    }
    const loss = sum / Math.max(1, count);
    return { loss, perplexity: Math.exp(loss) };
  };
  return {
    name,
    family: 'language',
    modelInput: { vocabSize: vocab, maxLen: o.seqLen, ...(o.memLen !== undefined ? { memLen: o.memLen } : {}) },
    trainSize: train.length,
    stepsPerEpoch: (bs) => lmBatchCount(train.length, { batchSize: bs, seqLen: o.seqLen }),
    // Language-model epochs walk the stream in order (the usual "batchify"
    // protocol); the rng is unused.
    // The first batch says so (startsEpoch), so that loss() resets a recurrent
    // model's state (txl's memory) before the epoch's first forward pass.
    epoch: function* (bs) {
      let first = true;
      for (const b of lmBatches(train, { batchSize: bs, seqLen: o.seqLen })) {
        yield { ...b, startsEpoch: first };
        first = false;
      }
    },
    loss(model, batch) {
      const b = batch as { x: Int32Array; y: Int32Array; batchSize: number; seqLen: number; startsEpoch?: boolean };
      if (b.startsEpoch) model.resetState?.();
      return { loss: lmLoss(model, b, 'mean'), examples: b.batchSize * b.seqLen };
    },
    // Evaluation uses a small batch so that the stream is cut into few rows:
    // every row boundary loses the context of its first tokens.
    evaluate: (model, split, bs) => evalTokens(model, split === 'val' ? task.val : task.test, Math.min(bs, 10)),
    sources: task.sources,
  };
}

/** Loads the task's data (local files only). */
export function loadTask(name: TaskName, o: TaskOptions): TaskData {
  const split = { dataDir: o.dataDir, valSize: o.valSize, trainLimit: o.trainLimit, seed: o.seed };
  switch (name) {
    case 'fashion-mnist':
    case 'mnist':
      return imageData(name, loadImageTask({ task: name, ...split }), o);
    case 'cifar10':
    case 'cifar100':
      return imageData(name, loadCifarTask({ task: name, ...split }), o);
    case 'imagenet':
      return folderData(name, loadFolderDataset({ task: name, ...split }), o);
    case 'sotu':
    case 'moby-dick':
      return textData(name, loadTextTask({ task: name, vocabSize: o.vocabSize, dataDir: o.dataDir }), o);
    case 'ptb':
    case 'wikitext-2':
    case 'wikitext-103':
      return textData(name, loadTokenFileTask({ task: name, vocabSize: o.vocabSize, dataDir: o.dataDir }), o);
  }
}
