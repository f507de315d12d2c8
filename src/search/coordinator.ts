// The coordinator: the single writer of a study. It keeps `workers` trials in
// flight (re-queued trials first, then fresh proposals from ask() until the
// study has asked for `trials`), records every epoch and asks the pruner
// after each one, tells outcomes back (which is when the controller learns),
// and retries a trial once when the worker training it died.
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
import type { PatternFile } from '../patterns/types.js';
import type { EpochReport, Proposal, StudyConfig, TrialOutcome } from './types.js';
import { InlineExecutor } from './executors/inline.js';
import { LocalExecutor } from './executors/local.js';
import { WorkerLostError, type Executor } from './executors/types.js';
import { createSearchProgress, type SearchCounts, type SearchProgress } from './progress.js';

/** What the coordinator needs of a study (src/search/study.ts implements it). */
export interface CoordinatedStudy {
  readonly config: StudyConfig;
  /** A fresh proposal (the strategy samples; rl: the controller). */
  ask(): Proposal | Promise<Proposal>;
  /** A trial re-queued after an interruption or a lost worker, or null. */
  takeQueued(): Proposal | null;
  /** Trials asked so far (every state). */
  askedCount(): number;
  markRunning(trialId: number, worker: string): void;
  heartbeat(trialId: number): void;
  recordEpoch(trialId: number, report: EpochReport): void;
  /** Whether the pruner stops this trial after this epoch. */
  shouldPrune(trialId: number, report: EpochReport): boolean;
  /**
   * Back to queued. `countsAsAttempt`: a lost worker (true) or an interruption
   * (false). Out of attempts, the study tells the trial failed with the reason
   * instead and returns 'failed'.
   */
  requeue(trialId: number, reason: string, countsAsAttempt?: boolean): 'queued' | 'failed';
  tell(trialId: number, outcome: TrialOutcome): void | Promise<void>;
  counts(): { queued: number; running: number; done: number; failed: number; pruned: number };
  best(): { trialId: number; reward: number } | null;
}

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

/** Raised when the executor cannot train at all (e.g. workers never start). */
export class SearchAbortedError extends Error {}

export async function coordinate(study: CoordinatedStudy, o: CoordinateOptions): Promise<CoordinateResult> {
  const capacity = Math.max(1, Math.min(o.workers, o.executor.capacity));
  const total = study.config.trials;
  const t0 = performance.now();
  const elu0 = performance.eventLoopUtilization();
  let controllerMs = 0;
  let coordinatorMs = 0;
  let trialWallMs = 0;
  const finished: number[] = [];
  const retried: number[] = [];
  let interrupted: NodeJS.Signals | null = null;
  let fatal: Error | null = null;

  /** Runs `fn`, adding its time to the coordinator's (and the controller's) account. */
  const timed = <T>(fn: () => T, controller = false): T => {
    const s = performance.now();
    try {
      return fn();
    } finally {
      const ms = performance.now() - s;
      coordinatorMs += ms;
      if (controller) controllerMs += ms;
    }
  };
  const timedAsync = async <T>(fn: () => T | Promise<T>, controller = false): Promise<T> => {
    const s = performance.now();
    try {
      return await fn();
    } finally {
      const ms = performance.now() - s;
      coordinatorMs += ms;
      if (controller) controllerMs += ms;
    }
  };

  const inFlight = new Map<number, { promise: Promise<void>; abandoned: boolean }>();
  const counts = (): SearchCounts => {
    const c = study.counts();
    return { finished: c.done + c.failed + c.pruned, total, running: inFlight.size, failed: c.failed, pruned: c.pruned, best: study.best() };
  };

  const settle = async (p: Proposal, outcome: TrialOutcome, started: number): Promise<void> => {
    await timedAsync(() => study.tell(p.trialId, outcome), true);
    trialWallMs += performance.now() - started;
    finished.push(p.trialId);
    const secs = ((performance.now() - started) / 1000).toFixed(1);
    const line =
      outcome.state === 'failed'
        ? `trial ${p.trialId} failed: ${outcome.error}`
        : outcome.state === 'pruned'
          ? `trial ${p.trialId} pruned after epoch ${outcome.atEpoch}: reward ${outcome.reward.toFixed(4)} (${secs} s)`
          : `trial ${p.trialId} done: reward ${outcome.reward.toFixed(4)} (${secs} s)`;
    timed(() => o.progress.trial(line, counts()));
  };

  const dispatch = (p: Proposal): void => {
    const started = performance.now();
    const entry = { promise: Promise.resolve(), abandoned: false };
    const run = o.executor.run(
      { trialId: p.trialId, pattern: p.pattern, child: study.config.child },
      {
        onStart: (worker) => timed(() => study.markRunning(p.trialId, worker)),
        onHeartbeat: () => {
          if (!entry.abandoned) timed(() => study.heartbeat(p.trialId));
        },
        onEpoch: (report) =>
          timed(() => {
            if (entry.abandoned) return 'stop';
            study.recordEpoch(p.trialId, report);
            // The pruner is asked after every epoch but the last (stopping a finished child changes nothing).
            return study.config.prune !== 'none' && report.epoch < study.config.child.epochs && study.shouldPrune(p.trialId, report) ? 'stop' : 'continue';
          }),
      },
    );
    const handle = async (): Promise<void> => {
      let outcome: TrialOutcome;
      try {
        outcome = await run;
      } catch (e) {
        inFlight.delete(p.trialId);
        if (entry.abandoned) return;
        if (!(e instanceof WorkerLostError)) {
          fatal ??= e as Error;
          timed(() => study.requeue(p.trialId, `coordinator error: ${(e as Error).message}`, false));
          return;
        }
        const state = timed(() => study.requeue(p.trialId, e.reason, true));
        if (state === 'queued') {
          retried.push(p.trialId);
          timed(() => o.progress.message(`trial ${p.trialId}: ${e.reason}; re-queued for another attempt`));
        } else {
          // Out of attempts: the study told it failed with the reason.
          trialWallMs += performance.now() - started;
          finished.push(p.trialId);
          timed(() => o.progress.trial(`trial ${p.trialId} failed: ${e.reason} (out of attempts)`, counts()));
        }
        return;
      }
      inFlight.delete(p.trialId);
      if (!entry.abandoned) await settle(p, outcome, started);
    };
    // Never rejects: a failure to record (a store error) stops the search through `fatal`.
    entry.promise = handle().catch((e: unknown) => {
      fatal ??= e as Error;
    });
    inFlight.set(p.trialId, entry);
  };

  /** Stops every trial in flight and puts it back in the queue (not an attempt); closes the executor. */
  const abandonAll = (reason: string): number => {
    let n = 0;
    timed(() => {
      for (const [trialId, entry] of inFlight) {
        if (entry.abandoned) continue;
        entry.abandoned = true;
        n++;
        try {
          study.requeue(trialId, reason, false);
        } catch {
          // The store failed (that is why we stop): resume re-queues running trials anyway.
        }
      }
    });
    void o.executor.close();
    return n;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) {
      // A second Ctrl-C: leave now. The store is at a transaction boundary and
      // resume re-queues whatever is still marked running.
      process.stderr.write(`${sig} again: exiting without waiting for the workers\n`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    }
    interrupted = sig;
    const n = abandonAll(`interrupted: the coordinator got ${sig}`);
    timed(() => o.progress.message(`${sig}: stopping; ${n} running trial(s) re-queued for --resume`));
  };
  const handleSignals = o.handleSignals ?? true;
  const sigint = (): void => onSignal('SIGINT');
  const sigterm = (): void => onSignal('SIGTERM');
  if (handleSignals) {
    process.on('SIGINT', sigint);
    process.on('SIGTERM', sigterm);
  }

  try {
    timed(() => o.progress.update(counts()));
    for (;;) {
      while (!interrupted && !fatal && inFlight.size < capacity) {
        const queued = timed(() => study.takeQueued());
        const p = queued ?? (timed(() => study.askedCount()) < total ? await timedAsync(() => study.ask(), true) : null);
        if (!p) break;
        dispatch(p);
        timed(() => o.progress.update(counts()));
      }
      if (fatal) abandonAll(`coordinator error: ${(fatal as Error).message}`);
      if (inFlight.size === 0) break;
      await Promise.race([...inFlight.values()].map((e) => e.promise));
    }
  } finally {
    if (handleSignals) {
      process.off('SIGINT', sigint);
      process.off('SIGTERM', sigterm);
    }
    await o.executor.close();
    o.progress.close();
  }
  if (fatal) throw new SearchAbortedError((fatal as Error).message);

  const n = finished.length;
  const elu = performance.eventLoopUtilization(elu0);
  const perTrial = (ms: number): number => (n ? ms / 1000 / n : 0);
  const trialWallSeconds = perTrial(trialWallMs);
  return {
    interrupted,
    finished,
    retried,
    timing: {
      trialsFinished: n,
      wallSeconds: (performance.now() - t0) / 1000,
      trialWallSeconds,
      controllerSecondsPerTrial: perTrial(controllerMs),
      coordinatorSecondsPerTrial: perTrial(coordinatorMs),
      coordinatorFraction: trialWallSeconds > 0 ? perTrial(coordinatorMs) / trialWallSeconds : 0,
      eventLoopBusySecondsPerTrial: perTrial(elu.active),
    },
  };
}

export interface RunSearchOptions {
  /** The study's SQLite file. */
  db: string;
  /** Continue the study if it exists (required when it does). */
  resume?: boolean;
  /** Trials in flight; for the local executor, worker processes. */
  workers: number;
  /** 'local' (worker processes, default), 'inline' (this process), or an executor instance. */
  executor: 'inline' | 'local' | Executor;
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

/**
 * Opens (or resumes) the study in `opts.db` and runs it to its `trials` with
 * the chosen executor; returns the summary. A config that differs from the
 * stored one on resume, or a study that exists without resume, throws (see
 * Study.open).
 */
export async function runSearch(config: StudyConfig | string, opts: RunSearchOptions): Promise<SearchSummary> {
  const { Study } = await import('./study.js');
  const { studySummary } = await import('./status.js');
  const { setNumThreads } = await import('../engine/index.js');
  const study = Study.open(opts.db, config, { resume: opts.resume, maxAttempts: opts.maxAttempts ?? 2 });
  try {
    const progress = opts.progress ?? createSearchProgress();
    for (const w of study.warnings) progress.message(`warning: ${w}`);
    if (study.resumed?.requeued.length) progress.message(`resumed: trial(s) ${study.resumed.requeued.join(', ')} were running and are queued again`);
    let executor: Executor;
    if (typeof opts.executor !== 'string') executor = opts.executor;
    else if (opts.executor === 'inline') executor = new InlineExecutor();
    else {
      // The controller samples and learns in this process between the
      // workers' steps: one thread keeps it off the workers' cores.
      setNumThreads(1);
      executor = new LocalExecutor({ workers: opts.workers, heartbeatTimeoutMs: opts.heartbeatTimeoutMs, log: (l) => progress.message(l) });
    }
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
