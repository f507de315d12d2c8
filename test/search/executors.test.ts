// Executors end to end on tiny real children (MNIST, wrn-10-1, 256 examples):
// the inline executor; the local pool with 2 worker processes, which must give
// exactly the inline results (same seeds, one thread each); pruning through
// the epoch decision; a diverged child failing with the trainer's message
// while its worker goes on; and a worker killed with SIGKILL mid-trial
// rejecting with the reason and being replaced.
//
// Faults are injected on the worker's own events, never after a delay: a kill
// on the start of epoch 2 (the worker cannot finish that epoch before it, since
// it waits for this process's decision on the epoch's report), a SIGSTOP on the
// report of epoch 1 with a silence timeout derived from the same worker's
// heartbeat gaps measured just before. So they hold on an idle and a busy machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Generator } from '../../src/engine/index.js';
import { createModel } from '../../src/models/index.js';
import { getPreset } from '../../src/patterns/presets.js';
import { dropoutForPatternFile } from '../../src/layers/pattern-file.js';
import { modelSlots } from '../../src/models/index.js';
import { InlineExecutor, LocalExecutor, WorkerLostError, type EpochDecision, type TrialEvents } from '../../src/search/executors/index.js';
import type { ChildTrainConfig, EpochReport } from '../../src/search/types.js';
import { WORKER_MEMORY_ESTIMATE_BYTES } from '../../src/search/workers.js';

const child: ChildTrainConfig = { task: 'mnist', model: 'wrn-10-1', epochs: 2, trainLimit: 256, valSize: 256, childSeed: 0 };

interface Recorder extends TrialEvents {
  workers: string[];
  epochs: EpochReport[];
  epochStarts: number[];
  beats: number;
  /** performance.now() of every event from the start of epoch 1 on (data loaded). */
  times: number[];
}
function recorder(decide: (r: EpochReport) => EpochDecision = () => 'continue', onEpochStart: (epoch: number) => void = () => {}): Recorder {
  const stamp = (): void => {
    if (r.epochStarts.length > 0) r.times.push(performance.now());
  };
  const r: Recorder = {
    workers: [],
    epochs: [],
    epochStarts: [],
    beats: 0,
    times: [],
    onStart: (w) => void r.workers.push(w),
    onHeartbeat: () => {
      r.beats++;
      stamp();
    },
    onEpoch: (rep) => {
      stamp();
      r.epochs.push(rep);
      return decide(rep);
    },
    onEpochStart: (epoch) => {
      r.epochStarts.push(epoch);
      stamp();
      onEpochStart(epoch);
    },
  };
  return r;
}

/** The longest silence between a trained trial's events from epoch 1 on, up to `end`. */
function longestGap(r: Recorder, end: number): number {
  const t = [...r.times, end];
  let gap = 0;
  for (let i = 1; i < t.length; i++) gap = Math.max(gap, t[i] - t[i - 1]);
  return gap;
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
  assert.deepEqual(a.epochStarts, [1, 2]);
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
    // Each worker's peak memory stays within what --workers is capped by.
    for (const pid of ex.pids()) {
      const peakKiB = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      assert.ok(peakKiB * 1024 <= WORKER_MEMORY_ESTIMATE_BYTES, `worker ${pid} peaked at ${(peakKiB / 1024).toFixed(0)} MiB`);
    }
  } finally {
    await ex.close();
  }
});

test('local executor: a worker killed with SIGKILL as its child starts epoch 2 rejects the trial with the reason and is replaced', async () => {
  const ex = new LocalExecutor({ workers: 1, heartbeatMs: 200 });
  try {
    const before = ex.pids();
    let victim = 0;
    const rec = recorder(undefined, (epoch) => {
      if (epoch !== 2) return;
      // The pid of the worker training trial 21 now, killed now: it is mid-epoch 2.
      victim = ex.pidOf(21)!;
      process.kill(victim, 'SIGKILL');
    });
    await assert.rejects(ex.run({ trialId: 21, pattern: getPreset('none'), child, evaluateTest: false }, rec), (e: unknown) => {
      assert.ok(e instanceof WorkerLostError);
      assert.equal(e.trialId, 21);
      assert.equal(e.message, 'worker exited with signal SIGKILL during epoch 2');
      return true;
    });
    assert.equal(victim, before[0]);
    assert.deepEqual(rec.epochStarts, [1, 2]);
    const again = await ex.run({ trialId: 21, pattern: getPreset('none'), child: { ...child, epochs: 1 }, evaluateTest: false }, recorder());
    assert.equal(again.state, 'done');
    assert.equal(ex.pids().length, 1);
    assert.notEqual(ex.pids()[0], victim);
  } finally {
    await ex.close();
  }
});

test('local executor: a worker that stops heartbeating (SIGSTOP) is killed and its trial rejected', async (t) => {
  // The default silence timeout (120 s) while the worker loads the data, silently, for the first time.
  const ex = new LocalExecutor({ workers: 1, heartbeatMs: 50 });
  try {
    // Warm-up: the data is cached in the worker from now on; the longest silence
    // of its training is what this machine's load causes right now.
    const warm = recorder();
    assert.equal((await ex.run({ trialId: 30, pattern: getPreset('none'), child, evaluateTest: false }, warm)).state, 'done');
    const natural = longestGap(warm, performance.now());
    const timeoutMs = Math.max(1000, 10 * natural);
    ex.setHeartbeatTimeout(timeoutMs);
    t.diagnostic(`longest natural silence ${natural.toFixed(0)} ms -> timeout ${timeoutMs.toFixed(0)} ms`);
    let stoppedAt = 0;
    const rec = recorder(() => {
      // Freeze the worker (SIGSTOP): alive but silent, while it waits for this decision.
      process.kill(ex.pidOf(31)!, 'SIGSTOP');
      stoppedAt = performance.now();
      return 'continue';
    });
    await assert.rejects(ex.run({ trialId: 31, pattern: getPreset('none'), child, evaluateTest: false }, rec), /worker stopped heartbeating \(silent for \d+ s\) during epoch 1/);
    assert.ok(stoppedAt > 0, 'the worker was frozen after reporting epoch 1, not killed before');
    const silentFor = performance.now() - stoppedAt;
    assert.ok(silentFor >= timeoutMs, `killed after ${silentFor.toFixed(0)} ms of silence; the timeout is ${timeoutMs.toFixed(0)} ms (natural gaps up to ${natural.toFixed(0)} ms)`);
    // The replacement worker loads the data again, silently: back to the long timeout.
    ex.setHeartbeatTimeout(120_000);
    assert.equal((await ex.run({ trialId: 32, pattern: getPreset('none'), child: { ...child, epochs: 1 }, evaluateTest: false }, recorder())).state, 'done');
  } finally {
    await ex.close();
  }
});
