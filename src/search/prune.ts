// Early stopping of weak children (docs/architecture.md §5): after each epoch the
// coordinator asks the pruner whether to stop the trial.
//
// Median rule (Optuna's MedianPruner, Google Vizier's median stopping rule):
// stop a trial when its validation value at epoch e is strictly below the
// median of the values at epoch e of the study's *done* trials. Choices:
//  - only done trials form the reference: pruned trials stopped early because
//    they were weak, so including them would drag the median down and prune
//    less as the search goes on; failed trials have no values;
//  - at least `minTrials` (default 3) done trials must have a value at that
//    epoch, otherwise nothing is pruned: a median of one or two noisy children
//    would stop most of the early search;
//  - `warmupEpochs` (default 0) epochs are never pruned (a child can be stopped
//    after epoch warmupEpochs + 1);
//  - equal to the median is kept (strictly below prunes), so a study of
//    identical children never prunes itself;
//  - even counts take the mean of the two middle values.
// The coordinator never asks after the last epoch (a finished child is done).
// How a pruned trial enters the controller update is decided in study.ts.
import type { SearchStore } from './store.js';
import type { StudyConfig } from './types.js';

/** Decides after an epoch whether a running trial stops early. */
export interface Pruner {
  readonly name: string;
  /** `study`: the study's id or name in `store`. */
  shouldPrune(store: SearchStore, study: number | string, trialId: number, epoch: number, value: number): boolean;
}

export interface MedianPrunerOptions {
  /** Done trials with a value at the epoch needed before anything is pruned (default 3). */
  minTrials?: number;
  /** Epochs never pruned (default 0). */
  warmupEpochs?: number;
}

/** The median of a non-empty list (mean of the two middle values for even lengths). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function createMedianPruner(options: MedianPrunerOptions = {}): Pruner {
  const minTrials = options.minTrials ?? 3;
  const warmupEpochs = options.warmupEpochs ?? 0;
  if (!Number.isSafeInteger(minTrials) || minTrials < 1) throw new RangeError(`median pruner: minTrials must be an integer >= 1, got ${minTrials}`);
  if (!Number.isSafeInteger(warmupEpochs) || warmupEpochs < 0) throw new RangeError(`median pruner: warmupEpochs must be an integer >= 0, got ${warmupEpochs}`);
  return {
    name: 'median',
    shouldPrune(store, study, trialId, epoch, value) {
      if (epoch <= warmupEpochs) return false;
      const id = typeof study === 'number' ? study : store.resolveStudy(study).id;
      const values = store.epochValues(id, epoch, { states: ['done'], exclude: trialId });
      if (values.length < minTrials) return false;
      return value < median(values);
    },
  };
}

/** The median rule with its defaults (3 done trials, no warm-up). */
export const medianPruner: Pruner = createMedianPruner();

/** The pruner a study config names, or null for 'none'. */
export function prunerFor(prune: StudyConfig['prune'], options: MedianPrunerOptions = {}): Pruner | null {
  if (prune === 'none') return null;
  if (prune === 'median') return Object.keys(options).length ? createMedianPruner(options) : medianPruner;
  throw new RangeError(`unknown pruner '${String(prune)}'; valid: none, median`);
}
