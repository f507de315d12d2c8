// The settings of a search over a BullMQ queue on Redis, declared once
// (docs/bullmq.md). Each entry says its flag, the kind of value, its default
// and which command reads it: `search` (the coordinator, which enqueues the
// trials) or `worker` (which trains them), or both. cli/queue-settings.ts
// turns this table into commander options and reads them back; the executor
// (bullmq.ts) and the queue worker (../queue-worker.ts) take the resolved
// values. Engine-free and BullMQ-free: the CLI checks these flags before
// anything heavy loads.
import { availableParallelism } from 'node:os';

export type QueueSettingKind = 'redis-url' | 'queue-name' | 'positive-int' | 'non-negative-int' | 'positive-number' | 'non-negative-number' | 'device';

export interface QueueSettings {
  /** redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], or rediss:// for TLS. */
  redis: string;
  /** The queue's name (search: default the study's name; worker: required). */
  queue: string;
  /** Runs of a job BullMQ makes when the worker process training it fails (then the coordinator re-queues the trial as a failed attempt). */
  jobAttempts: number;
  /** Seconds before BullMQ's first retry of a failed job, doubled each further one. */
  backoff: number;
  /** Seconds a worker's lock on a job lasts; it renews the lock at half that while the child trains. */
  lockDuration: number;
  /** Seconds between a worker's checks for jobs whose lock ran out (stalled: their worker died or hung). */
  stalledInterval: number;
  /** Times a job may stall and go back to the queue before it fails. */
  maxStalled: number;
  /** Trials a worker trains at once (one child process each). */
  concurrency: number;
  /** Intra-op threads of each child. */
  threads: number;
  /** Device the worker's children train on. */
  device: string;
}

export type QueueSettingKey = keyof QueueSettings;

export interface QueueSetting<K extends QueueSettingKey = QueueSettingKey> {
  key: K;
  flag: string;
  arg: string;
  kind: QueueSettingKind;
  /** Which command takes the flag. */
  side: 'search' | 'worker' | 'both';
  help: string;
  /** Absent: the setting has no fixed default (`defaultHelp` says what happens). */
  default?: () => QueueSettings[K];
  defaultHelp?: string;
}

const setting = <K extends QueueSettingKey>(s: QueueSetting<K>): QueueSetting<K> => s;

/** Every queue setting, in the order the usage lists them. */
export const QUEUE_SETTINGS = [
  setting({
    key: 'redis',
    flag: '--redis',
    arg: '<url>',
    kind: 'redis-url',
    side: 'both',
    help: 'Redis server of the trial queue: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB], or rediss:// for TLS (search: runs the trials on `autodropout worker` processes on any machine)',
  }),
  setting({
    key: 'queue',
    flag: '--queue',
    arg: '<name>',
    kind: 'queue-name',
    side: 'both',
    help: 'name of the trial queue (letters, digits, . _ -)',
    defaultHelp: "search: the study's name; worker: required, the name the search printed",
  }),
  setting({
    key: 'jobAttempts',
    flag: '--job-attempts',
    arg: '<n>',
    kind: 'positive-int',
    side: 'search',
    help: "runs of a trial's job when the worker process training it fails, before the coordinator re-queues the trial as a failed attempt",
    default: () => 2,
  }),
  setting({ key: 'backoff', flag: '--backoff', arg: '<s>', kind: 'non-negative-number', side: 'search', help: "seconds before a failed job's first retry, doubled each further one", default: () => 5 }),
  setting({
    key: 'lockDuration',
    flag: '--lock-duration',
    arg: '<s>',
    kind: 'positive-number',
    side: 'worker',
    help: "seconds a worker's lock on a trial lasts (renewed at half that while the child trains in its own process); a worker silent this long has its trial taken back",
    default: () => 30,
  }),
  setting({
    key: 'stalledInterval',
    flag: '--stalled-interval',
    arg: '<s>',
    kind: 'positive-number',
    side: 'worker',
    help: 'seconds between checks for trials whose lock ran out (their worker died or hangs); such a trial goes back to the queue',
    default: () => 30,
  }),
  setting({
    key: 'maxStalled',
    flag: '--max-stalled',
    arg: '<n>',
    kind: 'non-negative-int',
    side: 'worker',
    help: 'times a trial may stall and go back to the queue before its job fails (the coordinator then re-queues it as a failed attempt)',
    default: () => 1,
  }),
  setting({
    key: 'concurrency',
    flag: '--concurrency',
    arg: '<n>',
    kind: 'positive-int',
    side: 'worker',
    help: 'trials this worker trains at once, one child process each',
    default: () => availableParallelism(),
    defaultHelp: 'one per core',
  }),
  setting({ key: 'threads', flag: '--threads', arg: '<n>', kind: 'positive-int', side: 'worker', help: 'intra-op threads of each child', default: () => 1 }),
  setting({ key: 'device', flag: '--device', arg: '<name>', kind: 'device', side: 'worker', help: 'device of the children: cpu, cuda, cuda:N or auto', default: () => 'cpu' }),
] as const satisfies readonly QueueSetting[];

/** The settings a command takes. */
export function queueSettingsOf(side: 'search' | 'worker'): readonly QueueSetting[] {
  return (QUEUE_SETTINGS as readonly QueueSetting[]).filter((s) => s.side === side || s.side === 'both');
}

/** The default of a setting, as --help says it. */
export function queueDefaultHelp(s: QueueSetting): string {
  return s.defaultHelp ?? (s.default ? String(s.default()) : '');
}

/** Queue names BullMQ accepts (no ':', which separates its Redis keys). */
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

/** The queue a study's trials go to by default: its name, with characters a queue name cannot hold replaced by '_'. */
export function defaultQueueName(study: string): string {
  return study.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 100) || 'autodropout';
}

/** Where a Redis server is and how to log in, from a --redis URL. */
export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
}

/** The --redis URL as a target; throws an Error saying what is wrong with it. */
export function parseRedisUrl(text: string): RedisTarget {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new Error(`'${redactRedisUrl(text)}' is not a URL; expected redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or rediss://... for TLS`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`'${redactRedisUrl(text)}' has scheme ${u.protocol.replace(/:$/, '')}; expected redis:// or rediss:// (TLS)`);
  if (u.hostname === '') throw new Error(`'${redactRedisUrl(text)}' names no host; expected redis://HOST[:PORT][/DB]`);
  const path = u.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,5}$/.test(path)) throw new Error(`'${redactRedisUrl(text)}': the path must be a database number (e.g. /0), got '/${path}'`);
  if (u.search || u.hash) throw new Error(`'${redactRedisUrl(text)}': query strings and fragments are not read; give the settings as flags`);
  const t: RedisTarget = { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port: u.port ? Number(u.port) : 6379, db: path ? Number(path) : 0, tls: u.protocol === 'rediss:' };
  if (u.username) t.username = decodeURIComponent(u.username);
  if (u.password) t.password = decodeURIComponent(u.password);
  return t;
}

/** The URL with its password replaced by ***: what messages and logs show. */
export function redactRedisUrl(text: string): string {
  return text.replace(/^([a-z]+:\/\/[^:@/]*:)[^@/]*@/i, '$1***@');
}
