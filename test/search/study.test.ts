// The ask/tell core: persistence of proposals and outcomes, the random and
// fixed strategies, opening rules (exists without resume, a different
// config), re-queues and attempts, and the rewards failed and pruned trials
// are stored with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { savePatternFile } from '../../src/patterns/io.js';
import { getPreset } from '../../src/patterns/presets.js';
import { getSpace, spaceFingerprint, SPAN_SPACE, TILE_SPACE } from '../../src/patterns/spaces.js';
import { replayStudy } from '../../src/search/replay.js';
import { SearchStore } from '../../src/search/store.js';
import { ConfigMismatchError, diffConfigs, SpaceChangedError, Study, StudyExistsError } from '../../src/search/study.js';
import { tempDir } from '../helpers.js';
import { fakeOutcome, imageConfig, lmConfig } from './fixtures.js';

const done = (reward: number) => ({ state: 'done' as const, reward, val: { loss: 0.4, accuracy: reward }, trainSeconds: 1 });

test('ask persists a queued trial with tokens, pattern, log-prob, version and sampler state; tell persists the outcome', () => {
  const path = join(tempDir(), 's.db');
  const study = Study.open(path, imageConfig({ strategy: 'random' }));
  const p = study.ask();
  // wrn-10-1: 6 conv slots in blocks (8 tokens) and final.bn (no skip path: no residual token).
  assert.equal(p.tokens.length, 6 * TILE_SPACE.tokens.length + 7);
  assert.equal(Object.keys(p.pattern.slots).length, 7);
  assert.equal(p.policyVersion, 0);
  const t = study.trial(p.trialId);
  assert.equal(t.state, 'queued');
  assert.deepEqual(t.tokens, p.tokens);
  assert.deepEqual(t.pattern, p.pattern);
  assert.equal(t.logProb, p.logProb);
  assert.deepEqual(study.store.samplerState(study.id, 0), { kind: 'random', rng: (study.store.samplerState(study.id) as { rng: number[] }).rng });

  study.markRunning(p.trialId, 'w7');
  study.recordEpoch(p.trialId, { epoch: 1, value: 0.8, trainLoss: 0.6, val: { loss: 0.5, accuracy: 0.8 }, seconds: 3 });
  study.tell(p.trialId, { state: 'done', reward: 0.85, val: { loss: 0.45, accuracy: 0.85 }, trainSeconds: 6 });
  study.close();

  const again = SearchStore.open(path, { readonly: true });
  const r = again.getTrial(p.trialId)!;
  assert.equal(r.state, 'done');
  assert.equal(r.reward, 0.85);
  assert.equal(r.updateReward, 0.85);
  assert.deepEqual(r.val, { loss: 0.45, accuracy: 0.85 });
  assert.equal(r.trainSeconds, 6);
  assert.equal(r.worker, 'w7');
  assert.ok(r.started !== null && r.finished !== null);
  assert.equal(again.epochs(p.trialId)[0].value, 0.8);
  assert.equal(again.getStudy('img')!.lock, null, 'close releases the lock');
  again.close();
});

test('random: uniform token indices over the space, reproducible from the seed', () => {
  const draw = (seed: number, n: number): number[][] => {
    const s = Study.open(':memory:', lmConfig({ strategy: 'random', seed }));
    const out = Array.from({ length: n }, () => s.ask().tokens);
    s.close();
    return out;
  };
  const a = draw(5, 300);
  assert.deepEqual(draw(5, 300), a);
  assert.notDeepEqual(draw(6, 5), a.slice(0, 5));
  // Every position covers its whole vocabulary, roughly uniformly.
  SPAN_SPACE.tokens.forEach((tok, i) => {
    const counts = new Array(tok.values.length).fill(0);
    for (const t of a) counts[t[i]]++;
    const expect = a.length / tok.values.length;
    for (const c of counts) assert.ok(c > expect * 0.5 && c < expect * 1.5, `${tok.name}: ${counts}`);
  });
  const s = Study.open(':memory:', lmConfig({ strategy: 'random' }));
  const p = s.ask();
  assert.ok(Math.abs(p.logProb + SPAN_SPACE.tokens.reduce((acc, t) => acc + Math.log(t.values.length), 0)) < 1e-12);
  s.close();
});

test('fixed: a preset or a pattern file, every trial the same, resolved once at creation', () => {
  const s = Study.open(':memory:', imageConfig({ strategy: 'fixed', fixed: 'dropblock' }));
  const a = s.ask();
  const b = s.ask();
  assert.deepEqual(a.pattern, getPreset('dropblock'));
  assert.deepEqual(b.pattern, a.pattern);
  assert.deepEqual(a.tokens, []);
  assert.equal(a.logProb, 0);
  s.tell(a.trialId, done(0.9));
  s.close();

  const dir = tempDir();
  const file = join(dir, 'p.json');
  savePatternFile(file, getPreset('dropout'));
  const db = join(dir, 'f.db');
  const f = Study.open(db, imageConfig({ strategy: 'fixed', fixed: file }));
  assert.deepEqual(f.ask().pattern, getPreset('dropout'));
  f.close();
  // The file changes afterwards; the study keeps training what it started with.
  savePatternFile(file, getPreset('spatial'));
  const g = Study.open(db, imageConfig({ strategy: 'fixed', fixed: file }), { resume: true });
  assert.deepEqual(g.ask().pattern, getPreset('dropout'));
  g.close();

  assert.throws(() => Study.open(':memory:', lmConfig({ strategy: 'fixed', fixed: 'spatial' })), /spatial|sequence|Transformer/i);
  assert.throws(() => Study.open(':memory:', lmConfig({ strategy: 'fixed' })), /fixed strategy needs/);
});

test('fixed with seedPerTrial: trial k trains with child seed childSeed + k; evaluateTest reaches the spec and the stored trial', () => {
  const s = Study.open(':memory:', imageConfig({ strategy: 'fixed', fixed: 'none', seedPerTrial: true, evaluateTest: true, child: { ...imageConfig().child, childSeed: 10 } }));
  const specs = [s.ask(), s.ask(), s.ask()].map((p) => s.trialSpec(p));
  assert.deepEqual(
    specs.map((x) => [x.child.childSeed, x.evaluateTest]),
    [
      [10, true],
      [11, true],
      [12, true],
    ],
  );
  s.markRunning(specs[1].trialId, 'w');
  s.tell(specs[1].trialId, { state: 'done', reward: 0.9, val: { loss: 0.2, accuracy: 0.9 }, test: { loss: 0.3, accuracy: 0.88 }, trainSeconds: 1 });
  assert.deepEqual(s.trial(specs[1].trialId).test, { loss: 0.3, accuracy: 0.88 });
  s.close();
  // A search: one child seed for all, and never the test split.
  const r = Study.open(':memory:', imageConfig({ strategy: 'random' }));
  assert.deepEqual([r.ask(), r.ask()].map((p) => [r.trialSpec(p).child.childSeed, r.trialSpec(p).evaluateTest]), [
    [0, false],
    [0, false],
  ]);
  r.close();
  assert.throws(() => Study.open(':memory:', imageConfig({ strategy: 'rl', seedPerTrial: true, evaluateTest: true })), /seedPerTrial goes with the fixed strategy only.*evaluateTest goes with the fixed strategy only/);
});

test('opening an existing study needs resume; a different config names the differing fields', () => {
  const path = join(tempDir(), 'e.db');
  const s = Study.open(path, lmConfig({ strategy: 'random' }));
  s.ask();
  s.close();
  assert.throws(
    () => Study.open(path, lmConfig({ strategy: 'random' })),
    (e: Error) => e instanceof StudyExistsError && /already holds study 'lm' \(1 trial asked\); pass --resume to continue it, or choose another --db/.test(e.message),
  );
  assert.throws(
    () => Study.open(path, lmConfig({ strategy: 'random', seed: 8, updateEvery: 5, child: { ...lmConfig().child, epochs: 9 } }), { resume: true }),
    (e: Error) =>
      e instanceof ConfigMismatchError &&
      e.fields.map((f) => f.field).join() === 'child.epochs,seed,updateEvery' &&
      /child\.epochs \(stored 2, given 9\), seed \(stored 7, given 8\), updateEvery \(stored 3, given 5\)/.test(e.message),
  );
  // The trial budget may change on resume, and the study says so; it is stored.
  const r = Study.open(path, lmConfig({ strategy: 'random', trials: 99 }), { resume: true });
  assert.equal(r.config.trials, 99);
  assert.deepEqual(r.warnings, ["study 'lm': trial target changed from 40 to 99 (1 asked so far)"]);
  r.ask();
  r.close();
  // ... but never below the trials already asked (the target would read "2 asked of 1").
  assert.throws(
    () => Study.open(path, lmConfig({ strategy: 'random', trials: 1 }), { resume: true }),
    (e: Error) =>
      e instanceof ConfigMismatchError &&
      e.message === `cannot resume study 'lm' in ${path} with --trials 1: it has already asked 2 trial(s) (target 99); give --trials 2 or more, or leave --trials out to keep 99`,
  );
  const two = Study.open(path, lmConfig({ strategy: 'random', trials: 2 }), { resume: true });
  assert.equal(two.config.trials, 2);
  two.close();
  const byName = Study.open(path, 'lm', { resume: true });
  assert.equal(byName.config.trials, 2);
  assert.equal(byName.askedCount(), 2);
  byName.close();
  assert.throws(() => Study.open(path, 'nope', { resume: true }), /has no study 'nope' to resume; it has: lm/);
  assert.deepEqual(diffConfigs(lmConfig(), lmConfig({ controller: { layers: 1, dim: 16, heads: 2 } })), []);
});

test('invalid configs are refused before anything is written', () => {
  const store = SearchStore.open(':memory:');
  assert.throws(() => Study.open(store, lmConfig({ space: 'tile' })), /space tile does not fit language model tlm-1-32/);
  assert.throws(() => Study.open(store, lmConfig({ updateEvery: 0, seed: -1 })), /seed must be a non-negative integer.*updateEvery must be an integer >= 1/);
  assert.throws(() => Study.open(store, lmConfig({ controller: { heads: 3 } })), /heads/);
  assert.equal(store.listStudies().length, 0);
  store.close();
});

test('takeQueued hands each queued trial out once; requeue counts attempts and fails at the limit', () => {
  const s = Study.open(':memory:', lmConfig({ strategy: 'random' }), { maxAttempts: 2 });
  const a = s.ask();
  assert.equal(s.takeQueued(), null, 'an asked trial is already handed out');
  s.markRunning(a.trialId, 'w1');
  assert.equal(s.requeue(a.trialId, 'interrupted', false), 'queued');
  assert.equal(s.attempts(a.trialId), 0);
  assert.equal(s.takeQueued()!.trialId, a.trialId);
  assert.equal(s.takeQueued(), null);
  s.markRunning(a.trialId, 'w2');
  assert.equal(s.heartbeat(a.trialId), true);
  assert.equal(s.requeue(a.trialId, 'worker w2 exited with code 137', true), 'queued');
  assert.equal(s.attempts(a.trialId), 1);
  assert.equal(s.heartbeat(a.trialId), false);
  s.markRunning(s.takeQueued()!.trialId, 'w3');
  assert.equal(s.requeue(a.trialId, 'worker w3 exited with code 137', true), 'failed');
  const t = s.trial(a.trialId);
  assert.equal(t.state, 'failed');
  assert.equal(t.attempts, 2);
  assert.equal(t.error, 'worker w3 exited with code 137 (after 2 attempts)');
  assert.equal(s.takeQueued(), null);
  assert.throws(() => s.tell(a.trialId, done(0.5)), /already failed; a trial is told once/);
  assert.throws(() => s.requeue(a.trialId, 'again'), /only a queued or running trial/);
  s.close();
});

test('stale running trials (no heartbeat) are re-queued as failed attempts', () => {
  let now = 1_000_000;
  const s = Study.open(':memory:', lmConfig({ strategy: 'random' }), { store: { now: () => now } });
  const a = s.ask();
  const b = s.ask();
  s.markRunning(a.trialId, 'w1');
  s.markRunning(b.trialId, 'w2');
  now += 60_000;
  s.heartbeat(b.trialId);
  assert.deepEqual(s.requeueStale(30_000, now), [a.trialId]);
  assert.equal(s.trial(a.trialId).state, 'queued');
  assert.equal(s.trial(a.trialId).attempts, 1);
  assert.equal(s.trial(b.trialId).state, 'running');
  s.close();
});

test('rewards told: failed = lowest done/pruned reward so far (0 before any), pruned = its last validation value', () => {
  const s = Study.open(':memory:', lmConfig({ strategy: 'random' }));
  const ids = Array.from({ length: 6 }, () => s.ask().trialId);
  for (const id of ids) s.markRunning(id, 'w');
  s.tell(ids[0], { state: 'failed', error: 'diverged at step 3' });
  assert.equal(s.trial(ids[0]).updateReward, 0);
  assert.equal(s.trial(ids[0]).reward, null);
  assert.equal(s.trial(ids[0]).error, 'diverged at step 3');
  s.tell(ids[1], done(0.7));
  s.tell(ids[2], done(0.6));
  s.recordEpoch(ids[3], { epoch: 1, value: 0.4, trainLoss: 2, val: { loss: 1.9, perplexity: 200 }, seconds: 1 });
  s.tell(ids[3], { state: 'pruned', reward: 0.4, atEpoch: 1, trainSeconds: 1 });
  assert.equal(s.trial(ids[3]).updateReward, 0.4);
  assert.equal(s.trial(ids[3]).prunedAtEpoch, 1);
  assert.deepEqual(s.trial(ids[3]).val, { loss: 1.9, perplexity: 200 });
  s.tell(ids[4], { state: 'failed', error: 'pattern does not apply' });
  assert.equal(s.trial(ids[4]).updateReward, 0.4, 'the pruned trial is the lowest so far');
  // A pruned outcome without a usable reward falls back to the last recorded epoch value.
  s.recordEpoch(ids[5], { epoch: 1, value: 0.55, trainLoss: 2, val: { loss: 1.5 }, seconds: 1 });
  s.tell(ids[5], { state: 'pruned', reward: Number.NaN, atEpoch: 1, trainSeconds: 1 });
  assert.equal(s.trial(ids[5]).updateReward, 0.55);
  assert.deepEqual(s.best(), { trialId: ids[1], reward: 0.7 });
  assert.deepEqual(s.counts(), { queued: 0, running: 0, done: 2, failed: 2, pruned: 2 });
  assert.throws(() => s.tell(s.ask().trialId, { state: 'done', reward: Number.NaN, val: { loss: 1 }, trainSeconds: 1 }), /needs a finite reward/);
  s.close();
});

test('the fake outcomes used by the resume tests cover every final state', () => {
  const states = new Set(Array.from({ length: 12 }, (_, k) => fakeOutcome(k, [1, 2, 3]).state));
  assert.deepEqual([...states].sort(), ['done', 'failed', 'pruned']);
  assert.equal(getSpace('span'), SPAN_SPACE);
});

test('space fingerprint: recorded at creation; resume and replay refuse a study whose space changed or that predates fingerprints', () => {
  // The fingerprint follows the space's content, not its key order.
  const fp = spaceFingerprint(TILE_SPACE);
  assert.match(fp, /^sha256:[0-9a-f]{16}$/);
  const { tokens, ...rest } = TILE_SPACE;
  assert.equal(spaceFingerprint({ tokens, ...rest }), fp);
  assert.notEqual(spaceFingerprint(SPAN_SPACE), fp);
  assert.notEqual(spaceFingerprint({ ...TILE_SPACE, tokens: TILE_SPACE.tokens.map((t) => (t.name === 'residual' ? { ...t, requires: undefined } : t)) }), fp);
  assert.notEqual(spaceFingerprint({ ...TILE_SPACE, tokens: TILE_SPACE.tokens.map((t) => (t.name === 'rotate' ? { ...t, values: [0, 45] } : t)) }), fp);

  const path = join(tempDir(), 'fp.db');
  const created = Study.open(path, imageConfig({ strategy: 'random' }));
  created.ask();
  created.close();
  const store = SearchStore.open(path);
  try {
    const rec = store.getStudy('img')!;
    assert.equal(rec.config.spaceFingerprint, fp);
    // A caller's config leaves the fingerprint out; resume keeps the stored one.
    const resumed = Study.open(store, imageConfig({ strategy: 'random' }), { resume: true });
    assert.equal(resumed.config.spaceFingerprint, fp);
    resumed.close();
    assert.equal(replayStudy(store).mismatches.length, 0);

    store.updateStudyConfig(rec.id, { ...rec.config, spaceFingerprint: 'sha256:0000000000000000' });
    const changed = new RegExp(
      `cannot resume study 'img' in .*fp\\.db: it was created with another tile space \\(fingerprint sha256:0000000000000000; spaces/tile\\.json now gives ${fp}\\)\\..*start a new study \\(another --db or study name\\)`,
    );
    assert.throws(() => Study.open(store, imageConfig({ strategy: 'random' }), { resume: true }), (e: Error) => e instanceof SpaceChangedError && changed.test(e.message));
    assert.throws(() => Study.open(store, 'img', { resume: true }), SpaceChangedError);
    assert.throws(() => replayStudy(store), /cannot replay study 'img' in .*fp\.db: it was created with another tile space/);

    const { spaceFingerprint: _, ...old } = rec.config;
    store.updateStudyConfig(rec.id, old);
    assert.throws(() => Study.open(store, 'img', { resume: true }), /cannot resume study 'img' .*: it was created before studies recorded their search space \(no spaceFingerprint in its config\)/);
    assert.throws(() => replayStudy(store), /cannot replay study 'img' .*created before studies recorded their search space/);
  } finally {
    store.close();
  }
  // The fixed strategy stores no tokens: a fingerprint does not matter to it.
  const fixedPath = join(tempDir(), 'fixed.db');
  Study.open(fixedPath, imageConfig({ strategy: 'fixed', fixed: 'dropblock' })).close();
  const fs = SearchStore.open(fixedPath);
  const fr = fs.getStudy('img')!;
  const { spaceFingerprint: _f, ...fixedOld } = fr.config;
  fs.updateStudyConfig(fr.id, fixedOld);
  Study.open(fs, 'img', { resume: true }).close();
  fs.close();
});

test('best(): follows tells (a tie keeps the earliest asked) and reads the store again after a transaction that failed', () => {
  const s = Study.open(':memory:', lmConfig({ strategy: 'random' }));
  const [a, b, c] = s.askBatch(3);
  assert.equal(s.best(), null);
  s.tell(a.trialId, done(0.5));
  assert.deepEqual(s.best(), { trialId: a.trialId, reward: 0.5 });
  s.tell(b.trialId, done(0.5));
  assert.deepEqual(s.best(), { trialId: a.trialId, reward: 0.5 }, 'a tie: the earlier asked stays the best');
  assert.throws(
    () =>
      s.transaction(() => {
        s.tell(c.trialId, done(0.9));
        throw new Error('disk full');
      }),
    /disk full/,
  );
  assert.equal(s.trial(c.trialId).state, 'queued');
  assert.deepEqual(s.best(), { trialId: a.trialId, reward: 0.5 }, 'a tell the failed transaction undid is not the best');
  s.tell(c.trialId, done(0.9));
  assert.deepEqual(s.best(), { trialId: c.trialId, reward: 0.9 });
  s.close();
});
