// The bullmq executor: trials as jobs on a BullMQ queue in Redis, trained by
// `autodropout worker` processes on any number of machines
// (../queue-worker.ts; design and failure cases in docs/bullmq.md). The
// coordinator stays the only writer of the study and the only owner of the
// controller: this executor only enqueues, listens and answers.
//
// - One job per (trial, attempt), id trialJobId(): a coordinator restarted
//   on the same study adds the same id, which BullMQ ignores, and re-attaches
//   to the job where it is (waiting, training, or already finished: its
//   result is read back). A result is taken from the job once and the job
//   removed, and run() settles once, so a result delivered twice is recorded
//   once; the store refuses to tell a trial twice besides.
// - BullMQ delivers at least once: a worker that dies or hangs loses its lock,
//   the job stalls and another worker trains it again (--max-stalled times); a
//   worker whose child process fails has the job retried (--job-attempts, with
//   --backoff). Only a job that finally fails reaches the coordinator, as a
//   WorkerLostError: the trial is re-queued as a failed attempt (a new job).
// - Progress (epoch starts, epoch reports) comes through the queue's event
//   stream; when the study prunes, the worker waits for the decision after
//   each epoch on a Redis list (decisionKey), so pruning is as deterministic
//   as on one machine.
// - When the connection comes back after Redis went away, every job in flight
//   is looked up again and re-added if Redis lost it (restarted without
//   persistence): nothing waits for a job that no longer exists.
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import type { TrialOutcome } from '../types.js';
import { DECISION_TTL_SECONDS, QUEUE_PREFIX, TRIAL_JOB_FORMAT, decisionKey, ownerKey, trialJobId, type TrialJob, type TrialProgress } from './queue-protocol.js';
import { parseRedisUrl, redactRedisUrl } from './queue-settings.js';
import { redisOptions } from './redis.js';
import { WorkerLostError, type Executor, type TrialEvents, type TrialSpec } from './types.js';

export interface BullmqExecutorOptions {
  /** --redis URL. */
  redis: string;
  queue: string;
  /** Jobs in the queue at once (waiting or training): the trials in flight. */
  capacity: number;
  jobAttempts: number;
  /** Seconds before BullMQ's first retry of a failed job. */
  backoff: number;
  /** The study: its name and creation time own the queue (a queue serves one study at a time). */
  study: { name: string; created: number };
  codeVersion: string;
  /** The study prunes: workers wait for the decision after each epoch. */
  decisions: boolean;
  /**
   * Whether the study has recorded a trial's outcome. Finished jobs of such
   * trials are swept off the queue when the executor opens and closes: a
   * coordinator killed between recording a result and removing its job leaves
   * the job behind. Absent: no sweep.
   */
  isTold?(trialId: number): boolean;
  /** Lines for the coordinator's log (a worker refused a job, a job stalled, Redis went away). */
  log?(line: string): void;
}

interface Pending {
  jobId: string;
  /** When the coordinator enqueued the job (ms since the epoch). */
  addedAt: number;
  job: TrialJob;
  events: TrialEvents;
  resolve(o: TrialOutcome): void;
  reject(e: Error): void;
  settled: boolean;
}

/** Where a finished trial's time went outside its worker (bench/search-scale reads these). */
export interface QueueLatency {
  trialId: number;
  /** Enqueued -> taken by a worker. */
  pickupMs: number;
  /** Finished on the worker -> its result in the coordinator. */
  resultMs: number;
  /** Taken -> finished, on the worker. */
  workerMs: number;
}

/** The queue belongs to another study and holds its jobs. */
export class QueueInUseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueInUseError';
  }
}

const ownerOf = (s: { name: string; created: number }): string => `${s.name}@${s.created}`;

export class BullmqExecutor implements Executor {
  readonly kind = 'bullmq';
  readonly capacity: number;
  private readonly pending = new Map<string, Pending>();
  private readonly log: (line: string) => void;
  private closing = false;
  private closed: Promise<void> | null = null;
  private redisDown = false;
  private readonly latencies: QueueLatency[] = [];
  /**
   * Ids of the jobs the queue held when the executor opened (a coordinator
   * that was killed left them). Adding one of these is a re-attach: the job
   * may have finished meanwhile, so its state is read after the add. A job
   * not among them is new, and every event about it reaches the listener.
   */
  private readonly foundAtOpen = new Set<string>();
  /**
   * Clean-ups still running after an outcome was handed to the coordinator
   * (reading the job's timestamps, removing the job). The outcome settles
   * first, so the search may finish and close the executor meanwhile:
   * shutdown() waits for these, or the last job would stay on the queue.
   */
  private readonly finishing = new Set<Promise<void>>();

  private constructor(
    private readonly o: BullmqExecutorOptions,
    private readonly queue: Queue,
    private readonly queueEvents: QueueEvents,
    private readonly client: Redis,
  ) {
    this.capacity = o.capacity;
    this.log = o.log ?? (() => {});
  }

  /** Connects, claims the queue for the study (refusing one another study's jobs are in), and starts listening. */
  static async open(o: BullmqExecutorOptions): Promise<BullmqExecutor> {
    if (!Number.isSafeInteger(o.capacity) || o.capacity < 1) throw new RangeError(`bullmq executor: capacity must be a positive integer, got ${o.capacity}`);
    const connection = redisOptions(parseRedisUrl(o.redis));
    const client = new Redis(connection);
    client.on('error', () => {});
    try {
      await BullmqExecutor.claim(client, o);
      // Listen from the stream's current end: events after this point are
      // heard; a job that finished earlier is read back by its state (attach).
      const last = (await client.xrevrange(`${QUEUE_PREFIX}:${o.queue}:events`, '+', '-', 'COUNT', 1))[0]?.[0] ?? '0-0';
      const queue = new Queue(o.queue, { connection, prefix: QUEUE_PREFIX });
      const queueEvents = new QueueEvents(o.queue, { connection, prefix: QUEUE_PREFIX, lastEventId: last });
      const ex = new BullmqExecutor(o, queue, queueEvents, client);
      ex.listen();
      await Promise.all([queue.waitUntilReady(), queueEvents.waitUntilReady()]);
      await ex.sweep();
      // Every job of each state: getRanges returns only the first two of each by default.
      for (const id of await queue.getRanges(['waiting', 'active', 'delayed', 'prioritized', 'paused', 'completed', 'failed', 'waiting-children'], 0, -1)) ex.foundAtOpen.add(id);
      ex.log(`trials go to queue '${o.queue}' on ${redactRedisUrl(o.redis)}; start workers with: autodropout worker --redis URL --queue ${o.queue}`);
      return ex;
    } catch (e) {
      client.disconnect();
      throw e;
    }
  }

  /** Marks the queue as the study's; refuses a queue whose jobs belong to another study. */
  private static async claim(client: Redis, o: BullmqExecutorOptions): Promise<void> {
    const key = ownerKey(QUEUE_PREFIX, o.queue);
    const mine = ownerOf(o.study);
    const owner = await client.get(key);
    if (owner !== null && owner !== mine) {
      const probe = new Queue(o.queue, { connection: redisOptions(parseRedisUrl(o.redis)), prefix: QUEUE_PREFIX });
      try {
        const counts = await probe.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'paused');
        const jobs = Object.values(counts).reduce((a, b) => a + b, 0);
        if (jobs > 0) {
          const [name, created] = [owner.slice(0, owner.lastIndexOf('@')), Number(owner.slice(owner.lastIndexOf('@') + 1))];
          throw new QueueInUseError(
            `queue '${o.queue}' on ${redactRedisUrl(o.redis)} holds ${jobs} job(s) of another study ('${name}', created ${Number.isFinite(created) ? new Date(created).toISOString() : '?'}); ` +
              `give this search its own queue with --queue NAME (and its workers the same --queue), or resume that study with its own --db`,
          );
        }
      } finally {
        await probe.close();
      }
    }
    await client.set(key, mine);
  }

  private listen(): void {
    const qe = this.queueEvents;
    qe.on('progress', ({ jobId, data }) => this.onProgress(jobId, data as unknown));
    qe.on('completed', ({ jobId, returnvalue }) => void this.onCompleted(jobId, returnvalue as unknown));
    qe.on('failed', ({ jobId, failedReason }) => void this.onFailed(jobId, failedReason));
    qe.on('stalled', ({ jobId }) => {
      const p = this.pending.get(jobId);
      if (p) this.log(`trial ${p.job.spec.trialId}: its worker stopped renewing the lock (died or hangs); the job goes back to the queue for another worker`);
    });
    qe.on('error', (e: Error) => this.onRedisError(e.message));
    this.client.on('error', (e: Error) => this.onRedisError(e.message));
    // A server that comes back at the first reconnect raises no error: the closed connection is the sign.
    this.client.on('close', () => this.onRedisError('connection closed'));
    // Back after an outage: look every job in flight up again.
    this.client.on('ready', () => {
      if (!this.redisDown) return;
      this.redisDown = false;
      this.log(`Redis at ${redactRedisUrl(this.o.redis)} is back; checking the ${this.pending.size} job(s) in flight`);
      void this.recheckAll();
    });
  }

  private onRedisError(why: string): void {
    if (this.closing || this.redisDown) return;
    this.redisDown = true;
    this.log(`lost Redis at ${redactRedisUrl(this.o.redis)} (${why}); retrying until it is back (trials in flight wait; workers reconnect on their own)`);
  }

  run(spec: TrialSpec, events: TrialEvents): Promise<TrialOutcome> {
    if (this.closing) return Promise.reject(new WorkerLostError(spec.trialId, 'the executor is closing'));
    if (this.pending.size >= this.capacity) return Promise.reject(new Error(`bullmq executor: ${this.capacity} trials are in flight already (trial ${spec.trialId})`));
    const attempt = spec.attempt ?? 0;
    const jobId = trialJobId(spec.trialId, attempt);
    const job: TrialJob = { format: TRIAL_JOB_FORMAT, study: this.o.study.name, codeVersion: this.o.codeVersion, spec, attempt, decisions: this.o.decisions };
    return new Promise<TrialOutcome>((resolve, reject) => {
      const p: Pending = { jobId, addedAt: Date.now(), job, events, resolve, reject, settled: false };
      // Registered before the job is added: no event about it can come first.
      this.pending.set(jobId, p);
      events.onStart(`bullmq:${this.o.queue}`);
      void this.enqueue(p);
    });
  }

  /**
   * Adds the job (a no-op when it exists: a restarted coordinator
   * re-attaches); a job found at open may have a result already, which is
   * read back. A new job needs no read: its events come after the add.
   */
  private async enqueue(p: Pending): Promise<void> {
    try {
      await this.queue.add('trial', p.job, {
        jobId: p.jobId,
        attempts: this.o.jobAttempts,
        backoff: { type: 'exponential', delay: Math.round(this.o.backoff * 1000) },
        removeOnComplete: false,
        removeOnFail: false,
      });
      if (this.foundAtOpen.delete(p.jobId)) await this.recheck(p);
    } catch (e) {
      if (!p.settled && !this.closing) this.settle(p, () => p.reject(new Error(`bullmq executor: could not enqueue trial ${p.job.spec.trialId}: ${(e as Error).message}`)));
    }
  }

  /** Looks a job up: a finished one settles now, a lost one is added again. */
  private async recheck(p: Pending): Promise<void> {
    if (p.settled) return;
    const state = await this.queue.getJobState(p.jobId);
    if (state === 'completed' || state === 'failed') {
      const j = await this.queue.getJob(p.jobId);
      if (!j) return;
      if (state === 'completed') await this.onCompleted(p.jobId, j.returnvalue as unknown);
      else await this.onFailed(p.jobId, j.failedReason);
    } else if (state === 'unknown') {
      this.log(`trial ${p.job.spec.trialId}: Redis no longer has its job (restarted without persistence?); enqueued again`);
      await this.enqueue(p);
    }
  }

  private async recheckAll(): Promise<void> {
    for (const p of [...this.pending.values()]) {
      try {
        await this.recheck(p);
      } catch (e) {
        this.log(`trial ${p.job.spec.trialId}: could not check its job: ${(e as Error).message}`);
      }
    }
  }

  private settle(p: Pending, fn: () => void): void {
    if (p.settled) return;
    p.settled = true;
    this.pending.delete(p.jobId);
    fn();
  }

  private onProgress(jobId: string, data: unknown): void {
    const p = this.pending.get(jobId);
    if (!p || p.settled || typeof data !== 'object' || data === null) return;
    const m = data as TrialProgress;
    switch (m.kind) {
      case 'epoch-start':
        p.events.onHeartbeat();
        p.events.onEpochStart?.(m.epoch);
        return;
      case 'epoch':
        p.events.onHeartbeat();
        void this.answer(p, m);
        return;
      case 'refused':
        this.log(`trial ${p.job.spec.trialId}: worker ${m.worker} refused it: ${m.reason}`);
        return;
    }
  }

  /** Records the epoch (the coordinator's onEpoch) and, when the worker waits for it, sends the decision. */
  private async answer(p: Pending, m: Extract<TrialProgress, { kind: 'epoch' }>): Promise<void> {
    let decision: 'continue' | 'stop';
    try {
      decision = await p.events.onEpoch(m.report);
    } catch (e) {
      this.log(`trial ${p.job.spec.trialId}: epoch ${m.report.epoch} not recorded: ${(e as Error).message}`);
      decision = 'stop';
    }
    if (!p.job.decisions) return;
    const key = decisionKey(QUEUE_PREFIX, this.o.queue, p.jobId, m.token, m.report.epoch);
    try {
      await this.client.multi().rpush(key, decision).expire(key, DECISION_TTL_SECONDS).exec();
    } catch (e) {
      this.log(`trial ${p.job.spec.trialId}: could not send the decision after epoch ${m.report.epoch}: ${(e as Error).message}`);
    }
  }

  private async onCompleted(jobId: string, returnvalue: unknown): Promise<void> {
    const p = this.pending.get(jobId);
    if (!p || p.settled) return;
    let outcome: TrialOutcome;
    try {
      outcome = (typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue) as TrialOutcome;
      if (!outcome || !['done', 'pruned', 'failed'].includes(outcome.state)) throw new Error(`not an outcome: ${JSON.stringify(returnvalue).slice(0, 200)}`);
    } catch (e) {
      this.settle(p, () => p.reject(new WorkerLostError(p.job.spec.trialId, `the worker returned an unreadable result (${(e as Error).message})`)));
      await this.track(this.remove(jobId));
      return;
    }
    const receivedAt = Date.now();
    this.settle(p, () => p.resolve(outcome));
    await this.track(this.noteLatency(p, receivedAt).then(() => this.remove(jobId)));
  }

  /** Runs a clean-up that shutdown() must wait for. */
  private async track(work: Promise<void>): Promise<void> {
    this.finishing.add(work);
    try {
      await work;
    } finally {
      this.finishing.delete(work);
    }
  }

  /**
   * The job's two timestamps (read before it is removed, one round trip per
   * trial; only those two fields, not the whole job). Clocks of other
   * machines skew pickup and result times.
   */
  private async noteLatency(p: Pending, receivedAt: number): Promise<void> {
    try {
      const [processedOn, finishedOn] = (await this.client.hmget(this.queue.toKey(p.jobId), 'processedOn', 'finishedOn')).map(Number);
      if (processedOn > 0 && finishedOn > 0) {
        this.latencies.push({ trialId: p.job.spec.trialId, pickupMs: processedOn - p.addedAt, resultMs: receivedAt - finishedOn, workerMs: finishedOn - processedOn });
      }
    } catch {
      // Statistics only.
    }
  }

  /** Pickup and result latencies of the trials finished so far, in order. */
  queueLatencies(): readonly QueueLatency[] {
    return this.latencies;
  }

  private async onFailed(jobId: string, reason: string): Promise<void> {
    const p = this.pending.get(jobId);
    if (!p || p.settled) return;
    this.settle(p, () => p.reject(new WorkerLostError(p.job.spec.trialId, `queue job failed: ${reason}`)));
    await this.track(this.remove(jobId));
  }

  /** Removes the finished jobs of trials the study has already recorded (their results are in the study; see isTold). */
  private async sweep(): Promise<void> {
    const told = this.o.isTold;
    if (!told) return;
    for (const j of await this.queue.getJobs(['completed', 'failed'])) {
      const m = j?.id ? /^t(\d+)\.a\d+$/.exec(j.id) : null;
      if (m && !this.pending.has(j.id!) && told(Number(m[1]))) await this.remove(j.id!);
    }
  }

  /** Drops a job whose outcome has been taken (the study has it from here on). */
  private async remove(jobId: string): Promise<void> {
    try {
      await this.queue.remove(jobId);
    } catch (e) {
      this.log(`job ${jobId}: could not remove it after taking its result: ${(e as Error).message}`);
    }
  }

  /** Jobs of this queue by state (tests and status compare them with the study). */
  jobCounts(): Promise<Record<string, number>> {
    return this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'paused');
  }

  close(): Promise<void> {
    this.closed ??= this.shutdown();
    return this.closed;
  }

  /**
   * Jobs not yet started are taken off the queue (a stopped search trains
   * nothing more); jobs being trained are left to finish, and a resumed
   * search reads their results back. Trials in flight reject (the coordinator
   * has re-queued them already when it stops).
   */
  private async shutdown(): Promise<void> {
    this.closing = true;
    const left = [...this.pending.values()];
    for (const p of left) this.settle(p, () => p.reject(new WorkerLostError(p.job.spec.trialId, 'the executor is closing')));
    if (!this.redisDown) {
      await Promise.allSettled([...this.finishing]);
      await this.sweep().catch((e: unknown) => this.log(`could not sweep the finished jobs off queue '${this.o.queue}': ${(e as Error).message}`));
      for (const p of left) {
        try {
          const state = await this.queue.getJobState(p.jobId);
          if (state === 'waiting' || state === 'delayed' || state === 'prioritized') await this.queue.remove(p.jobId);
        } catch {
          // Taken by a worker in the meantime: it finishes and resume reads the result.
        }
      }
    }
    // With Redis away, close() would wait for it: drop the connections instead.
    if (this.redisDown) await Promise.allSettled([this.queueEvents.disconnect(), this.queue.disconnect()]);
    else await Promise.allSettled([this.queueEvents.close(), this.queue.close()]);
    this.client.disconnect();
  }
}
