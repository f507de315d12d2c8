// `autodropout search | status | export | replay` end to end: a local search
// with 2 workers, its status, export and replay; `train --pattern` with the
// exported file; the coordinator killed with SIGKILL while trials run and
// resumed (every trial id once, finished trials untouched, counts right);
// SIGINT re-queueing the running trials. (Bad flags and misuse, with their
// exit codes and messages: bad-input.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadPatternFile } from '../../src/patterns/io.js';
import { SearchStore } from '../../src/search/store.js';
import { HANG_GUARD_MS, runCli as runCliWith, tempDir, type CliRun } from '../helpers.js';

/** Runs the CLI; `until` may kill it (returns the signal to send) as stderr grows. */
const runCli = (args: readonly string[], until?: (stderr: string, pid: number) => NodeJS.Signals | null): Promise<CliRun> => runCliWith(args, { until });

function oneJson(r: CliRun): Record<string, unknown> {
  assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `stdout must be one JSON line, got:\n${r.stdout}`);
  return JSON.parse(lines[0]) as Record<string, unknown>;
}

const child = ['--task', 'mnist', '--model', 'wrn-10-1', '--train-limit', '256', '--val-size', '256'];

function trials(db: string) {
  const store = SearchStore.open(db, { readonly: true });
  try {
    return store.trials(store.resolveStudy().id);
  } finally {
    store.close();
  }
}

test('search (local, 2 workers) -> status --json, export --best, replay, train --pattern', async () => {
  const dir = tempDir();
  const db = join(dir, 'study.db');
  const s = oneJson(await runCli(['search', ...child, '--epochs', '1', '--strategy', 'random', '--trials', '4', '--workers', '2', '--seed', '1', '--db', db, '--json']));
  assert.deepEqual(s.counts, { queued: 0, running: 0, done: 4, failed: 0, pruned: 0 });
  assert.equal(s.workers, 2);
  assert.equal(s.executor, 'local');

  const st = oneJson(await runCli(['status', '--db', db, '--json']));
  assert.equal(st.name, 'study');
  assert.deepEqual(st.trials, { target: 4, asked: 4 });
  assert.deepEqual(st.counts, s.counts);
  assert.match(String(st.data), /^sha256:[0-9a-f]{16}$/, 'the fingerprint of the data the children trained on');
  const best = st.best as { trialId: number; reward: number; pattern: unknown };
  assert.ok(best.trialId >= 1 && best.trialId <= 4 && best.reward >= 0 && best.reward <= 1);
  const text = await runCli(['status', '--db', db]);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /4 done, 0 pruned, 0 failed/);
  assert.match(text.stdout, new RegExp(`^data: ${String(st.data)} \\(the fingerprint of the files its children trained on\\)$`, 'm'));

  const out = join(dir, 'best.json');
  const ex = await runCli(['export', '--db', db, '--best', '-o', out]);
  assert.equal(ex.code, 0, ex.stderr);
  const file = loadPatternFile(out);
  assert.deepEqual(file.slots, (best.pattern as { slots: unknown }).slots);
  assert.equal(file.provenance?.reward, best.reward);
  assert.equal(file.provenance?.trialId, best.trialId);

  const rp = await runCli(['replay', '--db', db]);
  assert.equal(rp.code, 0, rp.stdout + rp.stderr);
  assert.match(rp.stdout, /4 trial\(s\) checked.*all match/);
  // A tampered log does not replay: exit 1, naming the trial and field.
  const bad = join(dir, 'tampered.db');
  copyFileSync(db, bad);
  const store = SearchStore.open(bad);
  store.unsafeExec('UPDATE trials SET log_prob = log_prob + 1 WHERE id = 2');
  store.close();
  const rb = await runCli(['replay', '--db', bad, '--json']);
  assert.equal(rb.code, 1, rb.stderr);
  const rj = JSON.parse(rb.stdout) as { ok: boolean; mismatches: { trialId: number; field: string }[] };
  assert.equal(rj.ok, false);
  assert.deepEqual(
    rj.mismatches.map((m) => [m.trialId, m.field]),
    [[2, 'logProb']],
  );

  // The exported pattern trains: same child, same seed -> the search's reward.
  const tr = oneJson(await runCli(['train', ...child, '--epochs', '1', '--seed', '1', '--threads', '1', '--pattern', out, '--checkpoint', join(dir, 'ck'), '--json']));
  assert.equal((tr.val as { accuracy: number }).accuracy, best.reward);
  assert.ok(Object.keys(tr.dropout as object).length > 0);
});

test('coordinator killed with SIGKILL mid-search, then --resume: every trial once, finished ones untouched', async () => {
  const dir = tempDir();
  const db = join(dir, 'kill.db');
  const args = ['search', ...child, '--epochs', '2', '--strategy', 'rl', '--update-every', '2', '--controller-dim', '16', '--controller-heads', '2', '--trials', '6', '--workers', '2', '--db', db];
  let workersAtKill: string[] = [];
  const first = await runCli(args, (stderr) => {
    // After two trials are done and the coordinator dispatched the next ones.
    if ((stderr.match(/trial \d+ done/g) ?? []).length < 2 || !existsSync(db)) return null;
    const running = trials(db).filter((t) => t.state === 'running');
    if (running.length === 0) return null;
    workersAtKill = running.map((t) => t.worker ?? '');
    return 'SIGKILL';
  });
  assert.equal(first.signal, 'SIGKILL', first.stderr);
  const before = trials(db);
  const finishedBefore = before.filter((t) => t.state === 'done');
  assert.ok(finishedBefore.length >= 2);
  assert.ok(before.some((t) => t.state === 'running'));
  // The orphaned workers notice the closed IPC channel and exit.
  const pids = workersAtKill.map((w) => Number(w.split(':')[1]));
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  // They exit when they next yield to their event loop (every few training steps):
  // polled until they are gone; the guard only stops a worker that never exits.
  const guard = performance.now() + HANG_GUARD_MS;
  while (pids.some(alive) && performance.now() < guard) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(pids.filter(alive), [], 'workers outlived their coordinator');

  const resumed = await runCli(['search', '--db', db, '--resume', '--workers', '2', '--json']);
  const s = oneJson(resumed);
  assert.ok((s.resumed as { requeued: number[] }).requeued.length >= 1);
  const after = trials(db);
  assert.deepEqual(
    after.map((t) => t.id).sort((a, b) => a - b),
    [1, 2, 3, 4, 5, 6],
  );
  assert.equal(after.filter((t) => t.state === 'done' || t.state === 'pruned').length, 6);
  for (const t of finishedBefore) assert.deepEqual(after.find((a) => a.id === t.id), t, `trial ${t.id} changed after resume`);
  assert.deepEqual(
    after.map((t) => t.tellOrder).sort((a, b) => a! - b!),
    [0, 1, 2, 3, 4, 5],
  );
  const st = oneJson(await runCli(['status', '--db', db, '--json']));
  assert.deepEqual(st.counts, { queued: 0, running: 0, done: 6, failed: 0, pruned: 0 });
  assert.equal(st.lock, null);
  const rp = await runCli(['replay', '--db', db]);
  assert.equal(rp.code, 0, rp.stdout + rp.stderr);
});

test('SIGINT stops dispatching, re-queues the running trials, exits 130; --resume finishes', async () => {
  const dir = tempDir();
  const db = join(dir, 'int.db');
  const r = await runCli(['search', ...child, '--epochs', '1', '--strategy', 'random', '--trials', '4', '--workers', '2', '--db', db], (stderr) =>
    /trial \d+ done/.test(stderr) ? 'SIGINT' : null,
  );
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /SIGINT: stopping; \d running trial\(s\) re-queued for --resume/);
  const mid = trials(db);
  assert.equal(mid.filter((t) => t.state === 'running').length, 0);
  const s = oneJson(await runCli(['search', '--db', db, '--resume', '--json']));
  assert.deepEqual(s.counts, { queued: 0, running: 0, done: 4, failed: 0, pruned: 0 });
  assert.equal(
    trials(db).reduce((n, t) => n + t.attempts, 0),
    0,
    'an interruption is not a failed attempt',
  );
});
