// How a trial's child network gets trained: the executor interface
// (docs/architecture.md §5; Optuna keeps samplers, storages and executors behind
// separate small interfaces, and so do we). The coordinator hands an executor
// one trial at a time per free slot; the executor reports every epoch (and
// waits for the coordinator's continue/stop, so pruning is deterministic),
// sends heartbeats while the child trains, and resolves with the outcome.
import type { EpochReport, TrialOutcome, TrialSpec } from '../types.js';

// TrialSpec lives with the study's other shared types (search/types.ts): the
// study builds it, executors consume it.
export type { TrialSpec } from '../types.js';

export type EpochDecision = 'continue' | 'stop';

/** What the executor tells the coordinator while a trial runs. */
export interface TrialEvents {
  /** Called once, synchronously inside run(), with the name of the worker that took the trial. */
  onStart(worker: string): void;
  /** After each epoch's validation; 'stop' ends the child (pruned). */
  onEpoch(report: EpochReport): EpochDecision | Promise<EpochDecision>;
  /** The child is alive (from a timer in the worker, every few seconds). */
  onHeartbeat(): void;
  /**
   * The child starts training `epoch` (1 after its data loaded, then after each
   * 'continue'). Optional: the coordinator does not need it; tests inject faults
   * on it (a worker killed here dies during that epoch, before it can report it).
   */
  onEpochStart?(epoch: number): void;
}

export interface Executor {
  /** 'inline', 'local' or 'bullmq'. */
  readonly kind: string;
  /** Trials it can train at the same time. */
  readonly capacity: number;
  /**
   * Trains one child. Resolves with its outcome: done, pruned, or failed (a
   * diverged child, a pattern that cannot apply to the model: the child's own
   * fault, not worth a retry). Rejects with WorkerLostError when the process
   * training it died or hung: that is the machine's fault, worth one retry.
   */
  run(spec: TrialSpec, events: TrialEvents): Promise<TrialOutcome>;
  /** Stops every worker (a trial in flight rejects with WorkerLostError) and frees resources. */
  close(): Promise<void>;
}

/** The worker training a trial exited, was killed, or stopped heartbeating. */
export class WorkerLostError extends Error {
  constructor(
    readonly trialId: number,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'WorkerLostError';
  }
}
