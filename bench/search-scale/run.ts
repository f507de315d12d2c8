// `node dist/bench/search-scale/run.js [--json] [--trials N] [--rounds R (0: the simulation only)] [--workers 1,2,4] [--train-limit N] [--epochs E]
//   [--sim-workers 64,256 (0: no simulation)] [--sim-sleep-ms 2000,10000] [--sim-headroom 0,0.125] [--sim-spread 0,0.22] [--sim-trials-per-worker K]`
//
// The bullmq executor at scale, measured side by side in one run (this
// machine is noisy; ratios from one run are what to compare). Needs Debian's
// redis-server (./setup installs it): the bench starts a private one.
//
// 1. Real children over Redis: the same random-strategy trials (wrn-10-1, the
//    small child of bench/search, by default 8 trials of 4 epochs on 3 000
//    images, about 9 s each, so that one worker's run takes over a minute)
//    trained by 1, 2 and 4 `autodropout worker` processes (--concurrency 1
//    each, started before the search, as on a cluster) with one coordinator;
//    trials per hour from the search's wall time; rounds alternate the order
//    (1, 2, 4 / 4, 2, 1) so a slow phase hits all; each count's ratio to one worker is the median over rounds (target:
//    2 workers >= 1.8x one; 4 workers on a 2-core machine share its 2 cores, so
//    they show what oversubscribing a machine costs, not scaling). Queue overhead
//    per trial: the time a job waited to be taken plus the time its result took
//    to reach the coordinator (from BullMQ's job timestamps), as a fraction of
//    the trial's time on the worker (target < 1 %).
// 2. Simulated scale: children replaced by a timed sleep with a synthetic
//    reward (bench/search-scale/sim-worker.ts, one process holding N job
//    slots), an rl study with K trials per slot, so the coordinator does its
//    full work per trial (ask: the controller samples; tell: the update every
//    8; the store's writes; the queue) for N = 64 and 256 workers, with
//    children of 2 s (256 of them ask for 128 trials a second, about what one
//    coordinator keeps up with here: where it starts to fall behind) and of
//    10 s (about 4 times shorter than this project's search children). Each
//    N runs with the search's --workers (trials in flight, waiting jobs
//    included) at N, and at N plus a headroom (--sim-headroom, a fraction of N: jobs that
//    wait in the queue, so a worker that finishes finds its next job there
//    instead of waiting for the coordinator to hear of the end and enqueue
//    one). Each runs with children of one length (--sim-spread 0: they end in
//    lock-step waves, the worst case) and with lengths that vary as real
//    children's do (0.22: the coefficient of variation of the 80 children of
//    experiments/images/search, 32-75 s, printed by child-spread.ts). Reported: trials and controller
//    updates per second, the coordinator's CPU time per trial and as a share
//    of one core, queue pickup latency, the start-up (until every worker has
//    had a job) and the share of the fleet's slot-time idle for lack of a job
//    after it (target < 1 % at 256: a search of thousands of trials starts
//    once), and with it. Headroom only postpones idling when the fleet asks
//    for more trials a second than the coordinator gives: the queued jobs
//    run out (a long enough run shows it).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs as parseCliArgs } from 'node:util';
import { codeVersion } from '../../src/cli/search.js';
import { imageTaskAvailable } from '../../src/data/index.js';
import { runSearch, type SearchSummary } from '../../src/search/coordinator.js';
import { BullmqExecutor } from '../../src/search/executors/bullmq.js';
import { createSearchProgress } from '../../src/search/progress.js';
import type { StudyConfig } from '../../src/search/types.js';
import { TestRedis, redisSkip } from '../../test/redis.js';
import { median } from '../stats.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const simWorker = fileURLToPath(new URL('./sim-worker.js', import.meta.url));

function parseArgs(argv: string[]) {
  const { values } = parseCliArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      trials: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '2' },
      workers: { type: 'string', default: '1,2,4' },
      'train-limit': { type: 'string', default: '3000' },
      'val-size': { type: 'string', default: '1000' },
      epochs: { type: 'string', default: '4' },
      'sim-workers': { type: 'string', default: '64,256' },
      'sim-headroom': { type: 'string', default: '0,0.125' },
      'sim-sleep-ms': { type: 'string', default: '2000,10000' },
      'sim-spread': { type: 'string', default: '0,0.22' },
      'sim-trials-per-worker': { type: 'string', default: '6' },
    },
  });
  const int = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`bench/search-scale: --${name} must be a positive integer, got '${v}'`);
    return n;
  };
  return {
    json: values.json,
    trials: int('trials', values.trials),
    // 0: the simulation only.
    rounds: values.rounds === '0' ? 0 : int('rounds', values.rounds),
    // 1 (what the ratios are over) and 2 (the target's count) always run.
    workerCounts: [...new Set([1, 2, ...values.workers.split(',').map((x) => int('workers', x))])].sort((p, q) => p - q),
    trainLimit: int('train-limit', values['train-limit']),
    valSize: int('val-size', values['val-size']),
    epochs: int('epochs', values.epochs),
    // 0: no simulation (the real children only).
    simWorkers: values['sim-workers'] === '0' ? [] : values['sim-workers'].split(',').map((x) => int('sim-workers', x)),
    simHeadroom: values['sim-headroom'].split(',').map((x) => {
      const h = Number(x);
      if (!(h >= 0 && h <= 4)) throw new Error(`bench/search-scale: --sim-headroom takes fractions from 0 to 4, got '${x}'`);
      return h;
    }),
    simSleepMs: values['sim-sleep-ms'].split(',').map((x) => int('sim-sleep-ms', x)),
    simSpread: values['sim-spread'].split(',').map((x) => {
      const v = Number(x);
      if (!(v >= 0 && v < 0.57)) throw new Error(`bench/search-scale: --sim-spread takes coefficients of variation from 0 to 0.57, got '${x}'`);
      return v;
    }),
    simTrialsPerWorker: int('sim-trials-per-worker', values['sim-trials-per-worker']),
  };
}

const mean = (xs: readonly number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const say = (line: string): void => void process.stderr.write(`${line}\n`);

/** A process of the bench, its stdout and stderr collected; `ready` resolves at the first stderr line matching `re`. */
function launch(cmd: string, args: string[], readyRe?: RegExp): { proc: ChildProcess; out: () => string; ready: Promise<void>; done: Promise<number | null> } {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const done = new Promise<number | null>((r) => proc.on('close', (code) => r(code)));
  const ready = new Promise<void>((resolve, reject) => {
    if (!readyRe) return resolve();
    proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
      err += d;
      if (readyRe.test(err)) resolve();
    });
    void done.then(() => reject(new Error(`${args.join(' ')} ended before it was ready: ${err.slice(-1000)}`)));
  });
  if (!readyRe) proc.stderr!.resume();
  return { proc, out: () => out, ready, done };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  if (a.rounds === 0 && a.simWorkers.length === 0) throw new Error('bench/search-scale: nothing to run (--rounds 0 and --sim-workers 0)');
  if (redisSkip) throw new Error(`bench/search-scale: ${redisSkip}`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-search-scale-'));
  const redis = await TestRedis.start();
  const load0 = loadavg()[0];
  const task = imageTaskAvailable('fashion-mnist') ? 'fashion-mnist' : 'mnist';
  const child: StudyConfig['child'] = { task, model: 'wrn-10-1', epochs: a.epochs, trainLimit: a.trainLimit, valSize: a.valSize, childSeed: 0 };
  let n = 0;
  /** One search over the queue with `executorFor`'s executor; its summary and the executor's latencies. */
  const search = async (config: Omit<StudyConfig, 'name' | 'codeVersion'>, workers: number) => {
    const name = `s${n++}`;
    const ex = await BullmqExecutor.open({
      redis: redis.url,
      queue: name,
      capacity: workers,
      jobAttempts: 2,
      backoff: 5,
      study: { name, created: Date.now() },
      codeVersion: codeVersion(),
      decisions: false,
    });
    return { name, ex, run: (): Promise<SearchSummary> => runSearch({ ...config, name, codeVersion: codeVersion() }, { db: join(dir, `${name}.db`), workers, executor: ex, progress: createSearchProgress({ quiet: true }), handleSignals: false }) };
  };

  try {
    say(`bench/search-scale: ${availableParallelism()} cores, load ${load0.toFixed(2)}; redis-server on port ${redis.port}`);
    // ------------------------------------------------------------ real children
    const real = async (workers: number) => {
      const s = await search({ strategy: 'random', space: 'tile', seed: 7, child, trials: a.trials, updateEvery: 8, prune: 'none' }, workers);
      const ws = Array.from({ length: workers }, () =>
        launch(process.execPath, [cli, 'worker', '--redis', redis.url, '--queue', s.name, '--concurrency', '1'], /waiting for trials/),
      );
      let summary: SearchSummary;
      let wall: number;
      try {
        await Promise.all(ws.map((w) => w.ready));
        const t0 = performance.now();
        summary = await s.run();
        wall = (performance.now() - t0) / 1000;
      } finally {
        await s.ex.close();
        for (const w of ws) w.proc.kill('SIGTERM');
        await Promise.all(ws.map((w) => w.done));
      }
      if (summary.counts.done !== a.trials) throw new Error(`${summary.counts.done} of ${a.trials} trials done: ${JSON.stringify(summary.recentFailures)}`);
      const lat = s.ex.queueLatencies();
      const overhead = mean(lat.map((l) => (l.pickupMs + l.resultMs) / l.workerMs));
      say(`  ${workers} worker(s): ${a.trials} trials in ${wall.toFixed(1)} s = ${((a.trials * 3600) / wall).toFixed(0)} trials/hour; queue overhead ${(overhead * 100).toFixed(3)}% of a trial`);
      return { workers, wallSeconds: wall, trialsPerHour: (a.trials * 3600) / wall, pickupMs: mean(lat.map((l) => l.pickupMs)), resultMs: mean(lat.map((l) => l.resultMs)), workerSeconds: mean(lat.map((l) => l.workerMs)) / 1000, overhead };
    };
    type Run = Awaited<ReturnType<typeof real>>;
    const rounds: { runs: Run[]; ratios: Record<number, number> }[] = [];
    for (let r = 0; r < a.rounds; r++) {
      const got: Record<number, Run> = {};
      for (const w of r % 2 === 0 ? a.workerCounts : [...a.workerCounts].reverse()) got[w] = await real(w);
      rounds.push({ runs: a.workerCounts.map((w) => got[w]), ratios: Object.fromEntries(a.workerCounts.map((w) => [w, got[w].trialsPerHour / got[1].trialsPerHour])) });
    }
    /** Trials per hour with w workers over that with one, the median over rounds. */
    const ratios: Record<number, number> = Object.fromEntries(a.workerCounts.map((w) => [w, median(rounds.map((r) => r.ratios[w]))]));
    const ratio = ratios[2];
    const overhead = median(rounds.flatMap((r) => r.runs.map((x) => x.overhead)));
    const realRan = rounds.length > 0;

    // --------------------------------------------------------- simulated scale
    const sims = [];
    const grid = a.simSleepMs.flatMap((ms) => a.simWorkers.flatMap((w) => a.simHeadroom.flatMap((h) => a.simSpread.map((v) => [ms, w, h, v] as const))));
    for (const [sleepMs, slots, headroom, spread] of grid) {
      const trials = slots * a.simTrialsPerWorker;
      const inFlight = Math.ceil(slots * (1 + headroom));
      const updateEvery = 8;
      const s = await search({ strategy: 'rl', space: 'tile', seed: 7, child, trials, updateEvery, prune: 'none', controller: {} }, inFlight);
      const sim = launch(process.execPath, [simWorker, '--redis', redis.url, '--queue', s.name, '--slots', String(slots), '--sleep-ms', String(sleepMs), '--spread', String(spread), '--jobs', String(trials)]);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      let summary: SearchSummary;
      try {
        summary = await s.run();
      } catch (e) {
        await s.ex.close();
        sim.proc.kill('SIGTERM');
        throw e;
      }
      const wall = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      await sim.done;
      const fleet = JSON.parse(sim.out().trim().split('\n').pop()!) as {
        pickupMsMean: number;
        pickupMsP95: number;
        idleFraction: number;
        spanSeconds: number;
        rampSeconds: number | null;
        steadyIdleFraction: number | null;
        cpuSeconds: number;
      };
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      const updates = Math.floor(trials / updateEvery);
      const row = {
        workers: slots,
        /** The search's --workers: trials in flight, waiting jobs included. */
        inFlight,
        trials,
        sleepSeconds: sleepMs / 1000,
        /** The children's coefficient of variation (0: lock-step waves). */
        spread,
        wallSeconds: wall,
        idealSeconds: (a.simTrialsPerWorker * sleepMs) / 1000,
        trialsPerSecond: trials / wall,
        controllerUpdatesPerSecond: updates / wall,
        coordinatorCpuMsPerTrial: (cpuSeconds * 1000) / trials,
        coordinatorCpuShareOfOneCore: cpuSeconds / wall,
        controllerMsPerTrial: summary.timing.controllerSecondsPerTrial * 1000,
        /** The simulated fleet's process (BullMQ's job handling for every slot), as a share of one core. */
        fleetCpuShareOfOneCore: fleet.cpuSeconds / wall,
        pickupMsMean: fleet.pickupMsMean,
        pickupMsP95: fleet.pickupMsP95,
        idleFraction: fleet.idleFraction,
        /** From the first start until every worker had had a job. */
        rampSeconds: fleet.rampSeconds,
        /** Idle share after the start-up (the target's measure: a search of thousands of trials starts once). */
        steadyIdleFraction: fleet.steadyIdleFraction,
      };
      say(
        `  simulated ${slots} workers (${inFlight} in flight), ${trials} trials of ${row.sleepSeconds} s (spread ${spread}): ${wall.toFixed(1)} s (ideal ${row.idealSeconds.toFixed(1)} s), ${row.trialsPerSecond.toFixed(1)} trials/s, ` +
          `${row.controllerUpdatesPerSecond.toFixed(2)} updates/s, coordinator CPU ${row.coordinatorCpuMsPerTrial.toFixed(1)} ms/trial (${(row.coordinatorCpuShareOfOneCore * 100).toFixed(0)}% of a core; the fleet's process ${(row.fleetCpuShareOfOneCore * 100).toFixed(0)}%), ` +
          `pickup ${row.pickupMsMean.toFixed(0)} ms (p95 ${row.pickupMsP95.toFixed(0)}), idle ${(row.idleFraction * 100).toFixed(1)}%, start-up ${row.rampSeconds?.toFixed(1)} s, idle after it ${((row.steadyIdleFraction ?? NaN) * 100).toFixed(1)}%`,
      );
      sims.push(row);
    }

    const result = {
      machine: { cores: availableParallelism(), loadBefore: load0, loadAfter: loadavg()[0] },
      child,
      trials: a.trials,
      throughput: realRan
        ? {
            rounds,
            /** Workers -> trials per hour over one worker's (median over rounds). */
            ratios,
            ratio,
            target: 1.8,
            pass: ratio >= 1.8,
          }
        : null,
      queueOverhead: realRan ? { fraction: overhead, target: 0.01, pass: overhead < 0.01 } : null,
      simulated: sims.map((s) => ({ ...s, target: 0.01, pass: s.steadyIdleFraction !== null && s.steadyIdleFraction < 0.01 })),
    };
    if (a.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      const lines = [
        ...a.workerCounts
          .filter((w) => realRan && w > 1)
          .map(
            (w) =>
              `throughput over Redis, ${w} workers / 1 worker: ${ratios[w].toFixed(2)} (median of ${rounds.length} round(s): ${rounds.map((r) => r.ratios[w].toFixed(2)).join(', ')}` +
              `${w === 2 ? `; target >= 1.8: ${ratio >= 1.8 ? 'pass' : 'FAIL'}` : `; ${availableParallelism()} cores`})`,
          ),
        ...(realRan ? [`queue overhead (pickup + result latency) per trial: ${(overhead * 100).toFixed(3)}% of its time on the worker (target < 1%: ${overhead < 0.01 ? 'pass' : 'FAIL'})`] : []),
        ...result.simulated.map(
          (s) =>
            `simulated ${s.workers} workers, ${s.inFlight} trials in flight, spread ${s.spread}: idle for lack of a job after the start-up ${((s.steadyIdleFraction ?? NaN) * 100).toFixed(2)}% (target < 1%: ${s.pass ? 'pass' : 'FAIL'}; ${(s.idleFraction * 100).toFixed(2)}% with the ${s.rampSeconds?.toFixed(1)}-s start-up); ${s.trialsPerSecond.toFixed(1)} trials/s, ` +
            `${s.controllerUpdatesPerSecond.toFixed(2)} controller updates/s, coordinator ${s.coordinatorCpuMsPerTrial.toFixed(1)} ms CPU per trial`,
        ),
        `load average ${result.machine.loadBefore.toFixed(2)} -> ${result.machine.loadAfter.toFixed(2)} on ${result.machine.cores} cores (a busy machine: rerun idle before quoting absolute figures)`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    }
  } finally {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
