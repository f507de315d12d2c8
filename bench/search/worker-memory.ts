// `node dist/bench/search/worker-memory.js [--task T] [--model M] [--train-limit N] [--val-size N] [--epochs E] [--pattern REF]`
//
// The peak resident memory (VmHWM, Linux) of one local search worker after it
// trained one child: what src/search/workers.ts's WORKER_MEMORY_ESTIMATE_BYTES
// stands for. The default child is the demo's (wrn-10-1 on 4000 Fashion-MNIST
// images, or MNIST when Fashion-MNIST is not installed), for one epoch, with
// the tile-example pattern.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEMO_DEFAULTS } from '../../src/cli/demo.js';
import { imageTaskAvailable } from '../../src/data/index.js';
import { loadPatternRef } from '../../src/patterns/presets.js';
import { LocalExecutor } from '../../src/search/executors/index.js';
import type { ChildTrainConfig } from '../../src/search/types.js';
import { isTaskName } from '../../src/train/task-names.js';
import { WORKER_MEMORY_ESTIMATE_BYTES } from '../../src/search/workers.js';

const { values } = parseArgs({
  options: {
    task: { type: 'string' },
    model: { type: 'string', default: 'wrn-10-1' },
    'train-limit': { type: 'string', default: String(DEMO_DEFAULTS.trainLimit) },
    'val-size': { type: 'string', default: String(DEMO_DEFAULTS.valSize) },
    epochs: { type: 'string', default: '1' },
    pattern: { type: 'string', default: 'preset:tile-example' },
  },
});
const task = values.task ?? (imageTaskAvailable('fashion-mnist') ? 'fashion-mnist' : 'mnist');
if (!isTaskName(task)) throw new Error(`worker-memory: unknown task ${task}`);
const child: ChildTrainConfig = {
  task,
  model: values.model,
  epochs: Number(values.epochs),
  trainLimit: Number(values['train-limit']),
  valSize: Number(values['val-size']),
  childSeed: 0,
};

/** A /proc/PID/status field in MiB. */
const statusMiB = (pid: number, key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

const ex = new LocalExecutor({ workers: 1 });
try {
  const pid = ex.pids()[0];
  const outcome = await ex.run(
    { trialId: 1, pattern: loadPatternRef(values.pattern), child, evaluateTest: false },
    { onStart: () => {}, onHeartbeat: () => {}, onEpoch: () => 'continue' },
  );
  if (outcome.state !== 'done') throw new Error(`worker-memory: the child did not finish: ${JSON.stringify(outcome)}`);
  const peak = statusMiB(pid, 'VmHWM');
  process.stdout.write(
    `${JSON.stringify({ child, pattern: values.pattern, peakRssMiB: Math.round(peak), estimateMiB: WORKER_MEMORY_ESTIMATE_BYTES / 2 ** 20 })}\n`,
  );
} finally {
  await ex.close();
}
