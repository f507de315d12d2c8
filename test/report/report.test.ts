// `report` on a database with two studies (an rl search and a random one,
// trained by fake outcomes, no child): the best-so-far curves against trials
// and child-epochs for both, the controller's entropy and baseline over its
// updates, the top patterns drawn, and report.md linking all of it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeReport } from '../../src/report/report.js';
import { SearchStore } from '../../src/search/store.js';
import { Study } from '../../src/search/study.js';
import { tempDir } from '../helpers.js';
import { fakeOutcome, imageConfig } from '../search/fixtures.js';

/** Asks and tells `n` trials one at a time, recording the epochs each child trained (done: all; pruned: 1; failed: none). */
function drive(s: Study, n: number): void {
  for (let k = 0; k < n; k++) {
    const p = s.ask();
    s.markRunning(p.trialId, 'w');
    const o = fakeOutcome(k, p.tokens);
    const epochs = o.state === 'done' ? s.config.child.epochs : o.state === 'pruned' ? 1 : 0;
    for (let e = 1; e <= epochs; e++) s.recordEpoch(p.trialId, { epoch: e, value: 0.5, trainLoss: 1, val: { loss: 1, accuracy: 0.5 }, seconds: 1 });
    s.tell(p.trialId, o);
  }
}

test('report: two studies overlaid, the controller over its updates, the top patterns, report.md', async () => {
  const dir = tempDir();
  const db = join(dir, 'two.db');
  const store = SearchStore.open(db);
  const rl = Study.open(store, imageConfig({ name: 'rl', trials: 12 }));
  const rnd = Study.open(store, imageConfig({ name: 'random', strategy: 'random', trials: 10 }));
  drive(rl, 12);
  drive(rnd, 10);
  const want = { rl: rl.best()!, random: rnd.best()! };
  const updates = store.checkpoints(rl.id).filter((c) => c.stats !== null).length;
  rl.close();
  rnd.close();
  store.close();
  assert.equal(updates, 3, '12 tells, an update every 4');

  const out = join(dir, 'report');
  const r = await writeReport(db, out, { top: 4 });
  for (const f of ['best-vs-trials.png', 'best-vs-child-epochs.png', 'controller.png', 'report.md', 'report.json']) assert.ok(existsSync(join(out, f)), f);
  for (const f of r.files.filter((x) => x.endsWith('.png'))) {
    const m = await sharp(join(out, f)).metadata();
    assert.ok(m.format === 'png' && m.width! > 200 && m.height! > 100, `${f}: ${m.format} ${m.width}x${m.height}`);
  }

  assert.deepEqual(
    r.studies.map((s) => [s.name, s.strategy, s.done + s.pruned + s.failed]),
    [
      ['rl', 'rl', 12],
      ['random', 'random', 10],
    ],
  );
  for (const name of ['rl', 'random'] as const) {
    const c = r.curves.filter((p) => p.study === name);
    assert.deepEqual(
      c.map((p) => p.trials),
      Array.from({ length: name === 'rl' ? 12 : 10 }, (_, i) => i + 1),
    );
    // Child-epochs: 3 per done child, 1 per pruned one, 0 per failed one, accumulated in tell order.
    const row = r.studies.find((s) => s.name === name)!;
    assert.equal(c.at(-1)!.childEpochs, 3 * row.done + row.pruned);
    assert.equal(row.childEpochs, c.at(-1)!.childEpochs);
    const best = c.map((p) => p.best).filter((b): b is number => b !== null);
    assert.ok(best.every((b, i) => i === 0 || b >= best[i - 1]), `${name}: best so far never drops`);
    assert.equal(best.at(-1), want[name].reward);
    assert.deepEqual(row.best, { trialId: want[name].trialId, value: want[name].reward });
  }
  assert.equal(r.controller.length, updates);
  assert.deepEqual(
    r.controller.map((p) => p.version),
    [1, 2, 3],
  );
  assert.ok(r.controller.every((p) => Number.isFinite(p.entropy) && p.entropy > 0 && Number.isFinite(p.baseline)));

  assert.equal(r.top.length, 4);
  assert.ok(r.top.every((t, i) => i === 0 || t.reward <= r.top[i - 1].reward));
  assert.equal(r.top[0].reward, Math.max(want.rl.reward, want.random.reward));
  assert.equal(new Set(r.top.map((t) => JSON.stringify(t.pattern.slots))).size, 4, 'distinct patterns');
  const md = readFileSync(join(out, 'report.md'), 'utf8');
  assert.match(md, /\| rl \| rl \| wrn-10-1 on fashion-mnist \| /);
  assert.match(md, /\| random \| random \| /);
  assert.match(md, /!\[best-vs-child-epochs\.png\]\(best-vs-child-epochs\.png\)/);
  assert.match(md, /!\[controller\.png\]\(controller\.png\)/);
  for (const t of r.top) assert.ok(md.includes(`![${t.picture}](${t.picture})`), t.picture);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).top.length, 4);
});

test('report: a database with no study is an error naming it', async () => {
  const db = join(tempDir(), 'empty.db');
  SearchStore.open(db).close();
  await assert.rejects(writeReport(db, join(tempDir(), 'r')), /empty\.db holds no study yet/);
});
