// The bullmq executor with real processes: a private redis-server
// (test/redis.ts), a coordinator (`autodropout search --redis`) and separate
// `autodropout worker` processes, as on many machines. Faults are triggered
// by events (a worker's "epoch N started" line), never by timers; BullMQ's
// own lock and stall timers are set short (--lock-duration,
// --stalled-interval) so a dead worker's trial comes back in seconds.
//
// - two workers finish a pruned search: every trial recorded once, the queue
//   empty afterwards;
// - a worker killed with SIGKILL mid-trial: its trial stalls and is trained
//   again by the other worker; nothing lost or duplicated;
// - the coordinator killed with SIGKILL and resumed: the resumed coordinator
//   finds the jobs it had enqueued (trained once each) and the queue and the
//   study agree;
// - a job of another code version, or an fp16 trial on a CPU worker, is
//   refused (back in the queue, the worker exits 1 saying why);
// - a worker stopped with SIGSTOP: its trial is detected as stalled, trained
//   elsewhere, and the stopped worker's late result is ignored;
// - Redis killed and restarted mid-search, with and without persistence: the
//   search completes (without, the coordinator enqueues its jobs again).
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { SearchStore } from '../../src/search/store.js';
import { codeVersion } from '../../src/cli/search.js';
import { BullmqExecutor } from '../../src/search/executors/bullmq.js';
import { TRIAL_JOB_FORMAT } from '../../src/search/executors/queue-protocol.js';
import type { TrialSpec } from '../../src/search/types.js';
import { cliPath, HANG_GUARD_MS, repoRoot, tempDir } from '../helpers.js';
import { TestRedis, onRedisLost, redisSkip, tlsSkip } from '../redis.js';

/** Line waits in progress: they fail at once when a test's Redis is killed from outside (see onRedisLost). */
const waits = new Set<(e: Error) => void>();
onRedisLost((_r, why) => {
  for (const fail of [...waits]) fail(new Error(why));
});

/** Processes a test started that have not ended: a failed test leaves none behind (a search waiting for a lost Redis would keep the file running). */
const live = new Set<Proc>();
afterEach(async () => {
  const left = [...live];
  for (const p of left) p.proc.kill('SIGKILL');
  await Promise.all(left.map((p) => p.done));
});

/** A CLI process the test keeps a handle on: its stderr so far, a wait for a line, its end. */
interface Proc {
  proc: ChildProcess;
  stderr(): string;
  stdout(): string;
  /** Resolves with the first stderr line matching `re` (already printed or to come). */
  line(re: RegExp): Promise<RegExpMatchArray>;
  /** Calls `fn` on every stderr line as it comes. */
  onLine(fn: (line: string) => void): void;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function start(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Proc {
  // At normal priority, as every other test's processes: niced, they starve on a machine busy with
  // other work (a stress run with two busy loops saw 4 s of CPU in 5 minutes, and the hang guard).
  const proc = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let partial = '';
  const listeners: ((line: string) => void)[] = [];
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    partial += d;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) for (const fn of [...listeners]) fn(l);
  });
  // A guard against a hung process, far above any test's run; never a limit a test relies on.
  const guard = setTimeout(() => proc.kill('SIGKILL'), HANG_GUARD_MS);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('close', (code, signal) => {
      clearTimeout(guard);
      resolve({ code, signal });
    }),
  );
  const p: Proc = {
    proc,
    stderr: () => err,
    stdout: () => out,
    onLine: (fn) => listeners.push(fn),
    line: (re) => {
      let fail: (e: Error) => void = () => {};
      return new Promise<RegExpMatchArray>((resolve, reject) => {
        for (const l of err.split('\n')) {
          const m = l.match(re);
          if (m) return resolve(m);
        }
        fail = (e) => reject(new Error(`${e.message}, while waiting for a line matching ${re}:\n${err.slice(-3000)}`));
        waits.add(fail);
        const fn = (l: string): void => {
          const m = l.match(re);
          if (m) resolve(m);
        };
        listeners.push(fn);
        void done.then(() => reject(new Error(`process ended before a line matching ${re}:\n${err.slice(-3000)}`)));
      }).finally(() => waits.delete(fail));
    },
    done,
  };
  live.add(p);
  void done.then(() => live.delete(p));
  return p;
}

/** A small search's flags: random patterns on the tiny Fashion-MNIST child, as the executor tests train. */
const child = ['--task', 'fashion-mnist', '--model', 'wrn-10-1', '--train-limit', '256', '--val-size', '256', '--strategy', 'random'];

/** A worker on `queue` with short lock and stall timers (a dead worker's trial comes back in seconds). */
const worker = (r: TestRedis, queue: string, ...more: string[]): Proc =>
  start(['worker', '--redis', r.url, '--queue', queue, '--concurrency', '1', '--lock-duration', '4', '--stalled-interval', '2', ...more]);

async function stop(...ps: Proc[]): Promise<void> {
  for (const p of ps) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGTERM');
  await Promise.all(ps.map((p) => p.done));
}

/** The trials of the (single) study in `db`: [id, state] in id order, and their tell orders. */
function trialsOf(db: string) {
  const store = SearchStore.open(db, { readonly: true });
  try {
    const s = store.resolveStudy();
    return store.trials(s.id).map((t) => ({ id: t.id, state: t.state, tellOrder: t.tellOrder, attempts: t.attempts, events: store.events(t.id) }));
  } finally {
    store.close();
  }
}

/** Every trial 1..n recorded once, finished, told once each. */
function assertComplete(db: string, n: number, states: readonly string[] = ['done']): void {
  const trials = trialsOf(db);
  assert.deepEqual(
    trials.map((t) => t.id),
    Array.from({ length: n }, (_, i) => i + 1),
    'every trial id 1..N exactly once',
  );
  for (const t of trials) assert.ok(states.includes(t.state), `trial ${t.id} is ${t.state}`);
  assert.deepEqual(
    trials.map((t) => t.tellOrder).sort((a, b) => a! - b!),
    Array.from({ length: n }, (_, i) => i),
    'each trial told once',
  );
}

/** Jobs left on the queue, by state (a finished search leaves none). */
async function jobsLeft(r: TestRedis, queue: string): Promise<Record<string, number>> {
  const q = new Queue(queue, { connection: { host: '127.0.0.1', port: r.port } });
  try {
    const c = await q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed', 'paused');
    return Object.fromEntries(Object.entries(c).filter(([, v]) => v > 0));
  } finally {
    await q.close();
  }
}

/** How many times each job was started, over the workers' logs. */
function startsPerJob(...ws: Proc[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const w of ws) for (const x of w.stderr().matchAll(/job (t\d+\.a\d+), run \d+\): started/g)) m.set(x[1], (m.get(x[1]) ?? 0) + 1);
  return m;
}

/**
 * Sends `signal` to the first of `workers` whose log says a job's epoch 2
 * started (an event, not a delay); the returned getter names that worker and
 * its job once it has happened.
 */
function signalAtEpoch2(workers: readonly Proc[], signal: NodeJS.Signals): () => { worker: Proc; job: string } | null {
  let hit: { worker: Proc; job: string } | null = null;
  for (const w of workers) {
    w.onLine((l) => {
      const m = l.match(/job (t\d+\.a\d+), run \d+\): epoch 2 started/);
      if (m && !hit) {
        hit = { worker: w, job: m[1] };
        w.proc.kill(signal);
      }
    });
  }
  return () => hit;
}

test('two workers finish a pruned search over Redis: every trial recorded once, the queue left empty', { skip: redisSkip }, async () => {
  const r = await TestRedis.start();
  const db = join(tempDir(), 'two.db');
  const w1 = worker(r, 'two');
  const w2 = worker(r, 'two');
  try {
    const c = start(['search', ...child, '--epochs', '2', '--prune', 'median', '--trials', '4', '--workers', '2', '--db', db, '--redis', r.url, '--queue', 'two', '--json']);
    const end = await c.done;
    assert.equal(end.code, 0, c.stderr());
    const s = JSON.parse(c.stdout()) as { executor: string; counts: Record<string, number> };
    assert.equal(s.executor, 'bullmq');
    assert.equal(s.counts.done + s.counts.pruned, 4);
    assertComplete(db, 4, ['done', 'pruned']);
    // Both workers read the same files: one data fingerprint, recorded with every trial.
    const data = new Set(trialsOf(db).map((t) => t.events.find((e) => e.kind === 'data')?.detail));
    assert.equal(data.size, 1);
    assert.match([...data][0] ?? '', /^sha256:[0-9a-f]{16}$/);
    // Every job trained once, by one of the two workers.
    assert.deepEqual([...startsPerJob(w1, w2).values()], [1, 1, 1, 1], `${w1.stderr()}\n${w2.stderr()}`);
    assert.deepEqual(await jobsLeft(r, 'two'), {});
  } finally {
    await stop(w1, w2);
    await r.stop();
  }
});

test('a worker killed with SIGKILL mid-trial: the trial stalls, the other worker trains it, the search completes with nothing lost or duplicated', { skip: redisSkip }, async () => {
  const r = await TestRedis.start();
  const db = join(tempDir(), 'kill.db');
  const w1 = worker(r, 'kill');
  const w2 = worker(r, 'kill');
  // The first worker to start an epoch 2 dies there, before it can report it.
  const victim = signalAtEpoch2([w1, w2], 'SIGKILL');
  try {
    const c = start(['search', ...child, '--epochs', '2', '--trials', '3', '--workers', '2', '--db', db, '--redis', r.url, '--queue', 'kill']);
    const end = await c.done;
    assert.equal(end.code, 0, c.stderr());
    const killed = victim();
    assert.ok(killed, 'a worker was killed');
    const { worker: dead, job } = killed;
    assert.equal((await dead.done).signal, 'SIGKILL');
    const survivor = dead === w1 ? w2 : w1;
    // The killed worker's job was started again, by the survivor.
    assert.match(survivor.stderr(), new RegExp(`job ${job.replace('.', '\\.')}, run \\d+\\): started`));
    assert.match(c.stderr(), /its worker stopped renewing the lock \(died or hangs\); the job goes back to the queue/);
    assertComplete(db, 3);
    assert.deepEqual(await jobsLeft(r, 'kill'), {});
  } finally {
    await stop(w1, w2);
    await r.stop();
  }
});

test('the coordinator killed with SIGKILL and resumed: it finds the jobs it had enqueued; the queue and the study agree', { skip: redisSkip }, async () => {
  const r = await TestRedis.start();
  const db = join(tempDir(), 'coord.db');
  const w1 = worker(r, 'coord');
  const w2 = worker(r, 'coord');
  const args = ['search', ...child, '--epochs', '1', '--trials', '5', '--workers', '2', '--db', db, '--redis', r.url, '--queue', 'coord'];
  try {
    const first = start(args);
    // Killed as trial 3 starts training: trials 1-2 are told or in flight, 3 is on a worker.
    const killed = Promise.race([w1.line(/trial 3 .*epoch 1 started/), w2.line(/trial 3 .*epoch 1 started/)]).then(() => first.proc.kill('SIGKILL'));
    await killed;
    assert.equal((await first.done).signal, 'SIGKILL');
    const running = trialsOf(db).filter((t) => t.state === 'running' || t.state === 'queued');
    assert.ok(running.length >= 1, 'the coordinator died with trials in flight');
    const second = start([...args, '--resume']);
    const end = await second.done;
    assert.equal(end.code, 0, second.stderr());
    assertComplete(db, 5);
    // No trial was trained twice: each job started once, over both workers.
    const starts = startsPerJob(w1, w2);
    assert.equal(starts.size, 5, JSON.stringify([...starts]));
    assert.ok([...starts.values()].every((n) => n === 1), JSON.stringify([...starts]));
    assert.deepEqual(await jobsLeft(r, 'coord'), {});
  } finally {
    await stop(w1, w2);
    await r.stop();
  }
});

/**
 * One job on a queue of a private Redis and one worker started on it: the
 * worker must refuse the job before training it (exit 1, its message matching
 * `refusal`, no line matching `never`: by default, no epoch started) and leave
 * it waiting for another worker.
 */
async function expectRefused(
  queue: string,
  job: { study: string; codeVersion: string; spec: Record<string, unknown> },
  jobId: string,
  refusal: RegExp,
  never = /epoch \d+ started/,
): Promise<void> {
  const r = await TestRedis.start();
  const q = new Queue(queue, { connection: { host: '127.0.0.1', port: r.port } });
  try {
    await q.add('trial', { format: TRIAL_JOB_FORMAT, ...job, attempt: 0, decisions: false }, { jobId });
    const w = worker(r, queue);
    const end = await w.done;
    assert.equal(end.code, 1, w.stderr());
    assert.match(w.stderr(), refusal);
    assert.doesNotMatch(w.stderr(), never);
    assert.equal(await q.getJobState(jobId), 'waiting');
  } finally {
    await q.close();
    await r.stop();
  }
}

const nonePattern = { format: 'autodropout/pattern@1', slots: { '*': { kind: 'none' } } };
const smallChild = { task: 'fashion-mnist', model: 'wrn-10-1', epochs: 1, trainLimit: 256, valSize: 256, childSeed: 0 };

test('a job enqueued by another code version is refused: back in the queue, the worker exits 1 saying why', { skip: redisSkip }, async () => {
  await expectRefused(
    'other',
    { study: 'old', codeVersion: 'autodropout@0.0.0-other', spec: { trialId: 1, pattern: nonePattern, child: {}, evaluateTest: false } },
    't1.a0',
    /refused job t1\.a0 of queue 'other': the job was enqueued by autodropout@0\.0\.0-other \(study 'old'\) and this worker runs autodropout@\S+; run the same autodropout version on every machine/,
  );
});

test('an fp16 trial on a CPU worker is refused before training: back in the queue for a CUDA worker, the worker exits 1 saying how to start one', { skip: redisSkip }, async () => {
  await expectRefused(
    'half',
    { study: 'gpu', codeVersion: codeVersion(), spec: { trialId: 4, pattern: nonePattern, child: { ...smallChild, precision: 'fp16' }, evaluateTest: false } },
    't4.a0',
    /refused job t4\.a0 of queue 'half': trial 4 trains in --precision fp16, which this worker's device \(cpu\) cannot: start the workers of this search with --device cuda/,
    // Refused before its child process starts.
    /trial 4 .*started/,
  );
});

test('a job whose study was trained on other data is refused before training: back in the queue, the worker exits 1 naming both fingerprints', { skip: redisSkip }, async () => {
  await expectRefused(
    'data',
    { study: 'elsewhere', codeVersion: codeVersion(), spec: { trialId: 1, pattern: nonePattern, child: smallChild, evaluateTest: false, data: 'sha256:0123456789abcdef' } },
    't1.a0',
    /refused job t1\.a0 of queue 'data': this worker cannot train on its data: the fashion-mnist data here \(the default data folders: .*train-images-idx3-ubyte\.gz.*\) has fingerprint sha256:[0-9a-f]{16}, but the study's trials were trained on data with fingerprint sha256:0123456789abcdef: give every machine of a search the same copy of the data/,
  );
});

test('over rediss:// (TLS) with a password: a worker and a search that trust the server\'s CA finish the search; a worker that does not is refused, told how to trust it', { skip: tlsSkip }, async () => {
  const r = await TestRedis.start({ tls: true, password: 's3cret' });
  const trusting = { ...process.env, NODE_EXTRA_CA_CERTS: r.caFile };
  const db = join(tempDir(), 'tls.db');
  const untrusting = start(['worker', '--redis', r.url, '--queue', 'tls', '--concurrency', '1']);
  const w = start(['worker', '--redis', r.url, '--queue', 'tls', '--concurrency', '1'], trusting);
  try {
    const refused = await untrusting.done;
    assert.equal(refused.code, 1, untrusting.stderr());
    assert.match(
      untrusting.stderr(),
      /Redis at rediss:\/\/:\*\*\*@localhost:\d+\/0 has a TLS certificate this machine does not trust \(.*certificate.*\): for a private CA, start this process with NODE_EXTRA_CA_CERTS=/,
    );
    const c = start(['search', ...child, '--epochs', '1', '--trials', '2', '--workers', '1', '--db', db, '--redis', r.url, '--queue', 'tls', '--json'], trusting);
    const end = await c.done;
    assert.equal(end.code, 0, c.stderr());
    assertComplete(db, 2);
    assert.doesNotMatch(c.stderr() + c.stdout() + w.stderr() + untrusting.stderr(), /s3cret/, 'the password is never shown');
  } finally {
    await stop(w, untrusting);
    await r.stop();
  }
});

test('the executor sweeps finished jobs of trials the study has recorded off the queue as it opens (a coordinator killed between recording a result and removing its job leaves them); a result not yet recorded stays for the resume to read', { skip: redisSkip }, async () => {
  const r = await TestRedis.start();
  const connection = { host: '127.0.0.1', port: r.port };
  const q = new Queue('sweep', { connection });
  // Three finished jobs: t1 and t3 of trials the study has told, t2 of a trial it has not.
  const finished = new Promise<void>((resolve) => {
    let n = 0;
    const w = new Worker(
      'sweep',
      async (job) => {
        if (job.id === 't3.a0') throw new Error('child failed');
        return { state: 'done', reward: 0.5, val: { loss: 1 }, trainSeconds: 1 };
      },
      { connection },
    );
    const one = (): void => void (++n === 3 && w.close().then(resolve));
    w.on('completed', one);
    w.on('failed', one);
  });
  try {
    for (const id of ['t1.a0', 't2.a0', 't3.a0']) await q.add('trial', {}, { jobId: id, attempts: 1, removeOnComplete: false, removeOnFail: false });
    await finished;
    const ex = await BullmqExecutor.open({
      redis: r.url,
      queue: 'sweep',
      capacity: 1,
      jobAttempts: 1,
      backoff: 1,
      study: { name: 'sweep', created: 1 },
      codeVersion: 'test',
      decisions: false,
      isTold: (id) => id !== 2,
    });
    await ex.close();
    assert.deepEqual(
      await Promise.all(['t1.a0', 't2.a0', 't3.a0'].map((id) => q.getJobState(id))),
      ['unknown', 'completed', 'unknown'],
    );
  } finally {
    await q.close();
    await r.stop();
  }
});

test('a coordinator resumed after more than two of its jobs finished without it takes every result from the queue (none waits for an event that has passed)', { skip: redisSkip }, async () => {
  const r = await TestRedis.start();
  const connection = { host: '127.0.0.1', port: r.port };
  const q = new Queue('reattach', { connection });
  const ids = ['t1.a0', 't2.a0', 't3.a0', 't4.a0'];
  // Four jobs finished while no coordinator listened; the study has told none of them.
  const finished = new Promise<void>((resolve) => {
    let n = 0;
    const w = new Worker('reattach', async (job) => ({ state: 'done', reward: Number(job.id!.slice(1, 2)) / 10, val: { loss: 1 }, trainSeconds: 1 }), { connection });
    w.on('completed', () => void (++n === ids.length && w.close().then(resolve)));
  });
  try {
    for (const id of ids) await q.add('trial', {}, { jobId: id, attempts: 1, removeOnComplete: false, removeOnFail: false });
    await finished;
    const ex = await BullmqExecutor.open({
      redis: r.url,
      queue: 'reattach',
      capacity: ids.length,
      jobAttempts: 1,
      backoff: 1,
      study: { name: 'reattach', created: 1 },
      codeVersion: 'test',
      decisions: false,
      isTold: () => false,
    });
    try {
      const events = { onStart: () => {}, onHeartbeat: () => {}, onEpoch: () => 'continue' as const };
      const outcomes = await Promise.all([1, 2, 3, 4].map((trialId) => ex.run({ trialId, attempt: 0 } as unknown as TrialSpec, events)));
      assert.deepEqual(
        outcomes.map((o) => (o.state === 'done' ? o.reward : o.state)),
        [0.1, 0.2, 0.3, 0.4],
      );
    } finally {
      await ex.close();
    }
  } finally {
    await q.close();
    await r.stop();
  }
});

test('a worker stopped with SIGSTOP: its trial is detected as stalled and trained elsewhere; its late result is ignored', { skip: redisSkip }, async () => {
  const r = await TestRedis.start();
  const db = join(tempDir(), 'stop.db');
  const w1 = worker(r, 'stop');
  const w2 = worker(r, 'stop');
  // The worker's process only: its child trains on but nobody renews the lock.
  const frozen = signalAtEpoch2([w1, w2], 'SIGSTOP');
  try {
    const c = start(['search', ...child, '--epochs', '2', '--trials', '3', '--workers', '2', '--db', db, '--redis', r.url, '--queue', 'stop']);
    // The frozen job goes back to the queue and the other worker starts it.
    await c.line(/its worker stopped renewing the lock/);
    const hit = frozen();
    assert.ok(hit);
    const { worker: stopped, job } = hit;
    const other = stopped === w1 ? w2 : w1;
    await other.line(new RegExp(`job ${job.replace('.', '\\.')}, run \\d+\\): started`));
    // Thawed: its result comes late, BullMQ refuses it (the lock is gone), and the study keeps one result.
    stopped.proc.kill('SIGCONT');
    const end = await c.done;
    assert.equal(end.code, 0, c.stderr());
    assertComplete(db, 3);
    assert.deepEqual(await jobsLeft(r, 'stop'), {});
  } finally {
    for (const w of [w1, w2]) w.proc.kill('SIGCONT');
    await stop(w1, w2);
    await r.stop();
  }
});

for (const persistence of [true, false]) {
  test(`Redis killed and restarted mid-search (${persistence ? 'append-only file: the jobs survive' : 'no persistence: the coordinator enqueues its jobs again'}); the search completes`, { skip: redisSkip }, async () => {
    const r = await TestRedis.start({ persistence });
    const db = join(tempDir(), 'restart.db');
    const q = `restart-${persistence ? 'aof' : 'none'}`;
    const w1 = worker(r, q);
    const w2 = worker(r, q);
    try {
      const c = start(['search', ...child, '--epochs', '1', '--trials', '4', '--workers', '2', '--db', db, '--redis', r.url, '--queue', q]);
      // As trial 2 starts training, Redis dies (kill -9) and comes back on the same port.
      await Promise.race([w1.line(/trial 2 .*epoch 1 started/), w2.line(/trial 2 .*epoch 1 started/)]);
      await r.restart();
      const end = await c.done;
      assert.equal(end.code, 0, c.stderr());
      assert.match(c.stderr(), /lost Redis at redis:\/\/127\.0\.0\.1:\d+\/0/);
      if (!persistence) assert.match(c.stderr(), /Redis no longer has its job \(restarted without persistence\?\); enqueued again/);
      assertComplete(db, 4);
      assert.deepEqual(await jobsLeft(r, q), {});
    } finally {
      await stop(w1, w2);
      await r.stop();
    }
  });
}

test('a worker whose Redis is gone still stops on SIGTERM (exit 0), saying Redis was lost', { skip: redisSkip }, async () => {
  const r = await TestRedis.start();
  const w = worker(r, 'gone');
  try {
    await w.line(/waiting for trials/);
    await r.stop('SIGKILL');
    await w.line(/lost Redis at redis:\/\/127\.0\.0\.1:\d+\/0/);
    w.proc.kill('SIGTERM');
    const end = await w.done;
    assert.equal(end.code, 0, w.stderr());
    assert.match(w.stderr(), /SIGTERM: stopping/);
  } finally {
    await stop(w);
  }
});
