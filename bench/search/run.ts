// `npm run bench:search [-- --json] [--trials N] [--rounds R] [--train-limit N] [--epochs E]`
//
// What the search harness gets out of a machine, measured side by side in one
// run (machines are noisy, docs/architecture.md §8):
//
// Children: wrn-10-1, 3000 training images, 2 epochs (about 8 s on one idle
// core): small, but not so small that worker start-up and the controller's
// fixed cost per trial (tens of ms) stand for a real search, whose children
// train for minutes.
//
// 1. Throughput: the same trials (random strategy, same seed: the same
//    patterns, the same small children) run by the local executor with 2
//    workers and with 1 worker; trials per hour of each from the search's wall
//    time, worker start-up (engine + dataset load) included. Rounds alternate
//    the two (1, 2, 2, 1, ...) so a slow phase of the machine hits both; the
//    ratio is the median over rounds. Target: 2 workers / 1 worker >= 1.8.
// 2. Overhead: an rl search (the controller samples at every ask and updates
//    every --update-every tells) on 2 workers; the coordinator times every call
//    it makes (ask, tell with the controller update, store writes, pruner,
//    progress) and reports them per trial, as a fraction of the trial's wall
//    time (dispatch to outcome). Target: < 1 %. The event loop's busy time
//    (which also counts IPC decoding) is reported next to it.
import { rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { parseArgs as parseCliArgs } from 'node:util';
import { imageTaskAvailable } from '../../src/data/index.js';
import { runSearch, type SearchSummary } from '../../src/search/coordinator.js';
import { createSearchProgress } from '../../src/search/progress.js';
import type { StudyConfig } from '../../src/search/types.js';
import { median } from '../stats.js';

interface Args {
  json: boolean;
  trials: number;
  rounds: number;
  trainLimit: number;
  valSize: number;
  epochs: number;
  updateEvery: number;
}

function parseArgs(argv: string[]): Args {
  const { values } = parseCliArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      trials: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '2' },
      'train-limit': { type: 'string', default: '3000' },
      'val-size': { type: 'string', default: '1000' },
      epochs: { type: 'string', default: '2' },
      'update-every': { type: 'string', default: '4' },
    },
  });
  const int = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`bench:search: --${name} must be a positive integer, got '${v}'`);
    return n;
  };
  return {
    json: values.json,
    trials: int('trials', values.trials),
    rounds: int('rounds', values.rounds),
    trainLimit: int('train-limit', values['train-limit']),
    valSize: int('val-size', values['val-size']),
    epochs: int('epochs', values.epochs),
    updateEvery: int('update-every', values['update-every']),
  };
}


interface Measured {
  workers: number;
  wallSeconds: number;
  trialsPerHour: number;
  summary: SearchSummary;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const dir = mkdtempSync(join(tmpdir(), 'bench-search-'));
  const task = imageTaskAvailable('fashion-mnist') ? 'fashion-mnist' : 'mnist';
  const child: StudyConfig['child'] = { task, model: 'wrn-10-1', epochs: a.epochs, trainLimit: a.trainLimit, valSize: a.valSize, childSeed: 0 };
  const base = { space: 'tile', seed: 7, child, trials: a.trials, updateEvery: a.updateEvery, prune: 'none', codeVersion: 'bench' } as const;
  // Progress on stderr (stdout stays one JSON object with --json).
  const say = (line: string): void => void process.stderr.write(`${line}\n`);
  const load0 = loadavg()[0];
  let n = 0;
  const measure = async (workers: number, strategy: 'random' | 'rl'): Promise<Measured> => {
    const name = `s${n++}`;
    const t0 = performance.now();
    const summary = await runSearch(
      { ...base, name, strategy },
      { db: join(dir, `${name}.db`), workers, executor: 'local', progress: createSearchProgress({ quiet: true }), handleSignals: false },
    );
    const wallSeconds = (performance.now() - t0) / 1000;
    if (summary.counts.done !== a.trials) throw new Error(`bench:search: ${summary.counts.done} of ${a.trials} trials done (${JSON.stringify(summary.recentFailures)})`);
    const m = { workers, wallSeconds, trialsPerHour: (a.trials * 3600) / wallSeconds, summary };
    say(`  ${strategy} x ${a.trials} trials, ${workers} worker(s): ${wallSeconds.toFixed(1)} s, ${m.trialsPerHour.toFixed(0)} trials/hour`);
    return m;
  };

  try {
    say(`bench:search: wrn-10-1 on ${task} (${a.trainLimit} train / ${a.valSize} val images, ${a.epochs} epoch(s)), ${availableParallelism()} cores, load ${load0.toFixed(2)}`);
    const rounds: { one: Measured; two: Measured; ratio: number }[] = [];
    for (let r = 0; r < a.rounds; r++) {
      // Alternate the order: 1 then 2, then 2 then 1, ...
      const order = r % 2 === 0 ? [1, 2] : [2, 1];
      const got: Record<number, Measured> = {};
      for (const w of order) got[w] = await measure(w, 'random');
      rounds.push({ one: got[1], two: got[2], ratio: got[2].trialsPerHour / got[1].trialsPerHour });
    }
    const rl = await measure(2, 'rl');
    const t = rl.summary.timing;
    const ratio = median(rounds.map((r) => r.ratio));
    const result = {
      machine: { cores: availableParallelism(), loadBefore: load0, loadAfter: loadavg()[0] },
      child,
      trials: a.trials,
      throughput: {
        rounds: rounds.map((r) => ({
          oneWorker: { wallSeconds: r.one.wallSeconds, trialsPerHour: r.one.trialsPerHour },
          twoWorkers: { wallSeconds: r.two.wallSeconds, trialsPerHour: r.two.trialsPerHour },
          ratio: r.ratio,
        })),
        ratio,
        target: 1.8,
        pass: ratio >= 1.8,
      },
      overhead: {
        strategy: 'rl',
        workers: 2,
        updateEvery: a.updateEvery,
        controllerUpdates: Math.floor(a.trials / a.updateEvery),
        trialWallSeconds: t.trialWallSeconds,
        coordinatorSecondsPerTrial: t.coordinatorSecondsPerTrial,
        controllerSecondsPerTrial: t.controllerSecondsPerTrial,
        fraction: t.coordinatorFraction,
        eventLoopBusySecondsPerTrial: t.eventLoopBusySecondsPerTrial,
        eventLoopBusyFraction: t.trialWallSeconds > 0 ? t.eventLoopBusySecondsPerTrial / t.trialWallSeconds : 0,
        target: 0.01,
        pass: t.coordinatorFraction < 0.01,
      },
    };
    if (a.json) {
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } else {
      const o = result.overhead;
      process.stdout.write(
        [
          `throughput, 2 workers / 1 worker: ${ratio.toFixed(2)} (median of ${rounds.length} round(s): ${rounds.map((r) => r.ratio.toFixed(2)).join(', ')}; target >= 1.8: ${result.throughput.pass ? 'pass' : 'FAIL'})`,
          `coordinator + controller per trial (rl, 2 workers, update every ${a.updateEvery}): ${(o.coordinatorSecondsPerTrial * 1000).toFixed(1)} ms ` +
            `(controller ${(o.controllerSecondsPerTrial * 1000).toFixed(1)} ms) of ${o.trialWallSeconds.toFixed(2)} s = ${(o.fraction * 100).toFixed(3)}% ` +
            `(target < 1%: ${o.pass ? 'pass' : 'FAIL'}); event loop busy ${(o.eventLoopBusyFraction * 100).toFixed(3)}%`,
          `load average ${result.machine.loadBefore.toFixed(2)} -> ${result.machine.loadAfter.toFixed(2)} on ${result.machine.cores} cores`,
        ].join('\n') + '\n',
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
