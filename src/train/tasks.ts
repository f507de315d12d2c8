// A task binds a dataset to a child model: how to batch it, what a training
// step's loss is, and how to evaluate. The training loop (trainer.ts) is the
// same for every task.
import { noGrad, ops, tensor, tidy, type Tensor } from '../engine/index.js';
import { imageBatchCount, imageBatches, lmBatchCount, lmBatches, loadImageTask, loadTextTask, defaultImageAugment } from '../data/index.js';
import type { ImageSplit, ImageTask, TextTask } from '../data/index.js';
import type { Rng } from '../util/rng.js';
import type { ChildModel, ModelInput } from '../models/index.js';

export const TASKS = ['fashion-mnist', 'mnist', 'sotu', 'moby-dick'] as const;
export type TaskName = (typeof TASKS)[number];
export const isImageTask = (t: TaskName): t is 'fashion-mnist' | 'mnist' => t === 'fashion-mnist' || t === 'mnist';

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
  /** One epoch of batches; rng drives order and augmentation (images). */
  epoch(batchSize: number, rng: Rng): Iterable<unknown>;
  /** Forward pass and loss for one batch (inside the caller's scope). */
  loss(model: ChildModel, batch: unknown): StepOutput;
  evaluate(model: ChildModel, split: 'val' | 'test', batchSize: number): EvalMetrics;
  sources: string[];
}

export interface TaskOptions {
  dataDir?: string;
  trainLimit?: number;
  valSize?: number;
  seed: number;
  augment: boolean;
  vocabSize: number;
  seqLen: number;
}

function imageTensors(x: Float32Array, y: Int32Array, n: number, s: ImageSplit): [Tensor, Tensor] {
  return [tensor(x, [n, s.channels, s.height, s.width]), ops.to(tensor(y, [n]), 'int64')];
}

function imageData(task: ImageTask, o: TaskOptions): TaskData {
  const augment = o.augment ? defaultImageAugment(task) : undefined;
  const evalSplit = (model: ChildModel, split: ImageSplit, batchSize: number): EvalMetrics => {
    const wasTraining = model.training;
    model.eval();
    let lossSum = 0;
    let correct = 0;
    try {
      for (const b of imageBatches(split, { batchSize })) {
        const [l, c] = noGrad(() =>
          tidy(() => {
            const [x, y] = imageTensors(b.x, b.y, b.n, split);
            const logits = model.forward(x);
            const loss = ops.crossEntropy(logits, y, { reduction: 'sum' }).item();
            const right = ops.sum(ops.eq(ops.argmax(logits, 1), y)).item();
            return [loss, right] as const;
          }),
        );
        lossSum += l;
        correct += c;
      }
    } finally {
      model.train(wasTraining);
    }
    return { loss: lossSum / split.n, accuracy: correct / split.n };
  };
  return {
    name: task.name,
    family: 'image',
    modelInput: { inChannels: task.train.channels, numClasses: task.numClasses },
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

function textData(task: TextTask, o: TaskOptions): TaskData {
  const train = o.trainLimit ? task.train.subarray(0, Math.min(o.trainLimit, task.train.length)) : task.train;
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
    name: task.name,
    family: 'language',
    modelInput: { vocabSize: vocab, maxLen: o.seqLen },
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
  if (isImageTask(name)) {
    return imageData(loadImageTask({ task: name, dataDir: o.dataDir, valSize: o.valSize, trainLimit: o.trainLimit, seed: o.seed }), o);
  }
  return textData(loadTextTask({ task: name, vocabSize: o.vocabSize, dataDir: o.dataDir }), o);
}
