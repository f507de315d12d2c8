// The inline executor: trains each child in the coordinator's own process, one
// at a time. No process boundary, so it is what tests and debugging use; a
// crash in training takes the search down with it (the local executor is the
// one that survives dying workers).
import type { TrialOutcome } from '../types.js';
import { DataCache, runChild } from './child.js';
import { WorkerLostError, type Executor, type TrialEvents, type TrialSpec } from './types.js';

export interface InlineExecutorOptions {
  /** Intra-op threads for the children (default 1, as a local worker trains). */
  threads?: number;
  /** Heartbeat period while a child trains (default 2 s). */
  heartbeatMs?: number;
}

export class InlineExecutor implements Executor {
  readonly kind = 'inline';
  readonly capacity = 1;
  private readonly cache = new DataCache();
  private readonly threads: number;
  private readonly heartbeatMs: number;
  private busy = false;
  private closed = false;

  constructor(o: InlineExecutorOptions = {}) {
    this.threads = o.threads ?? 1;
    this.heartbeatMs = o.heartbeatMs ?? 2000;
  }

  async run(spec: TrialSpec, events: TrialEvents): Promise<TrialOutcome> {
    if (this.closed) throw new WorkerLostError(spec.trialId, 'the executor is closed');
    if (this.busy) throw new Error(`inline executor: already training a child (trial ${spec.trialId})`);
    this.busy = true;
    events.onStart(`inline:${process.pid}`);
    const beat = setInterval(() => events.onHeartbeat(), this.heartbeatMs);
    try {
      events.onHeartbeat();
      return await runChild(spec, { onEpoch: (r) => events.onEpoch(r), onEpochStart: (e) => events.onEpochStart?.(e) }, { threads: this.threads, cache: this.cache });
    } finally {
      clearInterval(beat);
      this.busy = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
