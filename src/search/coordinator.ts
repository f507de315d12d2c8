// The coordinator: the single writer of a study. It keeps `workers` trials in
// flight (re-queued trials first, then fresh proposals until the study has
// asked for `trials`), records every epoch and asks the pruner after each
// one, tells outcomes back (which is when the controller learns), and retries
// a trial once when the worker training it died.
//
// Fresh proposals are asked for all free places at once (one controller
// batch): with many workers, several trials end while the coordinator is busy,
// and a batch of k costs the controller about what one draw does, so the
// coordinator's cost per trial falls as its load rises instead of the workers
// waiting on it (bench/search-scale). With more than one trial in flight, a
// trial's place is refilled before its outcome is told (awaitOutcome).
//
// Interruption (SIGINT/SIGTERM): dispatching stops, the running trials are
// re-queued (an interruption is not an attempt), the workers are stopped and
// the store is closed; `--resume` then continues with those trials first. A
// coordinator killed outright (kill -9) leaves its trials `running`; opening
// the study with resume re-queues them (the store's job), so nothing is lost
// or duplicated either way.
//
// Cost accounting: every call the coordinator makes into the study (ask, tell:
// the controller's sampling and update; the store's writes; the pruner) is
// timed, so the summary can say what the search costs beyond training.
import { performance } from 'node:perf_hooks';
import { DataError } from '../data/errors.js';
import type { PatternFile } from '../patterns/types.js';
import type { CoordinatedStudy, Proposal, StudyConfig, TrialOutcome } from './types.js';
import { InlineExecutor } from './executors/inline.js';
import { LocalExecutor } from './executors/local.js';
import { WorkerLostError, type EpochDecision, type Executor } from './executors/types.js';
import { GroupedWrites } from './grouped-writes.js';
import { createSearchProgress, type SearchCounts, type SearchProgress } from './progress.js';

export interface CoordinateOptions {
  executor: Executor;
  /** Trials in flight (at most the executor's capacity). */
  workers: number;
  progress: SearchProgress;
  /** Handle SIGINT/SIGTERM (default true). */
  handleSignals?: boolean;
}

export interface CoordinatorTiming {
  /** Trials that finished (done, pruned or failed) in this session. */
  trialsFinished: number;
  /** Wall seconds of this session. */
  wallSeconds: number;
  /** Mean wall seconds from dispatch to outcome, over this session's finished trials. */
  trialWallSeconds: number;
  /** ask + tell (the strategy / controller and their writes), per finished trial. */
  controllerSecondsPerTrial: number;
  /** Everything the coordinator did itself (ask, tell, store writes, pruner, dispatch), per finished trial. */
  coordinatorSecondsPerTrial: number;
  /** coordinatorSecondsPerTrial / trialWallSeconds. */
  coordinatorFraction: number;
  /** Event-loop busy time of the coordinator process over the session (includes IPC handling), per finished trial. */
  eventLoopBusySecondsPerTrial: number;
}

export interface CoordinateResult {
  /** The signal that interrupted the search, or null when it ran to the end. */
  interrupted: NodeJS.Signals | null;
  timing: CoordinatorTiming;
  /** Trial ids finished in this session, in order. */
  finished: number[];
  retried: number[];
}

/** Raised when the executor cannot train at all (e.g. workers never start); data no trial can load raises its DataError instead. */
export class SearchAbortedError extends Error {}

/** The coordinator's own time, split out for the cost report: everything it does, and the part spent in the strategy (ask, tell). */
class CostClock {
  coordinatorMs = 0;
  controllerMs = 0;

  /** Runs `fn`, adding its time to the coordinator's (and, with `controller`, the controller's) account. */
  time<T>(fn: () => T, controller = false): T {
    const s = performance.now();
    try {
      return fn();
    } finally {
      this.add(performance.now() - s, controller);
    }
  }

  async timeAsync<T>(fn: () => T | Promise<T>, controller = false): Promise<T> {
    const s = performance.now();
    try {
      return await fn();
    } finally {
      this.add(performance.now() - s, controller);
    }
  }

  /** Runs `fn` inside work already timed for the coordinator, adding its time to the controller's account only. */
  controllerPart<T>(fn: () => T): T {
    const s = performance.now();
    try {
      return fn();
    } finally {
      this.controllerMs += performance.now() - s;
    }
  }

  private add(ms: number, controller: boolean): void {
    this.coordinatorMs += ms;
    if (controller) this.controllerMs += ms;
  }
}

/** A trial handed to the executor; `abandoned` once an interruption or a fatal error re-queued it. */
interface InFlight {
  abandoned: boolean;
}

/** One session of a study: dispatches, records and tells, until the study has its trials or is interrupted. */
class Coordinator {
  private readonly capacity: number;
  private readonly clock = new CostClock();
  /** Marks, heartbeats, epochs and tells: one commit for those of each turn of the event loop (grouped-writes.ts). */
  private readonly writes: GroupedWrites;
  private readonly inFlight = new Map<number, InFlight>();
  /** Trials whose end is still being handled (told, re-queued); may outlast their place in inFlight (awaitOutcome). */
  private ending = 0;
  private readonly finished: number[] = [];
  private readonly retried: number[] = [];
  private trialWallMs = 0;
  private interrupted: NodeJS.Signals | null = null;
  private fatal: Error | null = null;
  /** Resolves when a trial in flight has ended (replaced before every wait, so no end is missed). */
  private ended: Promise<void> = Promise.resolve();
  private signalEnded: () => void = () => {};

  constructor(
    private readonly study: CoordinatedStudy,
    private readonly o: CoordinateOptions,
  ) {
    this.capacity = Math.max(1, Math.min(o.workers, o.executor.capacity));
    this.writes = new GroupedWrites((fn) => this.clock.time(() => study.transaction(fn)));
  }

  /** A grouped write whose failure stops the search (like any store error); nothing waits for it. */
  private write(fn: () => unknown): void {
    this.writes.add(fn).catch((e: unknown) => {
      this.fatal ??= e as Error;
      this.signalEnded();
    });
  }

  async run(): Promise<CoordinateResult> {
    if (this.o.executor.kind !== 'inline') {
      // The controller samples and learns in this process while workers train
      // elsewhere, often on the same cores: one thread (libtorch's and
      // OpenBLAS's) keeps it from spinning against them.
      const { setNumThreads } = await import('../engine/index.js');
      setNumThreads(1);
    }
    const t0 = performance.now();
    const elu0 = performance.eventLoopUtilization();
    const stopSignals = (this.o.handleSignals ?? true) ? this.handleSignals() : (): void => {};
    try {
      await this.loop();
    } finally {
      stopSignals();
      await this.o.executor.close();
      this.o.progress.close();
    }
    if (this.fatal) throw this.fatal instanceof DataError ? this.fatal : new SearchAbortedError(this.fatal.message);
    return this.result((performance.now() - t0) / 1000, performance.eventLoopUtilization(elu0).active);
  }

  /** Keeps `capacity` trials in flight (re-queued ones first, then fresh asks) until none is left to run. */
  private async loop(): Promise<void> {
    const { clock } = this;
    clock.time(() => this.o.progress.update(this.counts()));
    for (;;) {
      // Armed before filling: a trial that ends while an ask is awaited wakes the wait below at once.
      this.ended = new Promise((resolve) => (this.signalEnded = resolve));
      await this.fill();
      if (this.fatal) this.abandonAll(`coordinator error: ${this.fatal.message}`);
      if (this.inFlight.size === 0 && this.ending === 0) break;
      await this.ended;
    }
    // Marks and heartbeats nothing awaited: committed before the study is closed.
    await this.writes.settled();
  }

  /** Puts trials in flight up to capacity: re-queued ones one by one, then fresh ones asked for all free places in one batch. */
  private async fill(): Promise<void> {
    const { study, clock } = this;
    while (!this.interrupted && !this.fatal && this.inFlight.size < this.capacity) {
      const queued = clock.time(() => study.takeQueued());
      if (queued) {
        this.dispatch(queued);
      } else {
        const want = Math.min(this.capacity - this.inFlight.size, clock.time(() => study.trialTarget - study.askedCount()));
        if (want <= 0) break;
        const asked = await clock.timeAsync(() => study.askBatch(want), true);
        if (asked.length === 0) break;
        for (const p of asked) this.dispatch(p);
      }
      clock.time(() => this.o.progress.update(this.counts()));
    }
  }

  private counts(): SearchCounts {
    const c = this.study.counts();
    return { finished: c.done + c.failed + c.pruned, total: this.study.trialTarget, running: this.inFlight.size, failed: c.failed, pruned: c.pruned, best: this.study.best() };
  }

  /** Hands a trial to the executor; its epochs are recorded (and pruned) as they come, its outcome told when it ends. */
  private dispatch(p: Proposal): void {
    const { study, clock } = this;
    const started = performance.now();
    const entry: InFlight = { abandoned: false };
    const run = this.o.executor.run(
      clock.time(() => study.trialSpec(p)),
      {
        onStart: (worker) => this.write(() => study.markRunning(p.trialId, worker)),
        onHeartbeat: () => {
          if (!entry.abandoned) this.write(() => study.heartbeat(p.trialId));
        },
        onEpoch: (report) =>
          this.writes.add((): EpochDecision => {
            if (entry.abandoned) return 'stop';
            study.recordEpoch(p.trialId, report);
            return study.stopAfter(p.trialId, report) ? 'stop' : 'continue';
          }),
      },
    );
    // Never rejects: a failure to record (a store error) stops the search through `fatal`.
    this.ending++;
    void this.awaitOutcome(p, run, entry, started)
      .catch((e: unknown) => {
        this.fatal ??= e as Error;
      })
      .finally(() => {
        this.ending--;
        this.signalEnded();
      });
    this.inFlight.set(p.trialId, entry);
  }

  /** The trial's end: told (done, pruned, failed), re-queued after a lost worker, or failed out of attempts. */
  private async awaitOutcome(p: Proposal, run: Promise<TrialOutcome>, entry: InFlight, started: number): Promise<void> {
    const { study, clock } = this;
    let outcome: TrialOutcome;
    try {
      outcome = await run;
    } catch (e) {
      this.inFlight.delete(p.trialId);
      if (entry.abandoned) return;
      if (!(e instanceof WorkerLostError)) {
        this.fatal ??= e as Error;
        await this.writes.add(() => study.requeue(p.trialId, `coordinator error: ${(e as Error).message}`, false));
        return;
      }
      // Grouped like the trial's earlier writes, so they come first (its mark as running among them).
      const state = await this.writes.add(() => study.requeue(p.trialId, e.reason, true));
      if (state === 'queued') {
        this.retried.push(p.trialId);
        clock.time(() => this.o.progress.message(`trial ${p.trialId}: ${e.reason}; re-queued for another attempt`));
      } else {
        // Out of attempts: the study told it failed with the reason.
        this.trialWallMs += performance.now() - started;
        this.finished.push(p.trialId);
        clock.time(() => this.o.progress.trial(`trial ${p.trialId} failed: ${e.reason} (out of attempts)`, this.counts()));
      }
      return;
    }
    this.inFlight.delete(p.trialId);
    if (entry.abandoned) return;
    if (outcome.state === 'failed' && outcome.dataError) {
      // Every trial loads the same data: stop now rather than fail them all; the trial is no worse for it.
      this.fatal ??= new DataError(
        outcome.dataError.mismatch
          ? `the search stopped: trial ${p.trialId}: ${outcome.error}. ` +
              'The trial is queued again; put back the data the study was trained on and continue with --resume, or start over with another --db'
          : `the search stopped: trial ${p.trialId} could not load the data that every trial of the study loads: ${outcome.error}. ` +
              'The trial is queued again; the study keeps its data settings, so make the data loadable as they are and continue with --resume, or start over with another --db',
        { option: outcome.dataError.option },
      );
      await this.writes.add(() => study.requeue(p.trialId, `data error: ${outcome.error}`, false));
      return;
    }
    const pinned = outcome.state !== 'failed' && outcome.data !== undefined ? clock.time(() => study.dataFingerprint(p.trialId)) : null;
    if (outcome.state !== 'failed' && pinned !== null && outcome.data !== pinned) {
      // Trained before the study knew its data (a queue's first jobs carry no
      // fingerprint) on a machine whose copy differs: not recorded; trained
      // again by a worker with the study's data (this one now refuses it).
      const reason = `trained on data with fingerprint ${outcome.data}, not the study's ${pinned}; its result is not recorded`;
      await this.writes.add(() => study.requeue(p.trialId, reason, false));
      clock.time(() => this.o.progress.message(`trial ${p.trialId}: ${reason}; re-queued`));
      return;
    }
    // The workers first: with more than one trial in flight, the place this
    // trial held is filled (the loop asks and dispatches now) before its
    // outcome is told (a grouped write, at the end of this turn), so no worker
    // waits on the store or a controller update, and ends that arrive
    // together are refilled by one ask. A trial asked here may miss the
    // update this tell makes, like any trial in flight across an update (the
    // PPO branch weighs it). With one in flight, the tell comes first.
    if (this.capacity > 1) this.signalEnded();
    await this.settle(p, outcome, started);
  }

  private async settle(p: Proposal, outcome: TrialOutcome, started: number): Promise<void> {
    await this.writes.add(() => this.clock.controllerPart(() => this.study.tell(p.trialId, outcome)));
    this.trialWallMs += performance.now() - started;
    this.finished.push(p.trialId);
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    const line =
      outcome.state === 'failed'
        ? `trial ${p.trialId} failed: ${outcome.error}`
        : outcome.state === 'pruned'
          ? `trial ${p.trialId} pruned after epoch ${outcome.atEpoch}: reward ${outcome.reward.toFixed(4)} (${secs} s)`
          : `trial ${p.trialId} done: reward ${outcome.reward.toFixed(4)} (${secs} s)`;
    this.clock.time(() => this.o.progress.trial(line, this.counts()));
  }

  /** Stops every trial in flight and puts it back in the queue (not an attempt); closes the executor. */
  private abandonAll(reason: string): number {
    let n = 0;
    this.clock.time(() => {
      for (const [trialId, entry] of this.inFlight) {
        if (entry.abandoned) continue;
        entry.abandoned = true;
        n++;
        try {
          this.study.requeue(trialId, reason, false);
        } catch {
          // The store failed (that is why we stop): resume re-queues running trials anyway.
        }
      }
    });
    void this.o.executor.close();
    return n;
  }

  /** SIGINT/SIGTERM stop the session (trials re-queued); a second one exits at once. Returns the function that removes the handlers. */
  private handleSignals(): () => void {
    const onSignal = (sig: NodeJS.Signals): void => {
      if (this.interrupted) {
        // A second Ctrl-C: leave now. The store is at a transaction boundary and
        // resume re-queues whatever is still marked running.
        process.stderr.write(`${sig} again: exiting without waiting for the workers\n`);
        process.exit(sig === 'SIGINT' ? 130 : 143);
      }
      this.interrupted = sig;
      const n = this.abandonAll(`interrupted: the coordinator got ${sig}`);
      this.clock.time(() => this.o.progress.message(`${sig}: stopping; ${n} running trial(s) re-queued for --resume`));
    };
    const sigint = (): void => onSignal('SIGINT');
    const sigterm = (): void => onSignal('SIGTERM');
    process.on('SIGINT', sigint);
    process.on('SIGTERM', sigterm);
    return () => {
      process.off('SIGINT', sigint);
      process.off('SIGTERM', sigterm);
    };
  }

  private result(wallSeconds: number, eventLoopBusyMs: number): CoordinateResult {
    const n = this.finished.length;
    const perTrial = (ms: number): number => (n ? ms / 1000 / n : 0);
    const trialWallSeconds = perTrial(this.trialWallMs);
    return {
      interrupted: this.interrupted,
      finished: this.finished,
      retried: this.retried,
      timing: {
        trialsFinished: n,
        wallSeconds,
        trialWallSeconds,
        controllerSecondsPerTrial: perTrial(this.clock.controllerMs),
        coordinatorSecondsPerTrial: perTrial(this.clock.coordinatorMs),
        coordinatorFraction: trialWallSeconds > 0 ? perTrial(this.clock.coordinatorMs) / trialWallSeconds : 0,
        eventLoopBusySecondsPerTrial: perTrial(eventLoopBusyMs),
      },
    };
  }
}

/** Runs one session of `study` on `o.executor` (see Coordinator). */
export function coordinate(study: CoordinatedStudy, o: CoordinateOptions): Promise<CoordinateResult> {
  return new Coordinator(study, o).run();
}

export interface RunSearchOptions {
  /** The study's SQLite file. */
  db: string;
  /** Continue the study if it exists (required when it does). */
  resume?: boolean;
  /** Take over a study locked by a coordinator on another host (see lock.ts). */
  takeover?: boolean;
  /** Trials in flight; for the local executor, worker processes. */
  workers: number;
  /** 'local' (worker processes, default), 'inline' (this process), 'bullmq' (a Redis queue: needs `queue`), or an executor instance. */
  executor: 'inline' | 'local' | 'bullmq' | Executor;
  /** The bullmq executor's queue (search/executors/queue-settings.ts); its name defaults to the study's. */
  queue?: { redis: string; queue?: string; jobAttempts: number; backoff: number };
  /** Default: a bar on a TTY stderr, lines otherwise. */
  progress?: SearchProgress;
  /** Local executor: kill a worker silent this long mid-trial (default 120 s). */
  heartbeatTimeoutMs?: number;
  /** Attempts per trial when workers die under it (default 2: one retry). */
  maxAttempts?: number;
  /** Handle SIGINT/SIGTERM (default true). */
  handleSignals?: boolean;
}

export interface SearchSummary {
  db: string;
  study: string;
  strategy: StudyConfig['strategy'];
  space: StudyConfig['space'];
  task: StudyConfig['child']['task'];
  model: string;
  executor: string;
  workers: number;
  /** The signal that stopped the search early (its running trials are queued for --resume), or null. */
  interrupted: NodeJS.Signals | null;
  /** What opening with resume did, or null for a new study. */
  resumed: { requeued: number[]; rebuffered: number[]; controllerVersion: number | null } | null;
  trials: { target: number; asked: number };
  counts: { queued: number; running: number; done: number; failed: number; pruned: number };
  best: { trialId: number; reward: number; pattern: PatternFile } | null;
  recentFailures: { trialId: number; error: string }[];
  /** This session: trials finished and retried (lost workers), and where the time went. */
  session: { finished: number[]; retried: number[] };
  timing: CoordinatorTiming;
  warnings: string[];
}

/** What the bullmq executor needs of the study: the queue's owner, the code version workers must run, whether it prunes. */
export interface QueueStudy {
  name: string;
  created: number;
  codeVersion: string;
  prunes: boolean;
  /** Whether the study has recorded the trial's outcome (finished jobs of such trials are swept off the queue). */
  isTold(trialId: number): boolean;
}

/** The executor `opts` names (an instance is used as it is), logging worker events to `progress`. */
export async function createExecutor(
  opts: Pick<RunSearchOptions, 'executor' | 'workers' | 'heartbeatTimeoutMs' | 'queue'>,
  progress: SearchProgress,
  study?: QueueStudy,
): Promise<Executor> {
  if (typeof opts.executor !== 'string') return opts.executor;
  if (opts.executor === 'inline') return new InlineExecutor();
  if (opts.executor === 'bullmq') {
    if (!opts.queue || !study) throw new RangeError('the bullmq executor needs the queue settings (--redis) and the study');
    const { BullmqExecutor } = await import('./executors/bullmq.js');
    const { defaultQueueName } = await import('./executors/queue-settings.js');
    return BullmqExecutor.open({
      redis: opts.queue.redis,
      queue: opts.queue.queue ?? defaultQueueName(study.name),
      capacity: opts.workers,
      jobAttempts: opts.queue.jobAttempts,
      backoff: opts.queue.backoff,
      study: { name: study.name, created: study.created },
      codeVersion: study.codeVersion,
      decisions: study.prunes,
      isTold: (id) => study.isTold(id),
      log: (l) => progress.message(l),
    });
  }
  return new LocalExecutor({ workers: opts.workers, heartbeatTimeoutMs: opts.heartbeatTimeoutMs, log: (l) => progress.message(l) });
}

/**
 * Opens (or resumes) the study in `opts.db` and runs it to its `trials` with
 * the chosen executor; returns the summary. A config that differs from the
 * stored one on resume, or a study that exists without resume, throws (see
 * Study.open).
 */
export async function runSearch(config: StudyConfig | string, opts: RunSearchOptions): Promise<SearchSummary> {
  const { Study } = await import('./study.js');
  const { studySummary } = await import('./status.js');
  if (opts.executor === 'bullmq') {
    // Before the study is opened: an unreachable Redis leaves the database as it was.
    if (!opts.queue) throw new RangeError('the bullmq executor needs the queue settings (--redis)');
    const { checkRedis } = await import('./executors/redis.js');
    await checkRedis(opts.queue.redis);
  }
  const study = Study.open(opts.db, config, { resume: opts.resume, takeover: opts.takeover, maxAttempts: opts.maxAttempts ?? 2 });
  try {
    const progress = opts.progress ?? createSearchProgress();
    for (const w of study.warnings) progress.message(`warning: ${w}`);
    if (study.resumed?.requeued.length) progress.message(`resumed: trial(s) ${study.resumed.requeued.join(', ')} were running and are queued again`);
    const executor = await createExecutor(opts, progress, {
      name: study.name,
      created: study.record.created,
      codeVersion: study.config.codeVersion,
      prunes: study.config.prune !== 'none',
      // A job id naming no trial of this study is not this study's to sweep.
      isTold: (id) => {
        const t = study.store.getTrial(id);
        return t !== null && t.studyId === study.id && t.tellOrder !== null;
      },
    });
    const r = await coordinate(study, { executor, workers: opts.workers, progress, handleSignals: opts.handleSignals });
    const s = studySummary(study.store, study.name);
    return {
      db: opts.db,
      study: study.name,
      strategy: s.strategy,
      space: s.space,
      task: s.task,
      model: s.model,
      executor: executor.kind,
      workers: Math.min(opts.workers, executor.capacity),
      interrupted: r.interrupted,
      resumed: study.resumed,
      trials: s.trials,
      counts: s.counts,
      best: s.best ? { trialId: s.best.trialId, reward: s.best.reward, pattern: s.best.pattern } : null,
      recentFailures: s.recentFailures,
      session: { finished: r.finished, retried: r.retried },
      timing: r.timing,
      warnings: study.warnings,
    };
  } finally {
    study.close();
  }
}
