// Training one trial's child: the part every executor shares. A worker process
// (local executor) and the coordinator's own process (inline executor) both
// call runChild(); only how the epoch reports travel differs. A study's child
// settings become the trainer's configuration in train/settings.ts
// (childTrainConfig, re-exported here).
import { DivergedError, childTrainConfig, loadTask, taskOptions, train, type EpochMetrics, type TaskData, type TrainConfig } from '../../train/index.js';
import { DataError } from '../../data/errors.js';
import { dataFingerprint } from '../../data/fingerprint.js';
import { dropoutForPatternFile } from '../../layers/pattern-file.js';
import { modelSlots } from '../../models/index.js';
import { rewardFromMetrics } from '../reward.js';
import type { EpochReport, TrialOutcome } from '../types.js';
import type { EpochDecision, TrialSpec } from './types.js';

export { childTrainConfig };

/**
 * Loaded datasets, keyed by what loading depends on: a worker trains every
 * trial of a study on the same data, so it reads and decodes the files once.
 */
export class DataCache {
  private readonly map = new Map<string, { data: TaskData; fingerprint?: string }>();
  private entry(c: TrainConfig): { data: TaskData; fingerprint?: string } {
    const opts = taskOptions(c);
    const key = JSON.stringify([c.task, opts]);
    let e = this.map.get(key);
    if (!e) {
      // One study's data at a time: a worker never needs two, and datasets are large.
      this.map.clear();
      e = { data: loadTask(c.task, opts) };
      this.map.set(key, e);
    }
    return e;
  }
  get(c: TrainConfig): TaskData {
    return this.entry(c).data;
  }
  /** dataFingerprint() of the task's source files, hashed once per loaded dataset. */
  fingerprint(c: TrainConfig): string {
    const e = this.entry(c);
    e.fingerprint ??= dataFingerprint(e.data.sources);
    return e.fingerprint;
  }
}

export interface ChildHooks {
  /** After each epoch: the coordinator's decision (it may prune the child). */
  onEpoch(report: EpochReport): EpochDecision | Promise<EpochDecision>;
  /** Called as each epoch starts (the worker names it when it dies mid-epoch). */
  onEpochStart?(epoch: number): void;
}

export interface ChildOptions {
  threads: number;
  cache: DataCache;
}

/**
 * Trains the child of `spec` with its pattern. Never throws for the child's
 * own failures: a diverged loss (DivergedError), a pattern that cannot apply
 * to the model, or any other error in training becomes `{ state: 'failed' }`
 * with the message, so the search goes on. Data that cannot be loaded (a
 * DataError) is failed with `dataError` set: it is no fault of the pattern and
 * would fail every child, so the coordinator stops the search on it.
 */
export async function runChild(spec: TrialSpec, hooks: ChildHooks, o: ChildOptions): Promise<TrialOutcome> {
  let hook: ReturnType<typeof dropoutForPatternFile> | null = null;
  try {
    const config = childTrainConfig(spec.child, o.threads, spec.evaluateTest);
    hook = dropoutForPatternFile(spec.pattern, modelSlots(config.model), { source: `trial ${spec.trialId} pattern` });
    const data = o.cache.get(config);
    const fingerprint = o.cache.fingerprint(config);
    if (spec.data !== undefined && spec.data !== fingerprint) {
      const where = config.dataDir !== undefined ? `--data-dir ${config.dataDir}` : 'the default data folders';
      return {
        state: 'failed',
        error:
          `the ${config.task} data here (${where}: ${data.sources.join(', ')}) has fingerprint ${fingerprint}, ` +
          `but the study's trials were trained on data with fingerprint ${spec.data}: give every machine of a search the same copy of the data`,
        dataError: { mismatch: true },
      };
    }
    let last: EpochReport | null = null;
    let stopped = false;
    hooks.onEpochStart?.(1);
    const result = await train(config, {
      data,
      dropoutFor: hook,
      onEpoch: async (m: EpochMetrics) => {
        last = { epoch: m.epoch, value: rewardFromMetrics(spec.child.task, m.val), trainLoss: m.trainLoss, val: m.val, seconds: m.seconds };
        const decision = await hooks.onEpoch(last);
        if (decision === 'stop') {
          stopped = true;
          return 'stop';
        }
        if (m.epoch < config.epochs) hooks.onEpochStart?.(m.epoch + 1);
        return undefined;
      },
    });
    const report = last as EpochReport | null;
    if (!report) return { state: 'failed', error: 'the child trained no epoch' };
    // A stop at the last epoch is no early stop: the child finished.
    if (stopped && result.stoppedEarly) return { state: 'pruned', reward: report.value, atEpoch: report.epoch, trainSeconds: result.trainSeconds, data: fingerprint };
    const done: Extract<TrialOutcome, { state: 'done' }> = { state: 'done', reward: report.value, val: report.val, trainSeconds: result.trainSeconds, data: fingerprint };
    if (spec.evaluateTest) {
      if (!result.test) return { state: 'failed', error: 'the child was asked to evaluate the test split but returned no test metrics' };
      done.test = result.test;
    }
    return done;
  } catch (e) {
    const err = e as Error;
    if (e instanceof DataError) return { state: 'failed', error: e.message, dataError: e.option !== undefined ? { option: e.option } : {} };
    const message = e instanceof DivergedError ? err.message : `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}`;
    return { state: 'failed', error: message };
  } finally {
    hook?.dispose();
  }
}
