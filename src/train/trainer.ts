// The training loop shared by every child: image classifiers with SGD +
// Nesterov momentum, language models with AdamW; warm-up + cosine learning
// rate; gradient clipping; per-epoch validation and callbacks (the search
// uses them to stop weak children early); checkpoints every epoch; the test
// split is evaluated once, at the end, and never drives a decision.
import { Generator, autocast, backward, clipGradNorm, getDefaultDevice, liveTensorCount, setNumThreads, sgd, adamw, tidy, type HalfDType, type Optimizer } from '../engine/index.js';
import { createModel, modelTaskProblem, type ChildModel, type SlotDropout, type SlotInfo } from '../models/index.js';
import { Rng } from '../util/rng.js';
import { canonicalJson, checkpointExists, readCheckpoint, writeCheckpoint, writeResult } from './checkpoint.js';
import { createProgress, type ProgressReporter } from './progress.js';
import { warmupCosineLr, warmupSteps } from './schedule.js';
import { LossScaler } from './loss-scale.js';
import { precisionProblem, type Precision, type TrainConfig } from './settings.js';
import { isImageTask, loadTask, taskOptions, type EvalMetrics, type TaskData, type TaskName } from './tasks.js';

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  lr: number;
  val: EvalMetrics;
  seconds: number;
}

export interface TrainResult {
  task: TaskName;
  model: string;
  epochs: number;
  seed: number;
  val: EvalMetrics;
  test: EvalMetrics | null;
  trainSeconds: number;
  threads: number;
  parameters: number;
  history: EpochMetrics[];
  stoppedEarly: boolean;
  resumedFromEpoch: number;
  dropout: Record<string, string>;
}

export interface TrainHooks {
  /** After each epoch's validation; return 'stop' to end training early. */
  onEpoch?(m: EpochMetrics): void | 'stop' | Promise<void | 'stop'>;
  /** What acts at each dropout slot (null: identity). */
  dropoutFor?(slot: SlotInfo): SlotDropout | null;
  progress?: ProgressReporter;
  /** Directory for per-epoch checkpoints; resume from it when resume is set. */
  checkpointDir?: string;
  resume?: boolean;
  /** Preloaded task data (the search reuses it across trials). */
  data?: TaskData;
}

/** Raised when the loss stops being finite: the child diverged. */
export class DivergedError extends Error {}

function validate(c: TrainConfig): void {
  const positiveInt = (k: keyof TrainConfig): void => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer, got ${String(v)}`);
  };
  positiveInt('epochs');
  positiveInt('batchSize');
  positiveInt('threads');
  positiveInt('evalBatchSize');
  positiveInt('seqLen');
  if (c.imageSize !== undefined) positiveInt('imageSize');
  if (c.memLen !== undefined && !(Number.isSafeInteger(c.memLen) && c.memLen >= 0)) throw new RangeError(`memLen must be a non-negative integer, got ${c.memLen}`);
  if (!(c.lr > 0)) throw new RangeError(`lr must be > 0, got ${c.lr}`);
  if (!Number.isSafeInteger(c.seed) || c.seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${c.seed}`);
  // An unknown name, one that cannot be built (wrn-11-1, tlm-1-33) or one of the other family is refused before the data is loaded.
  const problem = modelTaskProblem(c.model, c.task, isImageTask(c.task) ? 'image' : 'language');
  if (problem) throw new RangeError(problem.message);
  const precision = precisionProblem(c.precision, getDefaultDevice());
  if (precision) throw new RangeError(precision);
}

/** The dtype autocast computes in for a precision (null: float32, no autocast). */
export function autocastDtypeOf(p: Precision): HalfDType | null {
  return p === 'bf16' ? 'bfloat16' : p === 'fp16' ? 'float16' : null;
}

/** Everything that changes the trajectory of a run, for refusing a mismatched resume. */
function configKey(c: TrainConfig, dropout: Record<string, string>): string {
  const { threads: _t, evalBatchSize: _e, evaluateTest: _x, dataDir: _d, precision, ...rest } = c;
  // float32 adds nothing to the key, so checkpoints made before --precision existed still resume.
  return canonicalJson({ ...rest, ...(precision !== 'fp32' ? { precision } : {}), dropout });
}

function makeOptimizer(c: TrainConfig, model: ChildModel): Optimizer {
  if (isImageTask(c.task)) return sgd(model.parameters(), { lr: c.lr, momentum: c.momentum, nesterov: true, weightDecay: c.weightDecay });
  return adamw(model.parameters(), { lr: c.lr, weightDecay: c.weightDecay, beta1: 0.9, beta2: 0.98 });
}

const yieldToEventLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

export async function train(config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  validate(config);
  setNumThreads(config.threads);
  const progress = hooks.progress ?? createProgress({ quiet: true });
  const data =
    hooks.data ??
    loadTask(config.task, taskOptions(config));
  // Independent streams: weights, dropout masks (libtorch generators) and data order (JS).
  const initGen = new Generator(config.seed);
  const model = createModel(config.model, data.modelInput, initGen);
  const maskGen = new Generator(config.seed + 1_000_003);
  const dataRng = Rng.derive(config.seed, 'train', config.task, 'order');
  const dropoutBySlot: Record<string, string> = {};
  if (hooks.dropoutFor) {
    model.slots.assignAll((s) => {
      const d = hooks.dropoutFor?.(s) ?? null;
      if (d) dropoutBySlot[s.name] = d.description;
      return d;
    });
  }
  const optimizer = makeOptimizer(config, model);
  // Mixed precision: the forward pass and the loss under autocast; float16 also scales the loss.
  const half = autocastDtypeOf(config.precision);
  const scaler = config.precision === 'fp16' ? new LossScaler() : null;
  const stepsPerEpoch = data.stepsPerEpoch(config.batchSize);
  const totalSteps = stepsPerEpoch * config.epochs;
  const warm = warmupSteps(totalSteps, config.warmup);
  const key = configKey(config, dropoutBySlot);

  let history: EpochMetrics[] = [];
  let globalStep = 0;
  let firstEpoch = 1;
  let trainSeconds = 0;
  let stoppedEarly = false;

  // Everything from here on is inside the try, so that a refused or unreadable
  // checkpoint still frees the model (and closes the progress bar).
  try {
    if (hooks.resume && hooks.checkpointDir && checkpointExists(hooks.checkpointDir)) {
      const ck = readCheckpoint<EpochMetrics>(hooks.checkpointDir, key);
      try {
        model.loadStateDict(ck.tensors, `${hooks.checkpointDir}/${ck.state.files.model}`);
      } finally {
        for (const t of ck.tensors.values()) t.dispose();
      }
      optimizer.loadState(ck.optimizer);
      maskGen.setState(ck.generator);
      dataRng.setState(ck.state.dataRng);
      history = ck.state.history;
      globalStep = ck.state.globalStep;
      firstEpoch = ck.state.epochsDone + 1;
      trainSeconds = ck.state.trainSeconds;
      if (scaler && ck.state.lossScale) scaler.setState(ck.state.lossScale);
      progress.message(`resumed from ${hooks.checkpointDir} after epoch ${ck.state.epochsDone}`);
    }
    const resumedFromEpoch = firstEpoch - 1;
    model.slots.setContext({ generator: maskGen, progress: 0 });
    const params = model.parameters();

    for (let epoch = firstEpoch; epoch <= config.epochs; epoch++) {
      const t0 = performance.now();
      model.train();
      progress.startEpoch(epoch, config.epochs, stepsPerEpoch);
      let lossSum = 0;
      let examples = 0;
      let done = 0;
      let lr = config.lr;
      for await (const batch of data.epoch(config.batchSize, dataRng)) {
        lr = warmupCosineLr(globalStep, totalSteps, warm, config.lr);
        optimizer.lr = lr;
        model.slots.setContext({ generator: maskGen, progress: globalStep / totalSteps });
        const [loss, n] = tidy(() => {
          optimizer.zeroGrad();
          const out = autocast(half, () => data.loss(model, batch));
          const value = out.loss.item();
          if (!Number.isFinite(value)) return [value, out.examples] as const;
          if (scaler) {
            backward(scaler.scaled(out.loss));
            scaler.unscaleClipStep(params, optimizer, config.gradClip);
            return [value, out.examples] as const;
          }
          backward(out.loss);
          if (config.gradClip > 0) clipGradNorm(params, config.gradClip);
          optimizer.step();
          return [value, out.examples] as const;
        });
        if (!Number.isFinite(loss)) {
          throw new DivergedError(`training loss became ${loss} at epoch ${epoch}, step ${done + 1} (lr ${lr.toExponential(2)}): the child diverged`);
        }
        lossSum += loss * n;
        examples += n;
        done++;
        globalStep++;
        progress.step(done, { loss: lossSum / examples, lr });
        if (done % 4 === 0) await yieldToEventLoop();
      }
      const val = await autocast(half, () => data.evaluate(model, 'val', config.evalBatchSize));
      const seconds = (performance.now() - t0) / 1000;
      trainSeconds += seconds;
      const m: EpochMetrics = { epoch, trainLoss: lossSum / Math.max(1, examples), lr, val, seconds };
      history.push(m);
      progress.endEpoch(
        `epoch ${epoch}/${config.epochs}  train loss ${m.trainLoss.toFixed(4)}  val loss ${val.loss.toFixed(4)}  ` +
          (val.accuracy !== undefined ? `val acc ${(val.accuracy * 100).toFixed(2)}%` : `val ppl ${val.perplexity?.toFixed(2)}`) +
          `  ${seconds.toFixed(1)}s  (live tensors ${liveTensorCount()})`,
      );
      if (hooks.checkpointDir) {
        writeCheckpoint(
          hooks.checkpointDir,
          { configKey: key, epochsDone: epoch, globalStep, dataRng: [...dataRng.getState()], history, trainSeconds, ...(scaler ? { lossScale: scaler.getState() } : {}) },
          model.stateDict(),
          optimizer.saveState(),
          maskGen.getState(),
        );
      }
      if ((await hooks.onEpoch?.(m)) === 'stop') {
        stoppedEarly = epoch < config.epochs;
        break;
      }
    }
    const last = history[history.length - 1];
    const val = last ? last.val : await autocast(half, () => data.evaluate(model, 'val', config.evalBatchSize));
    const test = config.evaluateTest ? await autocast(half, () => data.evaluate(model, 'test', config.evalBatchSize)) : null;
    const result: TrainResult = {
      task: config.task,
      model: config.model,
      epochs: history.length,
      seed: config.seed,
      val,
      test,
      trainSeconds,
      threads: config.threads,
      parameters: model.parameterCount(),
      history,
      stoppedEarly,
      resumedFromEpoch,
      dropout: dropoutBySlot,
    };
    if (hooks.checkpointDir) writeResult(hooks.checkpointDir, result);
    return result;
  } finally {
    progress.close();
    model.dispose();
  }
}
