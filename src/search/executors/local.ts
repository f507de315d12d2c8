// The local executor: a pool of worker processes on this machine, one per
// core by default (docs/architecture.md §5). Each worker (src/search/worker.ts) loads the
// engine and the dataset once, then trains the trials it is sent one after
// another with one intra-op thread: on CPUs, N single-threaded children
// train faster in total than one child with N threads (no synchronisation,
// small kernels), which bench/search measures.
//
// Failure handling (the coordinator decides what happens to the trial):
// - a worker that exits mid-trial (a crash, kill -9, out of memory) rejects
//   the trial's run() with WorkerLostError("worker exited with signal SIGKILL
//   during epoch 2") and is replaced by a fresh process;
// - a worker that sends no heartbeat for `heartbeatTimeoutMs` is killed, then
//   handled the same way ("worker stopped heartbeating ...");
// - a worker that dies before it ever became ready, three times in a row,
//   means the workers cannot start at all (e.g. the engine does not load):
//   run() then rejects with a plain Error that stops the search.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TrialOutcome } from '../types.js';
import { DEVICE_ENV, HEARTBEAT_ENV, THREADS_ENV, WORKER_ENV, type FromWorker, type ToWorker } from './protocol.js';
import { WorkerLostError, type Executor, type TrialEvents, type TrialSpec } from './types.js';

export interface LocalExecutorOptions {
  /** Worker processes (trials trained at once). */
  workers: number;
  /** How often a busy worker sends a heartbeat (default 2 s). */
  heartbeatMs?: number;
  /**
   * How long a busy worker may stay silent before it is killed (default 120 s:
   * validation and the first trial's data loading run without yielding, and a
   * loaded machine slows both).
   */
  heartbeatTimeoutMs?: number;
  /** The worker script (default: the built src/search/worker.js next to this file). */
  workerScript?: string;
  /** Lines about workers (started, replaced, killed), for the coordinator's log. */
  log?(line: string): void;
  /** Intra-op threads of each worker (default 1: the pool is the parallelism). */
  threads?: number;
  /** Device the workers train on (default cpu). */
  device?: string;
}

interface Job {
  spec: TrialSpec;
  events: TrialEvents;
  resolve(o: TrialOutcome): void;
  reject(e: Error): void;
  lastBeat: number;
  epoch: number;
  sent: boolean;
  killReason: string | null;
}

interface Slot {
  index: number;
  proc: ChildProcess;
  ready: boolean;
  exited: boolean;
  job: Job | null;
  stderrTail: string;
}

const MAX_STARTUP_FAILURES = 3;

export class LocalExecutor implements Executor {
  readonly kind = 'local';
  readonly capacity: number;
  private readonly slots: Slot[] = [];
  private readonly heartbeatMs: number;
  private readonly threads: number;
  private readonly device: string;
  private heartbeatTimeoutMs: number;
  private readonly script: string;
  private readonly log: (line: string) => void;
  private watchdog: NodeJS.Timeout;
  private closing = false;
  private closed: Promise<void> | null = null;
  private startupFailures = 0;
  private broken: Error | null = null;

  constructor(o: LocalExecutorOptions) {
    if (!Number.isInteger(o.workers) || o.workers < 1) throw new RangeError(`local executor: workers must be a positive integer, got ${o.workers}`);
    this.capacity = o.workers;
    this.heartbeatMs = o.heartbeatMs ?? 2000;
    this.threads = o.threads ?? 1;
    if (!Number.isInteger(this.threads) || this.threads < 1) throw new RangeError(`local executor: threads must be a positive integer, got ${o.threads}`);
    this.device = o.device ?? 'cpu';
    this.heartbeatTimeoutMs = LocalExecutor.checkTimeout(o.heartbeatTimeoutMs ?? 120_000);
    this.script = o.workerScript ?? fileURLToPath(new URL('../worker.js', import.meta.url));
    this.log = o.log ?? (() => {});
    for (let i = 0; i < o.workers; i++) this.slots.push(this.spawn(i));
    this.watchdog = this.startWatchdog();
  }

  private static checkTimeout(ms: number): number {
    if (!(Number.isFinite(ms) && ms > 0)) throw new RangeError(`local executor: heartbeatTimeoutMs must be a positive number, got ${ms}`);
    return ms;
  }

  private startWatchdog(): NodeJS.Timeout {
    const t = setInterval(() => this.checkHeartbeats(), Math.min(1000, this.heartbeatTimeoutMs / 4));
    t.unref();
    return t;
  }

  /**
   * Changes how long a busy worker may stay silent. A test sets it from a warm
   * worker's own heartbeat gaps (short, yet longer than any gap the machine's
   * load causes); a search keeps the one it started with.
   */
  setHeartbeatTimeout(ms: number): void {
    this.heartbeatTimeoutMs = LocalExecutor.checkTimeout(ms);
    if (this.closing) return;
    clearInterval(this.watchdog);
    this.watchdog = this.startWatchdog();
  }

  /** Process ids of the live workers (tests kill them). */
  pids(): number[] {
    return this.slots.filter((s) => !s.exited && s.proc.pid !== undefined).map((s) => s.proc.pid!);
  }

  /** The pid of the worker training `trialId`, if any. */
  pidOf(trialId: number): number | undefined {
    return this.slots.find((s) => s.job?.spec.trialId === trialId)?.proc.pid;
  }

  run(spec: TrialSpec, events: TrialEvents): Promise<TrialOutcome> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.closing) return Promise.reject(new WorkerLostError(spec.trialId, 'the executor is closing'));
    const slot = this.slots.find((s) => s.job === null && !s.exited);
    if (!slot) return Promise.reject(new Error(`local executor: all ${this.capacity} workers are busy (trial ${spec.trialId})`));
    return new Promise<TrialOutcome>((resolve, reject) => {
      const job: Job = { spec, events, resolve, reject, lastBeat: Date.now(), epoch: 1, sent: false, killReason: null };
      slot.job = job;
      events.onStart(this.nameOf(slot));
      if (slot.ready) this.send(slot, job);
    });
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  private async shutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.watchdog);
    await Promise.all(
      this.slots.map(async (s) => {
        if (s.exited) return;
        const gone = new Promise<void>((r) => s.proc.once('exit', () => r()));
        // An idle worker leaves at once; a busy one only yields every few
        // steps, so it is terminated (its trial is re-queued by the caller).
        if (s.job === null && s.proc.connected) this.post(s, { type: 'shutdown' });
        else s.proc.kill('SIGTERM');
        const timer = setTimeout(() => s.proc.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(timer);
      }),
    );
  }

  private nameOf(slot: Slot): string {
    return `local-${slot.index}:${slot.proc.pid ?? '?'}`;
  }

  private spawn(index: number): Slot {
    const env = {
      ...process.env,
      // One thread per worker by default: the pool is the parallelism (docs/architecture.md §5).
      OMP_NUM_THREADS: String(this.threads),
      OPENBLAS_NUM_THREADS: String(this.threads),
      MKL_NUM_THREADS: String(this.threads),
      [WORKER_ENV]: '1',
      [THREADS_ENV]: String(this.threads),
      [DEVICE_ENV]: this.device,
      [HEARTBEAT_ENV]: String(this.heartbeatMs),
    };
    const proc = fork(this.script, [], { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
    const slot: Slot = { index, proc, ready: false, exited: false, job: null, stderrTail: '' };
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
      slot.stderrTail = (slot.stderrTail + d).slice(-2000);
    });
    proc.on('message', (m: FromWorker) => this.onMessage(slot, m));
    proc.on('error', (e) => this.log(`worker ${this.nameOf(slot)}: ${e.message}`));
    proc.on('exit', (code, signal) => this.onExit(slot, code, signal));
    return slot;
  }

  private post(slot: Slot, m: ToWorker): void {
    if (!slot.proc.connected) return;
    // A worker that died a moment ago: its exit event handles the trial.
    slot.proc.send(m, (e) => {
      if (e) this.log(`worker ${this.nameOf(slot)}: send failed: ${e.message}`);
    });
  }

  private send(slot: Slot, job: Job): void {
    job.sent = true;
    job.lastBeat = Date.now();
    this.post(slot, { type: 'trial', spec: job.spec });
  }

  private onMessage(slot: Slot, m: FromWorker): void {
    const job = slot.job;
    switch (m.type) {
      case 'ready':
        slot.ready = true;
        this.startupFailures = 0;
        if (job && !job.sent) this.send(slot, job);
        return;
      case 'error':
        this.log(`worker ${this.nameOf(slot)}: ${m.message}`);
        return;
      default:
        break;
    }
    if (!job || job.spec.trialId !== m.trialId) return;
    job.lastBeat = Date.now();
    switch (m.type) {
      case 'heartbeat':
        job.events.onHeartbeat();
        return;
      case 'epoch-start':
        job.epoch = m.epoch;
        job.events.onEpochStart?.(m.epoch);
        return;
      case 'epoch': {
        const epoch = m.report.epoch;
        Promise.resolve()
          .then(() => job.events.onEpoch(m.report))
          .then(
            (decision) => {
              if (slot.job === job) this.post(slot, { type: 'decision', trialId: m.trialId, epoch, decision });
            },
            (e: unknown) => {
              // The coordinator could not record the epoch: stop the child rather than train blind.
              this.log(`trial ${m.trialId}: epoch ${epoch} not recorded: ${(e as Error).message}`);
              if (slot.job === job) this.post(slot, { type: 'decision', trialId: m.trialId, epoch, decision: 'stop' });
            },
          );
        return;
      }
      case 'result':
        slot.job = null;
        job.resolve(m.outcome);
        return;
    }
  }

  private onExit(slot: Slot, code: number | null, signal: NodeJS.Signals | null): void {
    slot.exited = true;
    const job = slot.job;
    slot.job = null;
    const how = signal ? `with signal ${signal}` : `with code ${code}`;
    const tail = slot.stderrTail.trim().split('\n').slice(-3).join(' | ');
    if (job) {
      const reason = job.killReason ?? `worker exited ${how} during epoch ${job.epoch}${tail && code ? `: ${tail}` : ''}`;
      job.reject(new WorkerLostError(job.spec.trialId, reason));
    }
    if (this.closing) return;
    if (!slot.ready && ++this.startupFailures >= MAX_STARTUP_FAILURES) {
      this.broken = new Error(`local executor: workers exit before they are ready (last: exited ${how}${tail ? `: ${tail}` : ''})`);
      this.log(this.broken.message);
      return;
    }
    this.log(`worker ${this.nameOf(slot)} exited ${how}${job ? ` while training trial ${job.spec.trialId}` : ''}; starting a new one`);
    this.slots[slot.index] = this.spawn(slot.index);
  }

  private checkHeartbeats(): void {
    const now = Date.now();
    for (const s of this.slots) {
      const job = s.job;
      if (!job || s.exited || job.killReason) continue;
      const silent = now - job.lastBeat;
      if (silent > this.heartbeatTimeoutMs) {
        job.killReason = `worker stopped heartbeating (silent for ${(silent / 1000).toFixed(0)} s) during epoch ${job.epoch}`;
        this.log(`worker ${this.nameOf(s)}: ${job.killReason}; killing it`);
        s.proc.kill('SIGKILL');
      }
    }
  }
}
