// Replay re-derives every stored sample from the seed and the log: a clean log
// gives no mismatch; an edited token, log-prob or update reward is caught.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { replayStudy } from '../../src/search/replay.js';
import { SearchStore } from '../../src/search/store.js';
import { Study } from '../../src/search/study.js';
import { tempDir } from '../helpers.js';
import { lmConfig, runOps, schedule } from './fixtures.js';

function build(strategy: 'rl' | 'random' | 'fixed'): string {
  const path = join(tempDir(), `${strategy}.db`);
  const s = Study.open(path, lmConfig({ strategy, fixed: strategy === 'fixed' ? 'variational' : undefined }));
  runOps(s, schedule(15, 3), new Map());
  s.ask(); // one more, never told
  s.close();
  return path;
}

test('replay: a clean log re-derives every sample with no mismatch (rl, random, fixed)', () => {
  for (const strategy of ['rl', 'random', 'fixed'] as const) {
    const r = replayStudy(build(strategy));
    assert.equal(r.checked, 16, strategy);
    assert.deepEqual(r.mismatches, [], strategy);
    assert.equal(r.stopped, null);
    if (strategy === 'rl') assert.equal(r.updates, 5); // 15 tells, updateEvery 3
  }
});

test('replay: a tampered token, log-prob, pattern or update reward is reported', () => {
  const path = build('rl');
  const store = SearchStore.open(path);
  const [, second, third] = store.trials(1);
  const tokens = [...second.tokens];
  tokens[0] = (tokens[0] + 1) % 8;
  store.unsafeExec('UPDATE trials SET tokens = ? WHERE id = ?', JSON.stringify(tokens), second.id);
  store.close();
  const r = replayStudy(path);
  assert.ok(r.mismatches.length > 0);
  assert.deepEqual(r.mismatches[0], { trialId: second.id, askOrder: 1, field: 'tokens', stored: tokens, replayed: second.tokens });
  // The stored pattern no longer matches the tampered tokens either... it is checked against the stored tokens:
  assert.ok(r.mismatches.some((m) => m.trialId === second.id && m.field === 'pattern'));

  const p2 = build('rl');
  const s2 = SearchStore.open(p2);
  s2.unsafeExec('UPDATE trials SET log_prob = log_prob - 0.01 WHERE id = ?', third.id);
  s2.unsafeExec("UPDATE trials SET update_reward = 0.123 WHERE state = 'failed'");
  s2.close();
  const r2 = replayStudy(p2);
  assert.ok(r2.mismatches.some((m) => m.trialId === third.id && m.field === 'logProb'));
  assert.ok(r2.mismatches.some((m) => m.field === 'updateReward' && m.stored === 0.123));

  const p3 = build('random');
  const s3 = SearchStore.open(p3);
  s3.unsafeExec("UPDATE trials SET tokens = '[0,0,0,0,0,0,0,0,0,0,0,0]' WHERE ask_order = 4");
  s3.close();
  const r3 = replayStudy(p3);
  assert.ok(r3.mismatches.some((m) => m.askOrder === 4 && m.field === 'tokens'));
});

test('replay: a trial whose stored batch place was edited is reported (batches are redrawn as the log records them)', () => {
  const path = build('rl');
  const store = SearchStore.open(path);
  // schedule(15, 3) asks three trials first: one controller batch (updateEvery 3), places 0, 1 and 2.
  assert.deepEqual((store.samplerState(1, 1) as { batch?: unknown }).batch, { index: 1, size: 3 });
  store.unsafeExec("UPDATE sampler_state SET state = json_set(state, '$.batch.index', 0) WHERE ask_order = 1");
  store.close();
  const r = replayStudy(path);
  assert.ok(r.mismatches.some((m) => m.askOrder === 1 && m.field === 'tokens'));
  assert.ok(r.mismatches.some((m) => m.askOrder === 1 && m.field === 'samplerState'));
});
