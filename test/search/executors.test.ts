// Executors end to end on tiny real children (MNIST, wrn-10-1, 256 examples):
// the inline executor; the local pool with 2 worker processes, which must give
// exactly the inline results (same seeds, one thread each); pruning through
// the epoch decision; a diverged child failing with the trainer's message
// while its worker goes on; and a worker killed with SIGKILL mid-trial
// rejecting with the reason and being replaced.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator } from '../../src/engine/index.js';
import { createModel } from '../../src/models/index.js';
import { getPreset } from '../../src/patterns/presets.js';
import { dropoutForPatternFile } from '../../src/layers/pattern-file.js';
import { modelSlots } from '../../src/models/index.js';
import { InlineExecutor, LocalExecutor, WorkerLostError, type EpochDecision, type TrialEvents } from '../../src/search/executors/index.js';
import type { ChildTrainConfig, EpochReport } from '../../src/search/types.js';

const child: ChildTrainConfig = { task: 'mnist', model: 'wrn-10-1', epochs: 2, trainLimit: 256, valSize: 256, childSeed: 0 };

interface Recorder extends TrialEvents {
  workers: string[];
  epochs: EpochReport[];
  beats: number;
}
function recorder(decide: (r: EpochReport) => EpochDecision = () => 'continue'): Recorder {
  const r: Recorder = {
    workers: [],
    epochs: [],
    beats: 0,
    onStart: (w) => void r.workers.push(w),
    onHeartbeat: () => void r.beats++,
    onEpoch: (rep) => {
      r.epochs.push(rep);
      return decide(rep);
    },
  };
  return r;
}

test('dropoutForPatternFile resolves once and hands out one dropout per non-none slot', () => {
  const slots = modelSlots('wrn-10-1');
  assert.ok(slots.length > 4);
  const hook = dropoutForPatternFile(getPreset('dropblock'), slots);
  const assigned = slots.map((s) => hook(s));
  // dropblock reaches stages 2-3 and their skip paths only.
  for (const [i, s] of slots.entries()) assert.equal(assigned[i] !== null, /^stage[23]\./.test(s.name), s.name);
  assert.match(assigned.find((d) => d)!.description, /dropblock/);
  hook.dispose();
  assert.throws(() => dropoutForPatternFile(getPreset('span-example'), slots), /cannot act on conv slots/);
});

test('modelSlots lists the slots a real model of that name has', () => {
  // modelSlots() reads them from the architecture without building weights; every kind must agree with its built model.
  for (const [name, input] of [
    ['wrn-16-2', { inChannels: 3, numClasses: 100 }],
    ['tlm-2-128', { vocabSize: 10000, maxLen: 64 }],
    ['txl-2-64', { vocabSize: 100, maxLen: 16 }],
    ['resnet-18', { inChannels: 3, numClasses: 10, imageSize: 32 }],
    ['resnet-50', { inChannels: 3, numClasses: 10, imageSize: 32 }],
    ['efficientnet-b0', { inChannels: 3, numClasses: 10 }],
    ['efficientnet-b2', { inChannels: 3, numClasses: 10 }],
  ] as const) {
    const m = createModel(name, input, new Generator(1));
    try {
      assert.deepEqual(modelSlots(name), m.slots.list());
    } finally {
      m.dispose();
    }
  }
});

test('inline executor: done, pruned, and a diverged child failing with the reason', async () => {
  const ex = new InlineExecutor({ heartbeatMs: 100 });
  const a = recorder();
  const done = await ex.run({ trialId: 1, pattern: getPreset('tile-example'), child, evaluateTest: false }, a);
  assert.equal(done.state, 'done');
  assert.ok(done.state === 'done' && done.reward >= 0 && done.reward <= 1);
  assert.deepEqual(a.epochs.map((e) => e.epoch), [1, 2]);
  assert.equal(done.state === 'done' && done.reward, a.epochs[1].value);
  assert.equal(a.workers.length, 1);
  assert.ok(a.beats >= 1);

  const b = recorder(() => 'stop');
  const pruned = await ex.run({ trialId: 2, pattern: getPreset('none'), child, evaluateTest: false }, b);
  assert.deepEqual(pruned.state === 'pruned' && [pruned.atEpoch, pruned.reward], [1, b.epochs[0].value]);

  const nan = await ex.run({ trialId: 3, pattern: getPreset('none'), child: { ...child, lr: 1e30 }, evaluateTest: false }, recorder());
  assert.equal(nan.state, 'failed');
  assert.match(nan.state === 'failed' ? nan.error : '', /training loss became NaN at epoch 1.*diverged/);
  await ex.close();
});

test('local executor: 2 workers train in parallel and match the inline results exactly', async () => {
  const specs = [
    { trialId: 11, pattern: getPreset('tile-example'), child, evaluateTest: false },
    // compare's final runs: the test split once at the end, carried back over IPC.
    { trialId: 12, pattern: getPreset('dropblock'), child, evaluateTest: true },
  ];
  const inline = new InlineExecutor();
  const want = [];
  for (const s of specs) want.push(await inline.run(s, recorder()));
  const ex = new LocalExecutor({ workers: 2 });
  try {
    assert.equal(ex.pids().length, 2);
    const recs = specs.map(() => recorder());
    const got = await Promise.all(specs.map((s, i) => ex.run(s, recs[i])));
    const strip = (o: (typeof got)[number]) => (o.state === 'done' ? { ...o, trainSeconds: 0 } : o);
    assert.deepEqual(got.map(strip), want.map(strip));
    assert.ok(got[0].state === 'done' && got[0].test === undefined, 'no test split unless the spec asks');
    assert.ok(got[1].state === 'done' && got[1].test !== undefined && got[1].test.accuracy! >= 0 && got[1].test.accuracy! <= 1, JSON.stringify(got[1]));
    // Two different workers took them.
    assert.notEqual(recs[0].workers[0], recs[1].workers[0]);
    // A diverged child fails; the same worker then trains the next child.
    const nan = await ex.run({ trialId: 13, pattern: getPreset('none'), child: { ...child, lr: 1e30 }, evaluateTest: false }, recorder());
    assert.match(nan.state === 'failed' ? nan.error : '', /diverged/);
    const after = await ex.run({ trialId: 14, pattern: getPreset('none'), child: { ...child, epochs: 1 }, evaluateTest: false }, recorder());
    assert.equal(after.state, 'done');
    assert.equal(ex.pids().length, 2);
  } finally {
    await ex.close();
  }
});

test('local executor: a worker killed with SIGKILL mid-trial rejects the trial with the reason and is replaced', async () => {
  const ex = new LocalExecutor({ workers: 1, heartbeatMs: 200 });
  try {
    const before = ex.pids();
    let victim = 0;
    const rec = recorder(() => {
      // Kill it a moment after it resumes training epoch 2.
      victim = ex.pidOf(21)!;
      setTimeout(() => process.kill(victim, 'SIGKILL'), 300);
      return 'continue';
    });
    await assert.rejects(ex.run({ trialId: 21, pattern: getPreset('none'), child, evaluateTest: false }, rec), (e: unknown) => {
      assert.ok(e instanceof WorkerLostError);
      assert.equal(e.trialId, 21);
      assert.equal(e.message, 'worker exited with signal SIGKILL during epoch 2');
      return true;
    });
    assert.equal(victim, before[0]);
    const again = await ex.run({ trialId: 21, pattern: getPreset('none'), child: { ...child, epochs: 1 }, evaluateTest: false }, recorder());
    assert.equal(again.state, 'done');
    assert.equal(ex.pids().length, 1);
    assert.notEqual(ex.pids()[0], victim);
  } finally {
    await ex.close();
  }
});

test('local executor: a worker that stops heartbeating is killed and its trial rejected', async () => {
  const ex = new LocalExecutor({ workers: 1, heartbeatMs: 100, heartbeatTimeoutMs: 1500 });
  try {
    const rec = recorder(() => {
      // Freeze the worker (SIGSTOP): alive but silent.
      process.kill(ex.pidOf(31)!, 'SIGSTOP');
      return 'continue';
    });
    await assert.rejects(ex.run({ trialId: 31, pattern: getPreset('none'), child, evaluateTest: false }, rec), /worker stopped heartbeating \(silent for \d+ s\) during epoch 1/);
    assert.equal((await ex.run({ trialId: 32, pattern: getPreset('none'), child: { ...child, epochs: 1 }, evaluateTest: false }, recorder())).state, 'done');
  } finally {
    await ex.close();
  }
});
