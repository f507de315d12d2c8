// The search's reward: what the controller maximises (docs/architecture.md §5). Only the
// validation split is ever read; the test split never drives a decision.
//
// - Image tasks: validation accuracy, in [0, 1] (the paper's reward for its
//   ConvNet searches).
// - Language models: 80 / validation perplexity, the reward ENAS used for its
//   PTB search (Pham et al. 2018, §3.1: c / valid_ppl with c = 80). It
//   decreases with perplexity, is bounded (≤ 80, at the impossible ppl 1), and
//   its differences between good and slightly worse children (ppl 150 vs 145:
//   0.533 vs 0.552) have the size of accuracy differences, so the controller's
//   learning rate and baseline decay need no per-family retuning.
//
// Engine-free on purpose: the status command and the workers import it cheaply.
import { isImageTask } from '../train/task-names.js';
import type { ChildTrainConfig } from './types.js';

/** ENAS's constant c in reward = c / perplexity. */
export const LM_REWARD_CONSTANT = 80;

/** Whether a task's reward is an accuracy (images) or 80 / perplexity (language models). */
export function rewardKind(task: ChildTrainConfig['task']): 'accuracy' | 'inverse-perplexity' {
  return isImageTask(task) ? 'accuracy' : 'inverse-perplexity';
}

/**
 * The reward of a child's validation metrics: accuracy for image tasks,
 * 80 / perplexity for language models (perplexity exp(loss) when absent; an
 * infinite perplexity gives 0). Throws RangeError for a missing or invalid
 * metric (NaN accuracy, perplexity below 1): a child that produced those
 * failed, and a failure is told as such, not as a number.
 */
export function rewardFromMetrics(task: ChildTrainConfig['task'], val: { loss: number; accuracy?: number; perplexity?: number }): number {
  if (rewardKind(task) === 'accuracy') {
    const a = val.accuracy;
    if (typeof a !== 'number' || !(a >= 0 && a <= 1)) throw new RangeError(`reward: task ${task} needs a validation accuracy in [0, 1], got ${String(a)}`);
    return a;
  }
  const ppl = val.perplexity ?? Math.exp(val.loss);
  if (typeof ppl !== 'number' || Number.isNaN(ppl) || ppl < 1) throw new RangeError(`reward: task ${task} needs a validation perplexity >= 1, got ${String(ppl)}`);
  return ppl === Infinity ? 0 : LM_REWARD_CONSTANT / ppl;
}

/** The validation metric a reward stands for (accuracy, or the perplexity 80 / reward), for reports. */
export function metricFromReward(task: ChildTrainConfig['task'], reward: number): { name: 'accuracy' | 'perplexity'; value: number } {
  return rewardKind(task) === 'accuracy' ? { name: 'accuracy', value: reward } : { name: 'perplexity', value: reward > 0 ? LM_REWARD_CONSTANT / reward : Infinity };
}
