// What travels through the trial queue (docs/bullmq.md): a job per trial
// attempt from the coordinator, progress messages and the outcome from the
// worker, and the coordinator's decision after each epoch. JSON only (BullMQ
// stores job data, progress and return values as JSON).
import type { EpochReport, TrialOutcome } from '../types.js';
import type { EpochDecision, TrialSpec } from './types.js';

/** Format tag of a job's data: a worker refuses jobs of another format. */
export const TRIAL_JOB_FORMAT = 'autodropout/trial-job@1';

/** A job's data: one attempt at one trial. */
export interface TrialJob {
  format: typeof TRIAL_JOB_FORMAT;
  /** The study's name (for the worker's log). */
  study: string;
  /** The coordinator's code version: a worker running another refuses the job. */
  codeVersion: string;
  spec: TrialSpec;
  /** The trial's failed attempts before this job (the job id holds it too). */
  attempt: number;
  /** The coordinator answers every epoch (the study prunes): the worker waits for the answer before the next epoch. */
  decisions: boolean;
}

/** Worker -> coordinator, as the job's progress (the coordinator hears it through the queue's event stream). */
export type TrialProgress =
  | { kind: 'epoch-start'; worker: string; token: string; epoch: number }
  | { kind: 'epoch'; worker: string; token: string; report: EpochReport }
  | { kind: 'refused'; worker: string; reason: string };

/** The job's return value. */
export type TrialJobResult = TrialOutcome;

/**
 * The job id of a trial's attempt: one id per (trial, attempt), so a
 * coordinator that restarts finds the job it enqueued before instead of adding
 * another, and a retry after a failed attempt is a new job.
 */
export function trialJobId(trialId: number, attempt: number): string {
  return `t${trialId}.a${attempt}`;
}

/** The Redis list a worker waits on for the decision after `epoch` of one run of a job (`token`: the worker's lock token for that run). */
export function decisionKey(prefix: string, queue: string, jobId: string, token: string, epoch: number): string {
  return `${prefix}:${queue}:autodropout:decision:${jobId}:${token}:${epoch}`;
}

/** The Redis key naming the study a queue belongs to (`name@created`): a queue serves one study at a time. */
export function ownerKey(prefix: string, queue: string): string {
  return `${prefix}:${queue}:autodropout:study`;
}

/** How long a worker waits for a decision before it goes on (the coordinator is down; it re-attaches to the job when it comes back). */
export const DECISION_WAIT_SECONDS = 60;

/** Decision keys expire after this long (an answer nobody read: its run died). */
export const DECISION_TTL_SECONDS = 600;

export const isDecision = (s: string): s is EpochDecision => s === 'continue' || s === 'stop';

/** BullMQ's default key prefix (every key of a queue starts `bull:NAME:`). */
export const QUEUE_PREFIX = 'bull';
