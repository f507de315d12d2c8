// The search's shared vocabulary: trials, their states, results, and the
// interfaces between the ask/tell core, the storage and the executors
// (docs/architecture.md §5; Optuna's separation of samplers, storages and executors).
import type { PatternFile } from '../patterns/types.js';
import type { ChildTrainConfig } from '../train/settings.js';

/** queued → running → done | failed | pruned. */
export type TrialState = 'queued' | 'running' | 'done' | 'failed' | 'pruned';
/** Every trial state, in lifecycle order (the explicit enum; the store's CHECK constraint lists the same). */
export const TRIAL_STATES: readonly TrialState[] = Object.freeze(['queued', 'running', 'done', 'failed', 'pruned']);
/** States a trial never leaves: it has been told. */
export const FINISHED_STATES: readonly TrialState[] = Object.freeze(['done', 'failed', 'pruned']);
/** Whether a trial in this state has been told (done, failed or pruned). */
export const isFinished = (s: TrialState): boolean => FINISHED_STATES.includes(s);
export type StrategyName = 'rl' | 'random' | 'fixed';

export type { ChildTrainConfig } from '../train/settings.js';

export interface StudyConfig {
  name: string;
  strategy: StrategyName;
  /** Search space name ('tile' for image models, 'span' for language models). */
  space: 'tile' | 'span';
  trials: number;
  seed: number;
  child: ChildTrainConfig;
  /** rl: controller updates after every K tells. */
  updateEvery: number;
  prune: 'none' | 'median';
  /** fixed strategy: the preset name or pattern file path. */
  fixed?: string;
  /**
   * fixed strategy: trial k (in ask order) trains with child seed
   * `child.childSeed + k`, so the study's trials are repeats of one pattern
   * over seeds (compare). Absent: every trial uses `child.childSeed`.
   */
  seedPerTrial?: boolean;
  /**
   * Children evaluate the test split once, after their last epoch, and the
   * trial stores it (compare's final runs only; absent: never, as in a search).
   */
  evaluateTest?: boolean;
  /** Controller hyper-parameters (rl). */
  controller?: Record<string, number>;
  codeVersion: string;
  /**
   * spaceFingerprint() of the space when the study was created, set by
   * Study.open (callers leave it out): resume and replay refuse a study whose
   * space changed since, since its stored tokens would decode to other patterns.
   */
  spaceFingerprint?: string;
}

/** The child seed of the trial asked `askOrder`-th: the study's childSeed, plus the ask order with seedPerTrial. */
export function trialChildSeed(config: StudyConfig, askOrder: number): number {
  return config.child.childSeed + (config.seedPerTrial ? askOrder : 0);
}

/** A proposal from ask(). */
export interface Proposal {
  trialId: number;
  pattern: PatternFile;
  tokens: number[];
  logProb: number;
  policyVersion: number;
}

export interface EpochReport {
  epoch: number;
  /** Validation metric the search maximises at this epoch (accuracy, or the LM reward of perplexity). */
  value: number;
  trainLoss: number;
  val: { loss: number; accuracy?: number; perplexity?: number };
  seconds: number;
}

/**
 * A trained child's outcome. `data`: the fingerprint of the data it trained on
 * (dataFingerprint(): the task's source files), which the study records and
 * hands to later trials as TrialSpec.data.
 */
export type TrialOutcome =
  | { state: 'done'; reward: number; val: EpochReport['val']; trainSeconds: number; test?: EpochReport['val']; data?: string }
  | { state: 'pruned'; reward: number; atEpoch: number; trainSeconds: number; data?: string }
  | {
      state: 'failed';
      error: string;
      /**
       * Set when the child could not load its data (a DataError). Every trial of
       * a study loads the same data, so the coordinator stops the search at the
       * first one instead of failing every trial; `option`: the loading option
       * at fault (e.g. valSize), when one is; `mismatch`: the data loaded but
       * is not the data the study's trials were trained on (TrialSpec.data).
       */
      dataError?: { option?: string; mismatch?: boolean };
    };

/** One child to train. */
export interface TrialSpec {
  trialId: number;
  pattern: PatternFile;
  /** The child's settings, its seed included (a study may give each trial its own). */
  child: ChildTrainConfig;
  /**
   * Evaluate the test split once after the last epoch and return it with a
   * done outcome. Only compare's final runs set it; a search never looks at
   * the test split.
   */
  evaluateTest: boolean;
  /**
   * Failed attempts of the trial before this run (0 on the first). A queue
   * executor names its job by trial and attempt, so a restarted coordinator
   * finds the job it enqueued before. Absent: 0.
   */
  attempt?: number;
  /**
   * The fingerprint of the data the study's earlier trials were trained on
   * (TrialOutcome.data), once one has finished: a child whose data differs
   * fails with a data error before training (a worker on a queue refuses the
   * job). Absent: not known yet, nothing to check.
   */
  data?: string;
}

/** What the coordinator needs of a study (src/search/study.ts implements it; src/search/coordinator.ts drives it). */
export interface CoordinatedStudy {
  /** Trials to run in all (asked before this session included); read again before every ask, so it may change. */
  readonly trialTarget: number;
  /** What the executor trains for a proposal (settings, seed, whether to evaluate the test split). */
  trialSpec(p: Proposal): TrialSpec;
  /** The fingerprint of the data the children of this trial's study train on, once one has finished (TrialSpec.data); null before. */
  dataFingerprint(trialId: number): string | null;
  /**
   * Up to `max` fresh proposals (the strategy samples; rl: the controller, in
   * one batch), none when none can be made until a trial in flight finishes
   * (a study whose next trials depend on earlier results). The caller keeps
   * `max` within the trial target.
   */
  askBatch(max: number): Proposal[] | Promise<Proposal[]>;
  /** A trial re-queued after an interruption or a lost worker, or null. */
  takeQueued(): Proposal | null;
  /** Trials asked so far (every state). */
  askedCount(): number;
  markRunning(trialId: number, worker: string): void;
  heartbeat(trialId: number): void;
  recordEpoch(trialId: number, report: EpochReport): void;
  /** Whether the child stops after this epoch (pruned); never after its last epoch. */
  stopAfter(trialId: number, report: EpochReport): boolean;
  /**
   * Back to queued. `countsAsAttempt`: a lost worker (true) or an interruption
   * (false). Out of attempts, the study tells the trial failed with the reason
   * instead and returns 'failed'.
   */
  requeue(trialId: number, reason: string, countsAsAttempt?: boolean): 'queued' | 'failed';
  tell(trialId: number, outcome: TrialOutcome): void;
  /** Runs `fn`'s writes (marks, epochs, tells) as one store transaction: one commit, one wait for the disk. */
  transaction(fn: () => void): void;
  counts(): { queued: number; running: number; done: number; failed: number; pruned: number };
  best(): { trialId: number; reward: number } | null;
}
