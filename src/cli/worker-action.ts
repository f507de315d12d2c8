// The action behind `autodropout worker` (src/cli/search.ts declares its
// flags from QUEUE_SETTINGS): checks the flags, caps --concurrency by memory
// as `search --workers` is capped, checks the device, then runs the queue
// worker (src/search/queue-worker.ts) until Ctrl-C or a refused job.
import { UsageError } from './args.js';
import { queueSettingsFrom } from './queue-settings.js';
import { codeVersion } from './search.js';

/** `autodropout worker`; returns the exit code. */
export async function queueWorkerCli(f: Record<string, unknown>): Promise<number> {
  if (f.redis === undefined) {
    throw new UsageError(
      'worker needs --redis URL and --queue NAME: the Redis server and the queue of a search started with `autodropout search --redis URL` (a local search starts its own workers).',
    );
  }
  const settings = queueSettingsFrom(f, 'worker');
  const { availableMemoryBytes, planWorkers } = await import('../search/workers.js');
  const plan = planWorkers(settings.concurrency, { trials: 0, availableBytes: availableMemoryBytes(), flag: '--concurrency' });
  for (const note of plan.notes) process.stderr.write(`autodropout worker: warning: ${note}\n`);
  if (settings.device !== 'cpu') {
    // A device this machine lacks is refused now, not by every child later.
    const { useDevice } = await import('../engine/index.js');
    settings.device = useDevice(settings.device);
  }
  const { runQueueWorker } = await import('../search/queue-worker.js');
  const log = (line: string): void => void process.stderr.write(`autodropout worker: ${line}\n`);
  const end = await runQueueWorker({ ...settings, concurrency: plan.workers, codeVersion: codeVersion(), log });
  log(end.reason);
  return end.code;
}
