// A simulated fleet of workers for bench/search-scale: one process holding a
// BullMQ Worker with `--slots` jobs at once, each "child" a timed sleep of
// `--sleep-ms` with a synthetic reward (the trial's pattern is never trained).
// It speaks the trial-job protocol of the real worker (src/search/queue-worker.ts:
// one epoch report, then the outcome), so the coordinator does its full work per
// trial. After `--jobs` jobs it prints, as one JSON line on stdout, how long
// jobs waited in the queue and how much of the fleet's time was idle.
//
//   node dist/bench/search-scale/sim-worker.js --redis URL --queue Q --slots 64 --sleep-ms 2000 --jobs 256
import { parseArgs } from 'node:util';
import { Worker, type Job } from 'bullmq';
import { QUEUE_PREFIX, type TrialJob, type TrialProgress } from '../../src/search/executors/queue-protocol.js';
import { parseRedisUrl } from '../../src/search/executors/queue-settings.js';
import { redisOptions } from '../../src/search/executors/redis.js';
import type { TrialOutcome } from '../../src/search/types.js';

const { values } = parseArgs({
  options: { redis: { type: 'string' }, queue: { type: 'string' }, slots: { type: 'string' }, 'sleep-ms': { type: 'string' }, jobs: { type: 'string' } },
});
const slots = Number(values.slots);
const sleepMs = Number(values['sleep-ms']);
const jobs = Number(values.jobs);
if (!values.redis || !values.queue || !(slots >= 1) || !(sleepMs >= 0) || !(jobs >= 1)) {
  process.stderr.write('usage: sim-worker --redis URL --queue NAME --slots N --sleep-ms MS --jobs N\n');
  process.exit(2);
}

const pickups: number[] = [];
let active = 0;
let idleSlotMs = 0;
let last = 0;
let firstStart = 0;
let lastStart = 0;
let idleAtLastStart = 0;
/** Idle slot-time is counted from the first job's start to the last job's start: before, the search starts; after, it has no trials left. */
const account = (now: number): void => {
  if (firstStart > 0) idleSlotMs += (slots - active) * (now - last);
  last = now;
};
let done = 0;

/** A deterministic reward in [0.5, 0.9] from the trial id: the controller sees varied rewards. */
const reward = (trialId: number): number => 0.5 + 0.4 * Math.abs(Math.sin(trialId * 12.9898));

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
    lastStart = now;
    idleAtLastStart = idleSlotMs;
    pickups.push(now - job.timestamp);
    const data = job.data as TrialJob;
    await new Promise((r) => setTimeout(r, sleepMs));
    const r = reward(data.spec.trialId);
    const report = { epoch: 1, value: r, trainLoss: 1 - r, val: { loss: 1 - r, accuracy: r }, seconds: sleepMs / 1000 };
    await job.updateProgress({ kind: 'epoch', worker: `sim:${process.pid}`, token: token ?? '', report } satisfies TrialProgress);
    account(Date.now());
    active--;
    return { state: 'done', reward: r, val: report.val, trainSeconds: sleepMs / 1000 };
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
      // This process's CPU (BullMQ's job handling for every slot): on a shared machine, a fleet short of CPU idles too.
      cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    })}\n`,
  );
  void worker.close().then(() => process.exit(0));
});
