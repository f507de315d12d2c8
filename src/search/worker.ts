// A local search worker: a process forked by the local executor
// (executors/local.ts). It loads the engine once and the study's dataset once,
// then trains the trials it is sent one after another, with one intra-op
// thread (the pool runs one worker per core). While a child trains, a timer
// sends a heartbeat every few seconds; training is synchronous per step but
// the trainer yields to the event loop every few steps, which is when the
// timer (and any message) gets its turn.
//
// Lifetime: the worker ignores SIGINT (Ctrl-C reaches the whole process group;
// the coordinator decides what stops and re-queues the trial), exits on a
// `shutdown` message, on SIGTERM, and when its IPC channel closes (the
// coordinator died, e.g. kill -9): an orphan never keeps training.
import { pathToFileURL } from 'node:url';
import { DataCache, runChild } from './executors/child.js';
import { DEVICE_ENV, HEARTBEAT_ENV, THREADS_ENV, WORKER_ENV, type FromWorker, type ToWorker } from './executors/protocol.js';
import type { EpochDecision } from './executors/types.js';

/** Runs the worker loop on this process's IPC channel; resolves when told to shut down. */
export async function runWorker(): Promise<void> {
  const send = process.send?.bind(process);
  if (!send || process.env[WORKER_ENV] !== '1') {
    throw new Error('this worker is internal: the local executor of `autodropout search` starts it with an IPC channel (for a queue worker, run `autodropout worker --redis URL --queue NAME`)');
  }
  const post = (m: FromWorker): void => {
    if (process.connected) send(m);
  };
  const beatMs = Math.max(50, Number(process.env[HEARTBEAT_ENV] ?? 2000) || 2000);
  const threads = Math.max(1, Math.floor(Number(process.env[THREADS_ENV] ?? 1)) || 1);
  const device = process.env[DEVICE_ENV] ?? 'cpu';
  if (device !== 'cpu') {
    // Not cpu: select it before any tensor exists (a device this libtorch lacks ends the worker with the engine's message).
    const { useDevice } = await import('../engine/index.js');
    useDevice(device);
  }
  const cache = new DataCache();
  const decisions = new Map<string, (d: EpochDecision) => void>();
  let busy = false;

  process.on('SIGINT', () => {});
  process.on('disconnect', () => process.exit(0));

  return new Promise<void>((resolve) => {
    process.on('message', (raw: unknown) => {
      const m = raw as ToWorker;
      if (m.type === 'shutdown') {
        process.removeAllListeners('message');
        process.disconnect?.();
        resolve();
        return;
      }
      if (m.type === 'decision') {
        const key = `${m.trialId}:${m.epoch}`;
        decisions.get(key)?.(m.decision);
        decisions.delete(key);
        return;
      }
      if (m.type === 'trial') {
        if (busy) {
          post({ type: 'error', message: `worker ${process.pid} got trial ${m.spec.trialId} while busy` });
          return;
        }
        busy = true;
        const { trialId } = m.spec;
        const beat = setInterval(() => post({ type: 'heartbeat', trialId }), beatMs);
        post({ type: 'heartbeat', trialId });
        void runChild(
          m.spec,
          {
            onEpochStart: (epoch) => post({ type: 'epoch-start', trialId, epoch }),
            onEpoch: (report) =>
              new Promise<EpochDecision>((res) => {
                decisions.set(`${trialId}:${report.epoch}`, res);
                post({ type: 'epoch', trialId, report });
              }),
          },
          { threads, cache },
        ).then((outcome) => {
          clearInterval(beat);
          busy = false;
          post({ type: 'result', trialId, outcome });
        });
      }
    });
    post({ type: 'ready', pid: process.pid });
  });
}

// Entry point when forked as dist/src/search/worker.js.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runWorker().then(
    () => process.exit(0),
    (e: unknown) => {
      process.stderr.write(`autodropout worker: ${(e as Error).message}\n`);
      process.exit(1);
    },
  );
}
