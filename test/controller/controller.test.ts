// The controller: validation, log-probs and entropies against a direct
// computation, sampling consistent with log-probs, the REINFORCE / PPO update
// (sign, surrogate value, clipping), stale samples, replay, save/restore and
// memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { liveTensorCount, loadTensors, saveTensors, setDefaultDevice, setNumThreads, tidy } from '../../src/engine/index.js';
import {
  CONTROLLER_DEFAULTS,
  CONTROLLER_OPTION_DOCS,
  Controller,
  positionsFor,
  resolveControllerOptions,
  resolvePositions,
  type ControllerMeta,
  type ControllerSample,
  type UpdateSample,
} from '../../src/controller/index.js';
import { Rng } from '../../src/util/rng.js';
import { tempDir } from '../helpers.js';
import { SMALL, entropyOf, logProbsOf, logSoftmax, matchTask, mean, perturbed, scored } from './helpers.js';

setNumThreads(1);

const close = (a: number, b: number, tol: number, what: string): void => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} vs ${b}`);

test('defaults are documented and valid; invalid options and positions are refused', () => {
  assert.deepEqual(Object.keys(CONTROLLER_OPTION_DOCS).sort(), Object.keys(CONTROLLER_DEFAULTS).sort());
  assert.deepEqual(resolveControllerOptions(), { ...CONTROLLER_DEFAULTS });
  assert.equal(resolveControllerOptions({ lr: 0.01 }).lr, 0.01);
  assert.throws(() => resolveControllerOptions({ heads: 3 }), /heads must be an integer >= 1 dividing dim \(64\)/);
  assert.throws(() => resolveControllerOptions({ temperature: 0, ppoClip: 1 }), /temperature must be > 0.*ppoClip must be in \(0, 1\)/);
  assert.throws(() => resolveControllerOptions({ lerningRate: 1 } as never), /unknown option 'lerningRate'/);

  assert.throws(() => resolvePositions([]), /non-empty/);
  assert.throws(() => resolvePositions([{ type: 'a', vocabSize: 3 }, { type: 'a', vocabSize: 4 }]), /'a' has vocabSize 3 and 4/);
  assert.throws(() => resolvePositions([{ type: 'a', vocabSize: 3, group: 0 }, { type: 'b', vocabSize: 4 }]), /give it on all or none/);
  assert.throws(() => resolvePositions([{ type: 'a', vocabSize: 0 }]), /vocabSize 0/);
  assert.throws(() => new Controller(SMALL, {}, -1), /seed must be a non-negative integer/);

  // Groups inferred from repeating types equal the explicit ones.
  const inferred = resolvePositions(SMALL.map(({ type, vocabSize }) => ({ type, vocabSize })));
  assert.deepEqual(inferred, resolvePositions(SMALL));
  assert.deepEqual(inferred.map((p) => p.group), [0, 0, 0, 1, 1, 1, 2, 2, 2]);
});

test('log-probs and entropies equal a direct computation from the raw logits (with and without tanh clipping)', () => {
  for (const options of [{ temperature: 2, tanhClip: 2.5 }, { temperature: 0.7, tanhClip: 0 }]) {
    const c = perturbed(SMALL, options, 1);
    const batch = [
      [0, 0, 0, 0, 0, 0, 0, 0, 0],
      [2, 4, 1, 1, 3, 0, 2, 2, 1],
      [1, 2, 1, 0, 4, 1, 0, 1, 0],
    ];
    const raw = c.rawLogits(batch);
    const got = tidy(() => {
      const e = c.evaluate(batch);
      return { lp: e.logProb.toArray(), h: e.entropy.toArray(), slp: e.stepLogProbs.toArray(), sh: e.stepEntropy.toArray() };
    });
    let spread = 0;
    batch.forEach((tokens, b) => {
      let lpSum = 0;
      let hSum = 0;
      tokens.forEach((tok, t) => {
        assert.equal(raw[b][t].length, SMALL[t].vocabSize);
        const z = raw[b][t].map((v) => (options.tanhClip > 0 ? options.tanhClip * Math.tanh(v / options.temperature) : v / options.temperature));
        const logp = logSoftmax(z);
        spread = Math.max(spread, Math.max(...logp) - Math.min(...logp));
        close(got.slp[b * 9 + t], logp[tok], 1e-5, `step log-prob [${b}, ${t}]`);
        close(got.sh[b * 9 + t], entropyOf(logp), 1e-5, `step entropy [${b}, ${t}]`);
        lpSum += logp[tok];
        hSum += entropyOf(logp);
      });
      close(got.lp[b], lpSum, 1e-4, `log-prob ${b}`);
      close(got.h[b], hSum, 1e-4, `entropy ${b}`);
    });
    assert.ok(spread > 0.3, `the perturbed policy is not uniform (spread ${spread})`);
    assert.deepEqual(logProbsOf(c, batch), got.lp);
    assert.deepEqual(tidy(() => c.entropy(batch).toArray()), got.h);
    c.dispose();
  }
});

test('the policy is causal: logits at t depend on tokens before t only', () => {
  const c = perturbed(SMALL, {}, 2);
  const a = [1, 2, 0, 1, 3, 1, 0, 4, 1];
  const b = [...a];
  b[4] = 0; // change position 4
  // One sequence per call: rows of one batch may round differently in the matmuls.
  const [ra] = c.rawLogits([a]);
  const [rb] = c.rawLogits([b]);
  for (let t = 0; t <= 4; t++) assert.deepEqual(ra[t], rb[t], `position ${t} must not see token 4`);
  assert.notDeepEqual(ra[5], rb[5], 'position 5 reads token 4');
  // The first step never depends on the tokens.
  assert.deepEqual(c.rawLogits([[0, 0, 0, 0, 0, 0, 0, 0, 0]])[0][0], ra[0]);
  c.dispose();
});

test('a sample\'s logProb, tokenLogProbs and entropy equal the teacher-forced values; sampleBatch = repeated sample()', () => {
  const c = perturbed(SMALL, { temperature: 1.5 }, 3);
  const r1 = Rng.derive(7, 'x');
  const r2 = r1.clone();
  const batch = c.sampleBatch(12, r1);
  const single: ControllerSample[] = Array.from({ length: 12 }, () => c.sample(r2));
  assert.deepEqual(r1.getState(), r2.getState(), 'both consume one uniform per token');
  assert.deepEqual(batch.map((s) => s.tokens), single.map((s) => s.tokens));
  batch.forEach((s, i) => close(s.logProb, single[i].logProb, 1e-5, `batched vs single log-prob ${i}`));
  assert.ok(new Set(batch.map((s) => s.tokens.join())).size > 6, 'samples vary');

  const tokens = batch.map((s) => s.tokens);
  const ev = tidy(() => {
    const e = c.evaluate(tokens);
    return { lp: e.logProb.toArray(), h: e.entropy.toArray(), slp: e.stepLogProbs.toArray() };
  });
  batch.forEach((s, b) => {
    assert.equal(s.policyVersion, 3);
    close(s.logProb, s.tokenLogProbs.reduce((x, y) => x + y, 0), 1e-9, 'logProb = sum of token log-probs');
    close(s.logProb, ev.lp[b], 1e-4, `sampled vs teacher-forced log-prob ${b}`);
    close(s.entropy, ev.h[b], 1e-4, `sampled vs teacher-forced entropy ${b}`);
    s.tokenLogProbs.forEach((l, t) => close(l, ev.slp[b * 9 + t], 1e-5, `token log-prob [${b}, ${t}]`));
  });
  c.dispose();
});

test('sampling frequencies follow the policy\'s probabilities', () => {
  const pos = positionsFor([{ name: 'a', vocabSize: 4 }, { name: 'b', vocabSize: 3 }], 1);
  const c = perturbed(pos, {}, 4);
  const n = 6000;
  const samples = c.sampleBatch(n, new Rng(11));
  // First token: its marginal; second token: its conditional given first = 0.
  const p0 = tidy(() => c.evaluate([[0, 0], [1, 0], [2, 0], [3, 0]]).stepLogProbs.toArray()).filter((_, i) => i % 2 === 0).map(Math.exp);
  const p1 = tidy(() => c.evaluate([[0, 0], [0, 1], [0, 2]]).stepLogProbs.toArray()).filter((_, i) => i % 2 === 1).map(Math.exp);
  close(p0.reduce((a, b) => a + b), 1, 1e-5, 'p0 sums to 1');
  const first = samples.map((s) => s.tokens[0]);
  p0.forEach((p, v) => {
    const f = first.filter((x) => x === v).length / n;
    close(f, p, 4 * Math.sqrt((p * (1 - p)) / n), `P(first = ${v})`);
  });
  const given0 = samples.filter((s) => s.tokens[0] === 0).map((s) => s.tokens[1]);
  assert.ok(given0.length > 500);
  p1.forEach((p, v) => {
    const f = given0.filter((x) => x === v).length / given0.length;
    close(f, p, 4 * Math.sqrt((p * (1 - p)) / given0.length), `P(second = ${v} | first = 0)`);
  });
  c.dispose();
});

test('the initial policy is uniform and greedy() takes the argmax', () => {
  const c = new Controller(SMALL, {}, 5);
  const s = c.sample();
  close(s.logProb, -SMALL.reduce((a, p) => a + Math.log(p.vocabSize), 0), 1e-5, 'uniform log-prob');
  assert.deepEqual(c.greedy(), SMALL.map(() => 0), 'ties go to the first token');
  const p = perturbed(SMALL, {}, 5);
  const g = p.greedy();
  const raw = p.rawLogits([g])[0];
  g.forEach((tok, t) => assert.equal(tok, raw[t].indexOf(Math.max(...raw[t])), `argmax at ${t}`));
  const rng = p.rng.getState();
  p.greedy();
  assert.deepEqual(p.rng.getState(), rng, 'greedy consumes no randomness');
  c.dispose();
  p.dispose();
});

test('REINFORCE: a positive advantage raises the sample\'s log-prob, a negative one lowers it', () => {
  const c = new Controller(SMALL, {}, 6);
  const [x1, x2] = c.sampleBatch(2);
  const before = logProbsOf(c, [x1.tokens, x2.tokens]);
  // First update: the baseline starts at the batch mean (0.5), so A = +0.5 and -0.5.
  const st = c.update(scored([x1, x2], (s) => (s === x1 ? 1 : 0)));
  assert.equal(st.baselineBefore, 0.5);
  assert.equal(st.meanAdvantage, 0);
  assert.equal(st.version, 1);
  assert.equal(st.stale, 0);
  assert.equal(st.clipFraction, 0);
  assert.ok(st.freshLogProbError < 1e-4, `fresh samples carry the current log-prob (${st.freshLogProbError})`);
  close(st.baseline, 0.95 * (0.95 * 0.5 + 0.05 * 1) + 0.05 * 0, 1e-12, 'EMA folds rewards in order');
  const after = logProbsOf(c, [x1.tokens, x2.tokens]);
  assert.ok(after[0] > before[0] + 1e-3, `rewarded sample up: ${before[0]} -> ${after[0]}`);
  assert.ok(after[1] < before[1] - 1e-3, `punished sample down: ${before[1]} -> ${after[1]}`);

  // One sample against the running baseline, from two copies of the same state.
  const state = c.saveState();
  const up = Controller.restore(state);
  const down = Controller.restore(state);
  for (const t of state.tensors.values()) t.dispose();
  const x = up.sample();
  assert.deepEqual(down.sample(), x, 'restored copies sample alike');
  const lp0 = logProbsOf(up, [x.tokens])[0];
  const b = up.baseline as number;
  const su = up.update(scored([x], () => b + 0.3));
  const sd = down.update(scored([x], () => b - 0.3));
  close(su.meanAdvantage, 0.3, 1e-12, 'advantage = reward - baseline');
  assert.ok(logProbsOf(up, [x.tokens])[0] > lp0 + 1e-3, 'positive advantage: up');
  assert.ok(logProbsOf(down, [x.tokens])[0] < lp0 - 1e-3, 'negative advantage: down');
  close(sd.meanAdvantage, -0.3, 1e-12, 'negative advantage');
  for (const k of [c, up, down]) k.dispose();
});

test('the update minimises the REINFORCE / PPO surrogate as documented (value check)', () => {
  const c = perturbed(SMALL, { lr: 0.02, entropyWeight: 0.01 }, 7);
  const old = c.sampleBatch(6); // version 3
  c.update(scored(c.sampleBatch(8), (s) => s.tokens[0] / 2));
  c.update(scored(c.sampleBatch(8), (s) => s.tokens[1] / 4)); // version 5
  const fresh = c.sampleBatch(4);
  const all = [...old, ...fresh];
  const rewards = all.map((_, i) => (i * 0.37) % 1);
  const samples = all.map((s, i) => ({ tokens: s.tokens, logProbOld: s.logProb, reward: rewards[i], policyVersion: s.policyVersion }));
  const now = logProbsOf(c, samples.map((s) => s.tokens));
  const ent = tidy(() => c.entropy(samples.map((s) => s.tokens)).toArray());
  const b = c.baseline as number;
  const eps = c.options.ppoClip;
  const ratios = samples.map((s, i) => Math.exp(now[i] - s.logProbOld));
  const losses = samples.map((s, i) => {
    const a = s.reward - b;
    if (s.policyVersion === c.version) return -a * now[i];
    const r = ratios[i];
    return -Math.min(r * a, Math.min(Math.max(r, 1 - eps), 1 + eps) * a);
  });
  const st = c.update(samples);
  assert.equal(st.stale, 6);
  close(st.policyLoss, mean(losses), 1e-5, 'policy loss');
  close(st.entropy, mean(ent), 1e-4, 'entropy');
  close(st.loss, st.policyLoss - 0.01 * st.entropy, 1e-5, 'loss = policy loss - weight * entropy');
  close(st.ratioMax, Math.max(...ratios), 1e-4 * Math.max(...ratios), 'max ratio');
  close(st.ratioMin, Math.min(...ratios), 1e-4, 'min ratio');
  const clipped = ratios.filter((r, i) => i < 6 && Math.abs(r - 1) > eps).length;
  assert.ok(clipped > 0, 'the policy moved enough to clip some ratios');
  assert.equal(st.clipFraction, clipped / samples.length);
  c.dispose();
});

test('PPO clipping: the gradient vanishes exactly where the surrogate is clipped', () => {
  const base = new Controller(SMALL, { entropyWeight: 0 }, 8);
  base.update(scored(base.sampleBatch(4), (s) => s.tokens[0]));
  const state = base.saveState();
  const x = base.sample();
  const lp = logProbsOf(base, [x.tokens])[0];
  const b = base.baseline as number;
  // (advantage sign, log-ratio) -> whether PPO passes a gradient
  const cases: [number, number, boolean][] = [
    [+1, +1, false], // r = e > 1 + eps, A > 0: clipped
    [-1, -1, false], // r = 1/e < 1 - eps, A < 0: clipped
    [+1, -1, true], // r < 1 - eps, A > 0: unclipped (r·A is the minimum)
    [-1, +1, true], // r > 1 + eps, A < 0: unclipped
    [+1, +0.1, true], // inside the clip range
  ];
  for (const [sign, logRatio, passes] of cases) {
    const c = Controller.restore(state);
    const st = c.update([{ tokens: x.tokens, logProbOld: lp - logRatio, reward: b + sign * 0.5, policyVersion: 0 }]);
    assert.equal(st.stale, 1);
    close(st.ratioMean, Math.exp(logRatio), 1e-4, 'ratio');
    if (passes) assert.ok(st.gradNorm > 1e-3, `A ${sign}, log r ${logRatio}: gradient ${st.gradNorm}`);
    else assert.equal(st.gradNorm, 0, `A ${sign}, log r ${logRatio}: clipped, no gradient`);
    assert.equal(st.clipFraction, Math.abs(Math.exp(logRatio) - 1) > 0.2 ? 1 : 0);
    c.dispose();
  }
  for (const t of state.tensors.values()) t.dispose();
  base.dispose();
});

test('stale samples: a pipeline that only ever updates on samples two versions old still learns, with clipping active', () => {
  const pos = positionsFor([{ name: 'a', vocabSize: 6 }, { name: 'b', vocabSize: 4 }, { name: 'c', vocabSize: 2 }, { name: 'd', vocabSize: 9 }], 3);
  const task = matchTask(pos, 30);
  const c = new Controller(pos, {}, 9);
  const evalReward = (): number => mean(c.sampleBatch(200, new Rng(5)).map((s) => task.score(s.tokens)));
  const reward0 = evalReward();
  const lp0 = logProbsOf(c, [task.target])[0];
  // Asynchronous workers: each update consumes the batch drawn two updates earlier.
  const queue = [0, 1].map(() => scored(c.sampleBatch(32), (s) => task.score(s.tokens)));
  const stats = [];
  for (let u = 0; u < 25; u++) {
    queue.push(scored(c.sampleBatch(32), (s) => task.score(s.tokens)));
    stats.push(c.update(queue.shift() as UpdateSample[]));
  }
  assert.equal(stats[0].stale, 0, 'the first batch is fresh');
  for (const st of stats.slice(1)) assert.equal(st.stale, 32, 'every later sample is stale');
  const clipFractions = stats.map((st) => st.clipFraction);
  assert.ok(clipFractions.slice(1).every((f) => f > 0) && mean(clipFractions.slice(1)) < 0.9, `clip fractions ${clipFractions.map((f) => f.toFixed(2))}`);
  const reward = evalReward();
  const lp = logProbsOf(c, [task.target])[0];
  assert.ok(reward > reward0 + 0.2, `mean reward ${reward0.toFixed(3)} -> ${reward.toFixed(3)}`);
  assert.ok(lp > lp0 + 5, `log π(target) ${lp0.toFixed(2)} -> ${lp.toFixed(2)}`);
  c.dispose();
});

test('updates validate their samples', () => {
  const c = new Controller(SMALL, {}, 10);
  const s = c.sample();
  const ok = { tokens: s.tokens, logProbOld: s.logProb, reward: 1, policyVersion: 0 };
  assert.throws(() => c.update([]), /at least one sample/);
  assert.throws(() => c.update([{ ...ok, policyVersion: 1 }]), /policyVersion 1; the controller is at version 0/);
  assert.throws(() => c.update([{ ...ok, reward: NaN }]), /rewards must be finite/);
  assert.throws(() => c.update([{ ...ok, tokens: s.tokens.slice(1) }]), /has 8 tokens, expected 9/);
  assert.throws(() => c.update([{ ...ok, tokens: s.tokens.map((_, i) => (i === 1 ? 5 : 0)) }]), /position 1 \('b'\): token 5 is outside 0..4/);
  assert.throws(() => c.logProbs([[0, 0, 0, 0, 0, 0, 0, 0, 2]]), /position 8 \('c'\): token 2/);
  assert.equal(c.version, 0, 'a refused update changes nothing');
  assert.equal(c.baseline, null);
  c.dispose();
});

test('replay: the same seed and update history give the same samples; another seed differs', () => {
  const task = matchTask(SMALL, 3);
  const run = (seed: number): string[] => {
    const c = new Controller(SMALL, {}, seed);
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const batch = c.sampleBatch(5);
      seen.push(...batch.map((s) => `${s.tokens.join('')}:${s.logProb}`));
      c.update(scored(batch, (s) => task.score(s.tokens)));
    }
    seen.push(c.greedy().join(''));
    c.dispose();
    return seen;
  };
  assert.deepEqual(run(12), run(12));
  assert.notDeepEqual(run(12), run(13));
});

test('save/restore (through files): the restored controller samples and updates exactly like the original', () => {
  const task = matchTask(SMALL, 4);
  const a = new Controller(SMALL, { lr: 0.01 }, 14);
  for (let i = 0; i < 3; i++) a.update(scored(a.sampleBatch(6), (s) => task.score(s.tokens)));
  a.sample(); // advance the sampling stream mid-way

  const dir = tempDir('controller-state-');
  const state = a.saveState();
  saveTensors(join(dir, 'controller.adt'), state.tensors, state.meta);
  writeFileSync(join(dir, 'adam.bin'), state.optimizer);
  for (const t of state.tensors.values()) t.dispose();
  const file = loadTensors(join(dir, 'controller.adt'));
  const meta = JSON.parse(JSON.stringify(file.meta)) as ControllerMeta;
  assert.equal(meta.version, 3);
  const b = Controller.restore({ tensors: file.tensors, optimizer: readFileSync(join(dir, 'adam.bin')), meta });
  // The same weights without Adam's moments: must diverge after an update (so the test can fail).
  const fresh = new Controller(SMALL, { lr: 0.01 }, 99);
  const noMoments = Controller.restore({ tensors: file.tensors, optimizer: fresh.saveState().optimizer, meta });
  for (const t of file.tensors.values()) t.dispose();

  assert.equal(b.version, a.version);
  assert.equal(b.baseline, a.baseline);
  const sig = (ss: ControllerSample[]): string[] => ss.map((s) => `${s.tokens.join('')}:${s.logProb}:${s.entropy}:${s.policyVersion}`);
  for (let i = 0; i < 3; i++) {
    const sa = a.sampleBatch(6);
    const sb = b.sampleBatch(6);
    const sn = noMoments.sampleBatch(6);
    assert.deepEqual(sig(sb), sig(sa), `samples after ${i} more updates`);
    const rewards = sa.map((s) => task.score(s.tokens));
    const stA = a.update(scored(sa, (s) => rewards[sa.indexOf(s)]));
    const stB = b.update(scored(sb, (s) => rewards[sb.indexOf(s)]));
    assert.deepEqual(stB, stA);
    noMoments.update(scored(sn, (s) => rewards[sn.indexOf(s)]));
  }
  assert.notDeepEqual(logProbsOf(noMoments, [task.target]), logProbsOf(a, [task.target]), 'Adam state matters');
  assert.deepEqual(logProbsOf(b, [task.target]), logProbsOf(a, [task.target]));

  // Mismatched controllers are refused.
  const s2 = a.saveState();
  const other = new Controller(SMALL, { lr: 0.02 }, 14);
  assert.throws(() => other.loadState(s2), /options differ \(lr: 0.01 vs 0.02\)/);
  const shorter = new Controller(SMALL.slice(0, 6), { lr: 0.01 }, 14);
  assert.throws(() => shorter.loadState(s2), /token positions differ/);
  for (const t of s2.tensors.values()) t.dispose();
  for (const k of [a, b, fresh, noMoments, other, shorter]) k.dispose();
});

test('the controller computes on the CPU whatever the default device is', () => {
  setDefaultDevice('cuda:0'); // no CUDA here: any tensor created on the default device would throw
  try {
    const c = new Controller(SMALL, {}, 15);
    const batch = c.sampleBatch(3);
    c.update(scored(batch, (s) => s.tokens[0]));
    assert.equal(tidy(() => c.logProbs([batch[0].tokens]).device), 'cpu');
    c.greedy();
    c.dispose();
  } finally {
    setDefaultDevice('cpu');
  }
});

test('no tensors leak across samples, updates and log-probs', () => {
  const task = matchTask(SMALL, 5);
  const start = liveTensorCount();
  const c = new Controller(SMALL, {}, 16);
  const cycle = (): void => {
    const batch = c.sampleBatch(4);
    c.sample();
    c.greedy();
    c.update(scored(batch, (s) => task.score(s.tokens)));
    logProbsOf(c, [task.target]);
    c.rawLogits([task.target]);
    const st = c.saveState();
    for (const t of st.tensors.values()) t.dispose();
  };
  cycle();
  const before = liveTensorCount();
  for (let i = 0; i < 5; i++) cycle();
  assert.equal(liveTensorCount(), before);
  c.dispose();
  const d = new Controller(SMALL, {}, 17);
  d.dispose();
  assert.equal(liveTensorCount(), start, 'dispose frees everything the controllers made');
});
