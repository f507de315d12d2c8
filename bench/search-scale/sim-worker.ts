// A simulated fleet of workers for bench/search-scale: one process holding a
// BullMQ Worker with `--slots` jobs at once, each "child" a timed sleep of
// `--sleep-ms` on average with a synthetic reward (the trial's pattern is never
// trained). `--spread` is the children's coefficient of variation: each sleeps
// sleep-ms * (1 + spread * sqrt(3) * u), u uniform in [-1, 1] and fixed by the
// trial id (0: every child the same length, so they end in lock-step waves).
// It speaks the trial-job protocol of the real worker (src/search/queue-worker.ts:
// one epoch report, then the outcome), so the coordinator does its full work per
// trial. After `--jobs` jobs it prints, as one JSON line on stdout, how long
// jobs waited in the queue and how much of the fleet's time was idle.
//
//   node dist/bench/search-scale/sim-worker.js --redis URL --queue Q --slots 64 --sleep-ms 2000 --spread 0.2 --jobs 256
import { parseArgs } from 'node:util';
import { Worker, type Job } from 'bullmq';
import { QUEUE_PREFIX, type TrialJob, type TrialProgress } from '../../src/search/executors/queue-protocol.js';
import { parseRedisUrl } from '../../src/search/executors/queue-settings.js';
import { redisOptions } from '../../src/search/executors/redis.js';
import type { TrialOutcome } from '../../src/search/types.js';

const { values } = parseArgs({
  options: { redis: { type: 'string' }, queue: { type: 'string' }, slots: { type: 'string' }, 'sleep-ms': { type: 'string' }, spread: { type: 'string', default: '0' }, jobs: { type: 'string' } },
});
const slots = Number(values.slots);
const sleepMs = Number(values['sleep-ms']);
const spread = Number(values.spread);
const jobs = Number(values.jobs);
// spread * sqrt(3) < 1 keeps every sleep positive.
if (!values.redis || !values.queue || !(slots >= 1) || !(sleepMs >= 0) || !(spread >= 0 && spread < 0.57) || !(jobs >= 1)) {
  process.stderr.write('usage: sim-worker --redis URL --queue NAME --slots N --sleep-ms MS [--spread 0..0.57] --jobs N\n');
  process.exit(2);
}

const pickups: number[] = [];
let active = 0;
let idleSlotMs = 0;
let last = 0;
let firstStart = 0;
let lastStart = 0;
let idleAtLastStart = 0;
/** When `slots` jobs had started (the end of the start-up, in which the coordinator asks and enqueues the first jobs), and the idle slot-time by then. */
let everySlotBusyAt = 0;
let idleAtEverySlotBusy = 0;
/** Idle slot-time is counted from the first job's start to the last job's start: before, the search starts; after, it has no trials left. */
const account = (now: number): void => {
  if (firstStart > 0) idleSlotMs += (slots - active) * (now - last);
  last = now;
};
let done = 0;
let started = 0;

/** A deterministic reward in [0.5, 0.9] from the trial id: the controller sees varied rewards. */
const reward = (trialId: number): number => 0.5 + 0.4 * Math.abs(Math.sin(trialId * 12.9898));
/** A deterministic number in [0, 1) from the trial id, unrelated to its reward. */
const uniform = (trialId: number): number => {
  const x = Math.sin(trialId * 78.233 + 1) * 43758.5453;
  return x - Math.floor(x);
};
/** The child's length: mean sleepMs, coefficient of variation `spread` (uniform). */
const childMs = (trialId: number): number => sleepMs * (1 + spread * Math.sqrt(3) * (2 * uniform(trialId) - 1));

const worker = new Worker(
  values.queue,
  async (job: Job, token?: string): Promise<TrialOutcome> => {
    const now = Date.now();
    if (firstStart === 0) {
      firstStart = now;
      last = now;
    }
    account(now);
    active++;
    if (everySlotBusyAt === 0 && ++started >= slots) {
      everySlotBusyAt = now;
      idleAtEverySlotBusy = idleSlotMs;
    }
    lastStart = now;
    idleAtLastStart = idleSlotMs;
    pickups.push(now - job.timestamp);
    const data = job.data as TrialJob;
    const ms = childMs(data.spec.trialId);
    await new Promise((r) => setTimeout(r, ms));
    const r = reward(data.spec.trialId);
    const seconds = ms / 1000;
    const report = { epoch: 1, value: r, trainLoss: 1 - r, val: { loss: 1 - r, accuracy: r }, seconds };
    await job.updateProgress({ kind: 'epoch', worker: `sim:${process.pid}`, token: token ?? '', report } satisfies TrialProgress);
    account(Date.now());
    active--;
    // A data fingerprint, as a real worker reports: the study pins the first and checks the rest (the coordinator's path for every trial).
    return { state: 'done', reward: r, val: report.val, trainSeconds: seconds, data: 'simulated' };
  },
  { connection: redisOptions(parseRedisUrl(values.redis)), prefix: QUEUE_PREFIX, concurrency: slots, lockDuration: 30_000 },
);
worker.on('error', (e) => process.stderr.write(`sim-worker: ${e.message}\n`));
worker.on('completed', () => {
  if (++done < jobs) return;
  const sorted = [...pickups].sort((a, b) => a - b);
  const span = lastStart - firstStart;
  process.stdout.write(
    `${JSON.stringify({
      slots,
      jobs: done,
      pickupMsMean: pickups.reduce((a, b) => a + b, 0) / pickups.length,
      pickupMsP95: sorted[Math.floor(sorted.length * 0.95)],
      // Idle slot-time over slot-time, first start to last start (the window in which the coordinator had trials to give).
      idleFraction: span > 0 ? idleAtLastStart / (slots * span) : 0,
      spanSeconds: span / 1000,
      // The start-up: from the first job's start until `slots` jobs had started.
      rampSeconds: everySlotBusyAt > 0 ? (everySlotBusyAt - firstStart) / 1000 : null,
      // The same share after the start-up: what a long search sees.
      steadyIdleFraction: everySlotBusyAt > 0 && lastStart > everySlotBusyAt ? (idleAtLastStart - idleAtEverySlotBusy) / (slots * (lastStart - everySlotBusyAt)) : null,
      // This process's CPU (BullMQ's job handling for every slot): on a shared machine, a fleet short of CPU idles too.
      cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    })}\n`,
  );
  void worker.close().then(() => process.exit(0));
});
