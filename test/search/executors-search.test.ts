// The coordinator with real studies (SQLite) and real children: an inline
// search end to end; a local search with 2 workers where one worker is killed
// with SIGKILL mid-trial (the trial is retried, then done; nothing lost or
// duplicated) or killed on every attempt (the trial fails with the reason
// after its second attempt); a child whose loss turns NaN failing with the
// trainer's message while the search goes on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../../src/data/errors.js';
import { runSearch, type SearchSummary } from '../../src/search/coordinator.js';
import { InlineExecutor, LocalExecutor, type Executor, type TrialEvents, type TrialSpec } from '../../src/search/executors/index.js';
import { createSearchProgress } from '../../src/search/progress.js';
import { replayStudy } from '../../src/search/replay.js';
import { SearchStore } from '../../src/search/store.js';
import type { StudyConfig } from '../../src/search/types.js';
import { cifar10Fixture, tempDir } from '../helpers.js';

const quiet = createSearchProgress({ quiet: true });

function config(name: string, over: Partial<StudyConfig> = {}): StudyConfig {
  return {
    name,
    strategy: 'random',
    space: 'tile',
    trials: 4,
    seed: 3,
    child: { task: 'mnist', model: 'wrn-10-1', epochs: 2, trainLimit: 256, valSize: 256, childSeed: 0 },
    updateEvery: 2,
    prune: 'none',
    codeVersion: 'test',
    ...over,
  };
}

/** Every trial of the (single) study in `db`, with its events, read-only. */
function trialsOf(db: string) {
  const store = SearchStore.open(db, { readonly: true });
  try {
    const s = store.resolveStudy();
    return store.trials(s.id).map((t) => ({ ...t, events: store.events(t.id) }));
  } finally {
    store.close();
  }
}

function assertComplete(db: string, n: number): void {
  const ids = trialsOf(db)
    .map((t) => t.id)
    .sort((a, b) => a - b);
  assert.deepEqual(ids, Array.from({ length: n }, (_, i) => i + 1), 'every trial id 1..N exactly once');
}

/** Wraps an executor: `edit` may change a trial's spec, `onEpoch` sees each epoch first. */
function wrap(inner: Executor, hooks: { edit?(s: TrialSpec): TrialSpec; onEpoch?(trialId: number, epoch: number): void }): Executor {
  return {
    kind: inner.kind,
    capacity: inner.capacity,
    run: (spec, events: TrialEvents) =>
      inner.run(hooks.edit ? hooks.edit(spec) : spec, {
        ...events,
        onEpoch: (r) => {
          hooks.onEpoch?.(spec.trialId, r.epoch);
          return events.onEpoch(r);
        },
      }),
    close: () => inner.close(),
  };
}

test('inline search: an rl study runs to its trials, resumes to nothing, and replays', async () => {
  const db = join(tempDir(), 'inline.db');
  const c = config('inline', { strategy: 'rl', trials: 3, controller: { dim: 16, heads: 2 }, child: { ...config('x').child, epochs: 1 } });
  const s = await runSearch(c, { db, workers: 1, executor: 'inline', progress: quiet, handleSignals: false });
  assert.equal(s.counts.done, 3);
  assert.equal(s.interrupted, null);
  assert.ok(s.best && s.best.reward >= 0 && s.best.reward <= 1);
  assert.ok(s.timing.trialsFinished === 3 && s.timing.coordinatorSecondsPerTrial > 0 && s.timing.coordinatorFraction < 0.5);
  assertComplete(db, 3);
  const again = await runSearch(c, { db, resume: true, workers: 1, executor: 'inline', progress: quiet, handleSignals: false });
  assert.equal(again.timing.trialsFinished, 0);
  assert.equal(again.counts.done, 3);
  const r = replayStudy(db);
  assert.deepEqual([r.checked, r.mismatches, r.stopped], [3, [], null]);
});

test('local search: a worker killed with SIGKILL mid-trial -> the trial is retried once and done; a NaN child fails, the rest go on', async () => {
  const db = join(tempDir(), 'local.db');
  const local = new LocalExecutor({ workers: 2 });
  let killed = 0;
  const ex = wrap(local, {
    // Trial 3's child diverges (NaN loss).
    edit: (s) => (s.trialId === 3 ? { ...s, child: { ...s.child, lr: 1e30 } } : s),
    // Trial 2's worker dies in its second epoch, the first time only: killed
    // when it reports that epoch, while it waits for the coordinator's decision
    // (an event, not a timer: a fast epoch cannot finish first).
    onEpoch: (trialId, epoch) => {
      if (trialId === 2 && epoch === 2 && killed++ === 0) process.kill(local.pidOf(2)!, 'SIGKILL');
    },
  });
  const s: SearchSummary = await runSearch(config('local', { trials: 5 }), { db, workers: 2, executor: ex, progress: quiet, handleSignals: false });
  assert.deepEqual(s.session.retried, [2]);
  assert.deepEqual([s.counts.done, s.counts.failed, s.counts.queued, s.counts.running], [4, 1, 0, 0]);
  assertComplete(db, 5);
  const trials = trialsOf(db);
  const t2 = trials.find((t) => t.id === 2)!;
  assert.equal(t2.state, 'done');
  assert.equal(t2.attempts, 1);
  assert.ok(
    t2.events.some((e) => e.detail === 'worker exited with signal SIGKILL during epoch 2'),
    JSON.stringify(t2.events),
  );
  const t3 = trials.find((t) => t.id === 3)!;
  assert.equal(t3.state, 'failed');
  assert.match(t3.error ?? '', /training loss became NaN at epoch 1, step \d+ .*the child diverged/);
  // Every trial was told exactly once.
  assert.deepEqual(
    trials.map((t) => t.tellOrder).sort((a, b) => a! - b!),
    [0, 1, 2, 3, 4],
  );
});

test('local search: a trial whose worker dies on both attempts fails with the reason', async () => {
  const db = join(tempDir(), 'twice.db');
  const local = new LocalExecutor({ workers: 2 });
  const ex = wrap(local, {
    // Killed in its second epoch on both attempts, as it reports that epoch.
    onEpoch: (trialId, epoch) => {
      if (trialId === 1 && epoch === 2) process.kill(local.pidOf(1)!, 'SIGKILL');
    },
  });
  const s = await runSearch(config('twice', { trials: 2 }), { db, workers: 2, executor: ex, progress: quiet, handleSignals: false });
  assert.deepEqual(s.session.retried, [1]);
  assert.deepEqual([s.counts.done, s.counts.failed], [1, 1]);
  const t1 = trialsOf(db).find((t) => t.id === 1)!;
  assert.equal(t1.state, 'failed');
  assert.equal(t1.error, 'worker exited with signal SIGKILL during epoch 2 (after 2 attempts)');
  assertComplete(db, 2);
});

test('a dataset no child can load stops the search at the first trial, which is queued again, not failed (a NaN child, above, is failed and the search goes on)', async () => {
  const data = cifar10Fixture(20, 5);
  // A truncated batch file: every child of the study loads it.
  const batch = join(data, 'cifar-10-batches-bin', 'data_batch_3.bin');
  writeFileSync(batch, readFileSync(batch).subarray(0, 3073 * 7 + 100));
  const db = join(tempDir(), 'broken.db');
  const c = config('broken', { trials: 6, child: { task: 'cifar10', model: 'wrn-10-1', epochs: 1, dataDir: data, valSize: 10, childSeed: 0 } });
  await assert.rejects(
    runSearch(c, { db, workers: 1, executor: 'inline', progress: quiet, handleSignals: false }),
    (e: unknown) => {
      assert.ok(e instanceof DataError, String(e));
      assert.equal(e.option, undefined);
      assert.match(e.message, /^the search stopped: trial 1 could not load the data that every trial of the study loads: .*data_batch_3\.bin.*continue with --resume/);
      return true;
    },
  );
  const trials = trialsOf(db);
  assert.deepEqual(
    trials.map((t) => [t.id, t.state, t.attempts]),
    [[1, 'queued', 0]],
  );
  assert.match(trials[0].events.at(-1)!.detail ?? '', /^data error: .*data_batch_3\.bin/);
});

test('each finished trial records the data it trained on; a resumed search whose data changed stops with both fingerprints, and goes on once the data is back', async () => {
  const data = cifar10Fixture(20, 6);
  const db = join(tempDir(), 'data.db');
  const c = (trials: number): StudyConfig => config('data', { trials, child: { task: 'cifar10', model: 'wrn-10-1', epochs: 1, dataDir: data, valSize: 10, childSeed: 0 } });
  await runSearch(c(1), { db, workers: 1, executor: 'inline', progress: quiet, handleSignals: false });
  const recorded = trialsOf(db)[0].events.find((e) => e.kind === 'data')?.detail;
  assert.match(recorded ?? '', /^sha256:[0-9a-f]{16}$/);
  // One label changed: the files still load, but they are not the data trial 1 was trained on.
  const batch = join(data, 'cifar-10-batches-bin', 'data_batch_2.bin');
  const original = readFileSync(batch);
  const edited = Buffer.from(original);
  edited[0] = (edited[0] + 1) % 10;
  writeFileSync(batch, edited);
  await assert.rejects(
    runSearch(c(2), { db, resume: true, workers: 1, executor: 'inline', progress: quiet, handleSignals: false }),
    (e: unknown) => {
      assert.ok(e instanceof DataError, String(e));
      assert.match(e.message, new RegExp(`^the search stopped: trial 2: the cifar10 data here \\(--data-dir ${data}: .*data_batch_2\\.bin.*\\) has fingerprint sha256:[0-9a-f]{16}, but the study's trials were trained on data with fingerprint ${recorded}: give every machine of a search the same copy of the data`));
      return true;
    },
  );
  assert.deepEqual(
    trialsOf(db).map((t) => [t.id, t.state]),
    [
      [1, 'done'],
      [2, 'queued'],
    ],
  );
  writeFileSync(batch, original);
  const s = await runSearch(c(2), { db, resume: true, workers: 1, executor: 'inline', progress: quiet, handleSignals: false });
  assert.equal(s.counts.done, 2);
  assert.deepEqual(
    trialsOf(db).map((t) => t.events.find((e) => e.kind === 'data')?.detail),
    [recorded, recorded],
  );
});

test('a result trained on other data than the study recorded (a queue job enqueued before the first child finished) is not recorded: the trial is queued again and trained on the study data', async () => {
  const db = join(tempDir(), 'late.db');
  const inline = new InlineExecutor();
  let faked = false;
  // The second trial's first run goes out without the study's fingerprint, as a queue job
  // enqueued before the first child finished does; its result comes back as if its machine
  // had other files.
  const ex: Executor = {
    kind: inline.kind,
    capacity: inline.capacity,
    run: async (spec, events) => {
      if (spec.trialId !== 2 || faked) return inline.run(spec, events);
      faked = true;
      assert.match(spec.data ?? '', /^sha256:/, 'trial 1 has pinned the data');
      const outcome = await inline.run({ ...spec, data: undefined }, events);
      assert.notEqual(outcome.state, 'failed');
      return { ...outcome, data: 'sha256:ffffffffffffffff' };
    },
    close: () => inline.close(),
  };
  const s = await runSearch(config('late', { trials: 2, child: { task: 'mnist', model: 'wrn-10-1', epochs: 1, trainLimit: 128, valSize: 128, childSeed: 0 } }), {
    db,
    workers: 1,
    executor: ex,
    progress: quiet,
    handleSignals: false,
  });
  assert.equal(s.counts.done, 2);
  const [t1, t2] = trialsOf(db);
  const pinned = t1.events.find((e) => e.kind === 'data')!.detail!;
  assert.equal(t2.attempts, 0, 'not a failed attempt');
  assert.match(
    t2.events.find((e) => e.kind === 'requeued')?.detail ?? '',
    new RegExp(`^trained on data with fingerprint sha256:ffffffffffffffff, not the study's ${pinned}; its result is not recorded$`),
  );
  assert.deepEqual(
    t2.events.filter((e) => e.kind === 'data').map((e) => e.detail),
    [pinned],
  );
});

test('inline search over the span space: a Transformer LM on the State of the Union corpus', async () => {
  const db = join(tempDir(), 'span.db');
  const c = config('span', {
    strategy: 'rl',
    space: 'span',
    trials: 2,
    controller: { dim: 16, heads: 2 },
    child: { task: 'sotu', model: 'tlm-2-128', epochs: 1, trainLimit: 8000, seqLen: 32, vocabSize: 2000, childSeed: 0 },
  });
  const s = await runSearch(c, { db, workers: 1, executor: 'inline', progress: quiet, handleSignals: false });
  assert.equal(s.counts.done, 2);
  // 80 / perplexity, with a perplexity well above 1.
  assert.ok(s.best && s.best.reward > 0 && s.best.reward < 10, JSON.stringify(s.best));
  assert.ok(Object.values(s.best!.pattern.slots).every((p) => p.kind === 'span' || p.kind === 'none'));
});
