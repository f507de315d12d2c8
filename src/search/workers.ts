// How many local workers a search starts: what was asked, but never more than
// the study has trials, nor more than the memory available holds. Each worker
// is a process with its own engine and its own copy of the data.
import { freemem, totalmem } from 'node:os';

/**
 * Memory one local worker holds at its peak, with a margin: a worker training
 * the demo's child (wrn-10-1 on 4000 Fashion-MNIST images, a tile pattern)
 * peaked at 537 and 542 MiB in two runs of `node dist/bench/search/worker-memory.js`
 * (which prints a worker's peak resident memory for any child); one training
 * wrn-10-1 on 256 MNIST images (`-- --task mnist --train-limit 256 --val-size 256`)
 * at 415 MiB. Larger children need more.
 */
export const WORKER_MEMORY_ESTIMATE_BYTES = 640 * 2 ** 20;

/** Memory this process may still use: the system's available memory, within a cgroup limit if there is one. */
export function availableMemoryBytes(): number {
  const limit = process.constrainedMemory?.() ?? 0;
  return limit > 0 && limit < totalmem() ? Math.min(freemem(), limit) : freemem();
}

export interface WorkerPlan {
  workers: number;
  /** Why fewer workers than asked, one line per reason (empty when none). */
  notes: string[];
}

const gib = (b: number): string => `${(b / 2 ** 30).toFixed(1)} GiB`;

/**
 * The worker count for `requested` workers on a study of `trials` trials with
 * `availableBytes` of memory: at most one per trial, and at most as many as
 * fit in memory at WORKER_MEMORY_ESTIMATE_BYTES each (at least one).
 */
export function planWorkers(requested: number, o: { trials: number; availableBytes: number; flag?: string }): WorkerPlan {
  const flag = o.flag ?? '--workers';
  const notes: string[] = [];
  let workers = requested;
  if (o.trials >= 1 && workers > o.trials) {
    notes.push(`${flag} ${requested}: the study has ${o.trials} trial(s), so ${o.trials} worker(s) are enough; using ${o.trials}`);
    workers = o.trials;
  }
  const fit = Math.max(1, Math.floor(o.availableBytes / WORKER_MEMORY_ESTIMATE_BYTES));
  if (workers > fit) {
    notes.push(
      `${flag} ${workers}: each worker holds about ${WORKER_MEMORY_ESTIMATE_BYTES / 2 ** 20} MiB, so ${workers} need about ${gib(workers * WORKER_MEMORY_ESTIMATE_BYTES)}, ` +
        `but ${gib(o.availableBytes)} is available; using ${fit}`,
    );
    workers = fit;
  } else if (o.availableBytes < WORKER_MEMORY_ESTIMATE_BYTES) {
    notes.push(`only ${gib(o.availableBytes)} of memory is available and a worker holds about ${WORKER_MEMORY_ESTIMATE_BYTES / 2 ** 20} MiB: the search may run out of memory`);
  }
  return { workers, notes };
}
