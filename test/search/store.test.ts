// The SQLite store: schema creation and version checks, refusing files that
// are not ours, directory handling, WAL mode, the study lock, and the trial
// lifecycle at the storage level.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { processStartMs } from '../../src/search/lock.js';
import { MIGRATIONS, SCHEMA_VERSION, SearchStore, StoreError, needsInMemoryCopy } from '../../src/search/store.js';
import type { PatternFile } from '../../src/patterns/types.js';
import { tempDir } from '../helpers.js';
import { damagedCopy, lmConfig } from './fixtures.js';

const pattern: PatternFile = { format: 'autodropout/pattern@1', slots: { '*': { kind: 'none' } } };

test('a new file gets the v1 schema, WAL mode and an autodropout meta table', () => {
  const path = join(tempDir(), 'a.db');
  const s = SearchStore.open(path);
  assert.equal(s.schemaVersion(), SCHEMA_VERSION);
  s.close();
  const db = new Database(path, { readonly: true });
  const meta = Object.fromEntries((db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
  assert.equal(meta.app, 'autodropout');
  assert.equal(meta.schema_version, String(SCHEMA_VERSION));
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
  for (const t of ['meta', 'studies', 'trials', 'trial_epochs', 'trial_events', 'controller_checkpoints', 'sampler_state']) assert.ok(tables.includes(t), t);
  db.close();
  // Reopening is a no-op.
  SearchStore.open(path).close();
});

test('migrations form an ordered list ending at SCHEMA_VERSION', () => {
  assert.deepEqual(
    MIGRATIONS.map((m) => m.version),
    Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
  );
});

test('a schema-1 file (before test metrics) migrates to the current schema keeping its trials; read-only it asks for the migration', () => {
  const path = join(tempDir(), 'v1.db');
  // A file as autodropout wrote it at schema 1: migration 1 only, one finished trial.
  const raw = new Database(path);
  raw.transaction(() => {
    MIGRATIONS[0].up(raw);
    raw.prepare("INSERT INTO meta (key, value) VALUES ('app', 'autodropout'), ('schema_version', '1')").run();
  })();
  raw.close();
  const old = SearchStore.open(path);
  const st = old.createStudy(lmConfig());
  const t = old.insertTrial(st.id, { pattern, tokens: [1], logProb: -1, policyVersion: 0 }, null);
  old.finishTrial(st.id, t.id, { state: 'done', reward: 0.5, updateReward: 0.5, val: { loss: 1, perplexity: 160 } });
  old.close();
  // Undo the migration the open just ran, to have a genuine schema-1 file with data in it.
  const back = new Database(path);
  back.exec("ALTER TABLE trials DROP COLUMN test; UPDATE meta SET value = '1' WHERE key = 'schema_version'");
  back.close();
  assert.throws(() => SearchStore.open(path, { readonly: true }), /schema version 1 and needs a migration to 2/);
  const s = SearchStore.open(path);
  assert.equal(s.schemaVersion(), 2);
  const [kept] = s.trials(st.id);
  assert.deepEqual([kept.id, kept.state, kept.reward, kept.val, kept.test], [t.id, 'done', 0.5, { loss: 1, perplexity: 160 }, null]);
  const u = s.insertTrial(st.id, { pattern, tokens: [2], logProb: -1, policyVersion: 0 }, null);
  s.finishTrial(st.id, u.id, { state: 'done', reward: 0.6, updateReward: 0.6, val: { loss: 1, perplexity: 140 }, test: { loss: 1.1, perplexity: 150 } });
  assert.deepEqual(s.getTrial(u.id)!.test, { loss: 1.1, perplexity: 150 });
  s.close();
});

test('a newer schema, a foreign SQLite file and a non-SQLite file are refused with errors naming the file', () => {
  const dir = tempDir();
  const newer = join(dir, 'newer.db');
  SearchStore.open(newer).close();
  const db = new Database(newer);
  db.prepare("UPDATE meta SET value = '99' WHERE key = 'schema_version'").run();
  db.close();
  assert.throws(() => SearchStore.open(newer), (e: Error) => e instanceof StoreError && e.message.includes(newer) && /version 99, newer/.test(e.message));

  const foreign = join(dir, 'foreign.db');
  const f = new Database(foreign);
  f.exec('CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)');
  f.close();
  assert.throws(() => SearchStore.open(foreign), (e: Error) => e instanceof StoreError && e.message.includes(foreign) && /not an autodropout search database/.test(e.message));

  const otherApp = join(dir, 'other.db');
  const o = new Database(otherApp);
  o.exec("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('app', 'optuna')");
  o.close();
  assert.throws(() => SearchStore.open(otherApp), /other\.db is not an autodropout search database \(its meta table says app = "optuna"\)/);

  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'these are not the pages you are looking for\n'.repeat(200));
  assert.throws(() => SearchStore.open(text), (e: Error) => e instanceof StoreError && e.message.includes(text) && /not an SQLite database/.test(e.message));
});

test('missing parent directories are created; an impossible or read-only location is a clear error', () => {
  const dir = tempDir();
  const deep = join(dir, 'runs', 'a', 'b', 'search.db');
  SearchStore.open(deep).close();
  const blocker = join(dir, 'file');
  writeFileSync(blocker, 'x');
  assert.throws(() => SearchStore.open(join(blocker, 'sub', 's.db')), (e: Error) => e instanceof StoreError && /cannot create the directory/.test(e.message) && e.message.includes('s.db'));
  assert.throws(() => SearchStore.open(dir), /is a directory|not an SQLite|cannot open/);
  assert.throws(() => SearchStore.open(join(dir, 'none.db'), { readonly: true }), /no search database at .*none\.db/);
  if (process.getuid?.() !== 0) {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    assert.throws(() => SearchStore.open(join(ro, 's.db')), /is not writable/);
    chmodSync(ro, 0o755);
  }
});

test('a read-only store reads but refuses writes', () => {
  const path = join(tempDir(), 'r.db');
  const w = SearchStore.open(path);
  w.createStudy(lmConfig());
  const r = SearchStore.open(path, { readonly: true });
  assert.equal(r.listStudies().length, 1);
  assert.throws(() => r.createStudy(lmConfig({ name: 'other' })), /open read-only/);
  r.close();
  w.close();
});

test('a read-only store can read a copy in memory (what it does in a directory it cannot write): the same rows, nothing written next to the file', () => {
  const dir = tempDir();
  const path = join(dir, 'c.db');
  const w = SearchStore.open(path);
  const st = w.createStudy(lmConfig());
  w.insertTrial(st.id, { pattern, tokens: [1, 2], logProb: -1, policyVersion: 0 }, { k: 1 });
  w.close();
  const bytes = readFileSync(path);
  assert.deepEqual(readdirSync(dir), ['c.db'], 'a closed WAL database leaves no -wal or -shm file');
  // A writable directory reads in place; the decision is what the directory allows.
  assert.equal(needsInMemoryCopy(path), false);
  const copy = SearchStore.open(path, { readonly: true, inMemoryCopy: true });
  const inPlace = SearchStore.open(path, { readonly: true, inMemoryCopy: false });
  try {
    assert.deepEqual(copy.listStudies(), inPlace.listStudies());
    assert.deepEqual(copy.trials(st.id), inPlace.trials(st.id));
    assert.deepEqual(copy.samplerState(st.id), { k: 1 });
    assert.throws(() => copy.createStudy(lmConfig({ name: 'other' })), /open read-only/);
  } finally {
    copy.close();
    inPlace.close();
  }
  assert.deepEqual(readFileSync(path), bytes, 'the database file is unchanged');
});

test('a damaged database is refused at open, naming the file', () => {
  const dir = tempDir();
  const path = join(dir, 'd.db');
  const w = SearchStore.open(path);
  const st = w.createStudy(lmConfig());
  for (let i = 0; i < 20; i++) w.insertTrial(st.id, { pattern, tokens: [i], logProb: -1, policyVersion: 0 }, null);
  w.close();
  const bad = damagedCopy(path, join(dir, 'damaged.db'));
  for (const readonly of [true, false]) {
    assert.throws(
      () => SearchStore.open(bad, { readonly }),
      (e: Error) => e instanceof StoreError && e.message.startsWith(`the search database ${bad} is damaged (SQLite: `) && /restore it from a copy/.test(e.message),
    );
  }
});

test('trial lifecycle: ask order, running, epochs, requeue drops epochs, finish once, tell order', () => {
  let t = 1000;
  const s = SearchStore.open(':memory:', { now: () => t++ });
  const st = s.createStudy(lmConfig());
  const a = s.insertTrial(st.id, { pattern, tokens: [1, 2], logProb: -1.5, policyVersion: 0 }, { kind: 'fixed', draws: 1 });
  const b = s.insertTrial(st.id, { pattern, tokens: [3, 4], logProb: -2.5, policyVersion: 0 }, { kind: 'fixed', draws: 2 });
  assert.deepEqual([a.askOrder, b.askOrder], [0, 1]);
  assert.equal(a.state, 'queued');
  assert.deepEqual(s.samplerState(st.id), { kind: 'fixed', draws: 2 });
  assert.deepEqual(s.samplerState(st.id, 0), { kind: 'fixed', draws: 1 });
  assert.equal(s.nextQueued(st.id)!.id, a.id);
  assert.equal(s.nextQueued(st.id, new Set([a.id]))!.id, b.id);

  s.markRunning(st.id, a.id, 'w1');
  assert.throws(() => s.markRunning(st.id, a.id, 'w2'), /is running; only a queued trial/);
  assert.equal(s.heartbeat(a.id), true);
  assert.equal(s.heartbeat(b.id), false);
  s.recordEpoch(st.id, a.id, { epoch: 1, value: 0.7, trainLoss: 1, val: { loss: 0.5, accuracy: 0.7 }, seconds: 1 });
  assert.equal(s.epochs(a.id).length, 1);
  const r = s.requeue(st.id, a.id, 'worker died', true);
  assert.equal(r.state, 'queued');
  assert.equal(r.attempts, 1);
  assert.equal(s.epochs(a.id).length, 0);
  assert.deepEqual(
    s.events(a.id).map((e) => [e.kind, e.detail]),
    [
      ['asked', null],
      ['started', 'w1'],
      ['requeued-attempt', 'worker died'],
    ],
  );

  const fb = s.finishTrial(st.id, b.id, { state: 'done', reward: 0.8, updateReward: 0.8, val: { loss: 0.3, accuracy: 0.8 } });
  const fa = s.finishTrial(st.id, a.id, { state: 'failed', reward: null, updateReward: 0.8, error: 'diverged' });
  assert.deepEqual([fb.tellOrder, fa.tellOrder], [0, 1]);
  assert.throws(() => s.finishTrial(st.id, a.id, { state: 'done', reward: 1, updateReward: 1 }), /already failed; a trial is told once/);
  assert.deepEqual(s.counts(st.id), { queued: 0, running: 0, done: 1, failed: 1, pruned: 0 });
  assert.equal(s.bestTrial(st.id)!.id, b.id);
  assert.equal(s.minReward(st.id), 0.8);
  assert.deepEqual(
    s.unconsumed(st.id).map((x) => x.id),
    [b.id, a.id],
  );
  s.close();
});

test('a write that throws inside a transaction leaves nothing behind', () => {
  const s = SearchStore.open(':memory:');
  const st = s.createStudy(lmConfig());
  assert.throws(() =>
    s.transaction(() => {
      s.insertTrial(st.id, { pattern, tokens: [], logProb: 0, policyVersion: 0 }, {});
      throw new Error('boom');
    }),
  );
  assert.equal(s.askedCount(st.id), 0);
  assert.equal(s.samplerState(st.id), null);
  s.close();
});

test('the study lock: a live coordinator here blocks even a takeover; a dead or reused pid is taken; another host needs takeover', () => {
  const path = join(tempDir(), 'lock.db');
  const s = SearchStore.open(path);
  const st = s.createStudy(lmConfig());
  assert.equal(s.acquireLock(st.id), null);
  assert.equal(s.acquireLock(st.id), null); // re-entrant for the same process
  const setLock = (pid: number, host = hostname(), since = Date.now()): void =>
    s.unsafeExec('UPDATE studies SET lock_pid = ?, lock_host = ?, lock_since = ? WHERE id = ?', pid, host, since, st.id);
  // A live process on this host (our parent, started before the lock was taken).
  setLock(process.ppid);
  for (const takeover of [false, true]) {
    assert.throws(() => s.acquireLock(st.id, { takeover }), /is held by process \d+ .*still running; only one coordinator.*--takeover never takes/);
  }
  assert.equal(s.getStudyById(st.id).lock!.pid, process.ppid);
  // A process that has exited.
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  setLock(Number(dead.stdout));
  assert.equal(s.acquireLock(st.id)?.pid, Number(dead.stdout));
  assert.equal(s.getStudyById(st.id).lock!.pid, process.pid);
  // A live process that started after the lock was taken: the holder's pid, reused.
  const reuser = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' });
  try {
    assert.ok(processStartMs(reuser.pid!)! > Date.now() - 60_000, 'the start time of a process, from /proc');
    setLock(reuser.pid!, hostname(), Date.now() - 3_600_000);
    assert.equal(s.acquireLock(st.id)?.pid, reuser.pid);
    setLock(reuser.pid!, hostname(), Date.now());
    assert.throws(() => s.acquireLock(st.id, { takeover: true }), /still running/, 'started before the lock: it may be the holder');
  } finally {
    reuser.kill('SIGKILL');
  }
  // Another host: its processes cannot be seen from here, so only an explicit takeover.
  setLock(process.ppid, 'elsewhere');
  assert.throws(() => s.acquireLock(st.id), /held by process \d+ on elsewhere .*cannot see whether.*pass --takeover/);
  assert.deepEqual(s.acquireLock(st.id, { takeover: true })?.host, 'elsewhere');
  assert.equal(s.getStudyById(st.id).lock!.pid, process.pid);
  s.releaseLock(st.id);
  assert.equal(s.getStudyById(st.id).lock, null);
  s.close();
});
