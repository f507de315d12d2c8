// The messages between the local executor (coordinator side) and its worker
// processes, over Node's IPC channel (structured clone, so NaN survives).
import type { EpochReport, TrialOutcome } from '../types.js';
import type { EpochDecision, TrialSpec } from './types.js';

/** Coordinator -> worker. */
export type ToWorker =
  | { type: 'trial'; spec: TrialSpec }
  | { type: 'decision'; trialId: number; epoch: number; decision: EpochDecision }
  | { type: 'shutdown' };

/** Worker -> coordinator. */
export type FromWorker =
  | { type: 'ready'; pid: number }
  | { type: 'heartbeat'; trialId: number }
  | { type: 'epoch-start'; trialId: number; epoch: number }
  | { type: 'epoch'; trialId: number; report: EpochReport }
  | { type: 'result'; trialId: number; outcome: TrialOutcome }
  | { type: 'error'; message: string };

/** Environment variable carrying the heartbeat period (ms) to a worker. */
export const HEARTBEAT_ENV = 'AUTODROPOUT_HEARTBEAT_MS';
/** Set in a forked worker's environment; `autodropout worker` refuses to run without it. */
export const WORKER_ENV = 'AUTODROPOUT_WORKER';
/** Intra-op threads of a worker's children (default 1: the pool is the parallelism). */
export const THREADS_ENV = 'AUTODROPOUT_WORKER_THREADS';
/** The device a worker's children train on (default cpu). */
export const DEVICE_ENV = 'AUTODROPOUT_WORKER_DEVICE';
