// The coordinator's grouped writes: one commit for the writes of a turn of the
// event loop, in the order they were asked for, each with its own outcome.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupedWrites } from '../../src/search/grouped-writes.js';
import { Study } from '../../src/search/study.js';
import { lmConfig } from './fixtures.js';

test('grouped writes: one transaction per turn, in order; a failing write rejects alone, a failing commit rejects all', async () => {
  const log: string[] = [];
  let commitFails = false;
  const g = new GroupedWrites((fn) => {
    log.push('begin');
    fn();
    if (commitFails) throw new Error('disk full');
    log.push('commit');
  });
  const a = g.add(() => (log.push('a'), 1));
  const b = g.add(() => {
    log.push('b');
    throw new Error('b failed');
  });
  const c = g.add(() => (log.push('c'), 3));
  assert.equal(log.length, 0, 'nothing runs before the end of the turn');
  assert.equal(await a, 1);
  await assert.rejects(b, /b failed/);
  assert.equal(await c, 3);
  assert.deepEqual(log, ['begin', 'a', 'b', 'c', 'commit']);

  // A write asked for in a later turn is a transaction of its own.
  log.length = 0;
  await g.add(() => log.push('d'));
  assert.deepEqual(log, ['begin', 'd', 'commit']);

  commitFails = true;
  const e = g.add(() => 5);
  const f = g.add(() => 6);
  await assert.rejects(e, /disk full/);
  await assert.rejects(f, /disk full/);
  await g.settled();
});

test('grouped writes on a study: a tell that throws undoes only itself; the others of its turn are stored', async () => {
  const s = Study.open(':memory:', lmConfig({ strategy: 'random' }));
  const g = new GroupedWrites((fn) => s.transaction(fn));
  const [p, q] = s.askBatch(2);
  const outcome = { state: 'done' as const, reward: 0.5, val: { loss: 1 }, trainSeconds: 1 };
  const results = await Promise.allSettled([
    g.add(() => s.markRunning(p.trialId, 'w')),
    g.add(() => s.tell(p.trialId, outcome)),
    g.add(() => s.tell(p.trialId, outcome)), // told twice: refused
    g.add(() => s.tell(q.trialId, { ...outcome, reward: Number.NaN })), // refused: no finite reward
    g.add(() => s.markRunning(q.trialId, 'w')),
  ]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled'],
  );
  assert.equal(s.trial(p.trialId).state, 'done');
  assert.equal(s.trial(q.trialId).state, 'running');
  s.close();
});
