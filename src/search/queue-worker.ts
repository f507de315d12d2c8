// `autodropout worker --redis URL --queue NAME`: a worker of a search that
// runs over a BullMQ queue (executors/bullmq.ts; docs/bullmq.md). It pulls
// trial jobs and trains each in a child process of its own local pool
// (executors/local.ts: the engine and the dataset load once per child process,
// a dead child is replaced), so this process's event loop stays free while
// the children train and BullMQ renews each job's lock on time (a processor
// that trains in its own event loop cannot, and its jobs stall).
//
// A job is refused, not trained, when it was enqueued by another code version
// or in another format, when it asks a precision this worker's device cannot
// train in (fp16 on a CPU), or when this machine's data cannot be loaded or is
// not the data the study's trials were trained on (its fingerprint differs
// from the job's TrialSpec.data): the job goes back to the queue for a worker
// that matches, the coordinator hears why, and this worker exits 1 (it can
// train nothing of that search).
//
// Every line on stderr names the trial and the attempt; `epoch N started`
// lines are what the tests kill a worker on.
import { hostname } from 'node:os';
import { Worker, WaitingError, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { LocalExecutor } from './executors/local.js';
import { DECISION_WAIT_SECONDS, QUEUE_PREFIX, TRIAL_JOB_FORMAT, decisionKey, isDecision, ownerKey, type TrialJob, type TrialProgress } from './executors/queue-protocol.js';
import { parseRedisUrl, redactRedisUrl, type QueueSettings } from './executors/queue-settings.js';
import { checkRedis, redisOptions } from './executors/redis.js';
import { WorkerLostError, type EpochDecision } from './executors/types.js';
import { precisionProblem } from '../train/settings.js';
import type { TrialOutcome } from './types.js';

export type QueueWorkerOptions = Pick<QueueSettings, 'redis' | 'queue' | 'concurrency' | 'threads' | 'device' | 'lockDuration' | 'stalledInterval' | 'maxStalled'> & {
  /** The code version this worker runs (jobs of another are refused). */
  codeVersion: string;
  /** A line for the operator (stderr). */
  log(line: string): void;
};

/** Why the worker stopped: a signal (exit 0), or a refused job (exit 1). */
export interface QueueWorkerEnd {
  code: number;
  reason: string;
}

/** Why a job is not for this worker (its format, code version, or a precision this worker's device lacks), or null when it is. */
function refusal(data: unknown, codeVersion: string, device: string): string | null {
  const j = data as Partial<TrialJob> | null;
  if (!j || typeof j !== 'object' || j.format !== TRIAL_JOB_FORMAT) {
    return `the job is not an autodropout trial of format ${TRIAL_JOB_FORMAT} (format ${JSON.stringify(j?.format ?? null)}): is this worker on the wrong --queue?`;
  }
  if (j.codeVersion !== codeVersion) {
    return `the job was enqueued by ${j.codeVersion} (study '${j.study}') and this worker runs ${codeVersion}; run the same autodropout version on every machine of a search`;
  }
  // An fp16 trial on a CPU worker: a worker with a CUDA device can train it, so it goes back rather than failing.
  const precision = j.spec?.child?.precision;
  if (precision && precisionProblem(precision, device)) {
    return `trial ${j.spec?.trialId} trains in --precision ${precision}, which this worker's device (${device}) cannot: start the workers of this search with --device cuda (or auto, on a machine with a GPU)`;
  }
  return null;
}

/** Runs until SIGINT/SIGTERM or a refused job; resolves with the exit code and why. The caller exits the process then (connections to a Redis that is away are not waited for). */
export async function runQueueWorker(o: QueueWorkerOptions): Promise<QueueWorkerEnd> {
  await checkRedis(o.redis);
  const shown = redactRedisUrl(o.redis);
  const connection = redisOptions(parseRedisUrl(o.redis));
  const me = `${hostname()}:${process.pid}`;
  const local = new LocalExecutor({ workers: o.concurrency, threads: o.threads, device: o.device, heartbeatTimeoutMs: Math.max(120_000, o.lockDuration * 4000), log: (l) => o.log(l) });
  // Blocking waits for decisions each take a connection of their own.
  const client = new Redis(connection);
  client.on('error', () => {});
  let finish: (e: QueueWorkerEnd) => void = () => {};
  const ended = new Promise<QueueWorkerEnd>((r) => (finish = r));

  const waitDecision = async (key: string): Promise<EpochDecision> => {
    const blocking = client.duplicate();
    blocking.on('error', () => {});
    try {
      const r = await blocking.blpop(key, DECISION_WAIT_SECONDS);
      if (r && isDecision(r[1])) return r[1];
      o.log(`no decision from the coordinator within ${DECISION_WAIT_SECONDS} s (${key}); going on`);
      return 'continue';
    } finally {
      blocking.disconnect();
    }
  };

  /** Gives the job back untrained for a worker that can train it, says why, and stops this worker (exit 1). */
  const refuse = async (job: Job, token: string | undefined, why: string): Promise<never> => {
    await job.updateProgress({ kind: 'refused', worker: me, reason: why } satisfies TrialProgress);
    // Stop taking jobs first: a free slot of this worker would take the refused job straight back.
    await worker.pause(true);
    await job.moveToWait(token);
    o.log(`refused job ${job.id}: ${why}`);
    finish({ code: 1, reason: `refused job ${job.id} of queue '${o.queue}': ${why}` });
    throw new WaitingError();
  };

  const processor = async (job: Job, token?: string): Promise<TrialOutcome> => {
    const why = refusal(job.data, o.codeVersion, o.device);
    if (why) return refuse(job, token, why);
    const data = job.data as TrialJob;
    const tag = `trial ${data.spec.trialId} (attempt ${data.attempt}, job ${job.id}, run ${job.attemptsMade + 1})`;
    const tok = token ?? '';
    let slot = '?';
    o.log(`${tag}: started`);
    let outcome: TrialOutcome;
    try {
      outcome = await local.run(data.spec, {
        onStart: (w) => (slot = w),
        onHeartbeat: () => {},
        onEpochStart: (epoch) => {
          o.log(`${tag}: epoch ${epoch} started on ${slot}`);
          job.updateProgress({ kind: 'epoch-start', worker: `${me}/${slot}`, token: tok, epoch } satisfies TrialProgress).catch(() => {});
        },
        onEpoch: async (report) => {
          await job.updateProgress({ kind: 'epoch', worker: `${me}/${slot}`, token: tok, report } satisfies TrialProgress);
          return data.decisions ? waitDecision(decisionKey(QUEUE_PREFIX, o.queue, job.id!, tok, report.epoch)) : 'continue';
        },
      });
    } catch (e) {
      o.log(`${tag}: ${(e as Error).message}`);
      if (e instanceof WorkerLostError) throw e;
      // The pool itself is broken (e.g. the engine does not load): give the job back and stop, rather than fail every job.
      await worker.pause(true);
      await job.moveToWait(token);
      finish({ code: 1, reason: `this worker cannot train: ${(e as Error).message}` });
      throw new WaitingError();
    }
    // This machine's data: missing, unreadable, or not the study's (TrialSpec.data). Another
    // machine's may be right, so the job goes back rather than failing (or stopping) the search.
    if (outcome.state === 'failed' && outcome.dataError) return refuse(job, token, `this worker cannot train on its data: ${outcome.error}`);
    o.log(`${tag}: ${outcome.state}${outcome.state === 'failed' ? `: ${outcome.error}` : `, reward ${outcome.reward.toFixed(4)}`}`);
    return outcome;
  };

  const worker = new Worker(o.queue, processor, {
    connection,
    prefix: QUEUE_PREFIX,
    concurrency: o.concurrency,
    lockDuration: Math.round(o.lockDuration * 1000),
    stalledInterval: Math.round(o.stalledInterval * 1000),
    maxStalledCount: o.maxStalled,
    autorun: false,
  });
  let redisDown = false;
  worker.on('error', (e: Error) => {
    if (redisDown) return;
    redisDown = true;
    o.log(`lost Redis at ${shown} (${e.message}); retrying until it is back`);
  });
  worker.on('ready', () => {
    if (redisDown) o.log(`Redis at ${shown} is back`);
    redisDown = false;
  });

  let signalled = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    // A second one leaves at once (the children follow: their IPC channel closes).
    if (signalled) process.exit(sig === 'SIGINT' ? 130 : 143);
    signalled = true;
    finish({ code: 0, reason: `${sig}: stopping (trials being trained go back to the queue once their lock runs out)` });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const owner = await client.get(ownerKey(QUEUE_PREFIX, o.queue)).catch(() => null);
  o.log(
    `worker ${me}: queue '${o.queue}' on ${shown}${owner ? ` (study ${owner.slice(0, owner.lastIndexOf('@'))})` : ' (no search has used it yet)'}: ` +
      `${o.concurrency} trial(s) at once, ${o.threads} thread(s) each, on ${o.device}; waiting for trials`,
  );
  void worker.run().catch((e: unknown) => finish({ code: 1, reason: `the queue worker stopped: ${(e as Error).message}` }));
  const end = await ended;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await local.close();
  // Force: jobs in training are not waited for; their locks run out and other workers take them.
  // With Redis away, closing would wait for it to come back: the caller exits instead.
  if (!redisDown) await worker.close(true).catch(() => {});
  client.disconnect();
  return end;
}
