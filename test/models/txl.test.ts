// Transformer-XL (txl-L-D): shapes and parameter count, tlm's dropout slots,
// segment-level recurrence (memory carried, detached, reset), causality, the
// relative-position scores against a direct reference, gradients against
// finite differences, training, and the task/trainer path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Generator,
  adamw,
  backward,
  grad,
  isRequiringGrad,
  liveTensorCount,
  noGrad,
  ops,
  setNumThreads,
  tensor,
  tidy,
  zeroGrad,
  type Tensor,
} from '../../src/engine/index.js';
import { patternDropout } from '../../src/layers/patterns.js';
import {
  TRANSFORMER_SUBLAYERS,
  TransformerXL,
  createModel,
  modelFamily,
  modelNameProblem,
  parseTxlName,
  relShift,
  relativePositions,
  relativeScores,
  type DropoutContext,
  type SlotDropout,
  type SlotInfo,
} from '../../src/models/index.js';
import type { SpanPattern } from '../../src/patterns/types.js';
import { defaultConfig, loadTask, train } from '../../src/train/index.js';

setNumThreads(1);

const VOCAB = 50;

function txl(name: string, segment: number, memLen?: number, seed = 0): TransformerXL {
  const m = createModel(name, { vocabSize: VOCAB, maxLen: segment, memLen }, new Generator(seed));
  assert.ok(m instanceof TransformerXL);
  return m;
}

function tokens(rows: number[][]): Tensor {
  return ops.to(tensor(rows.flat(), [rows.length, rows[0].length], 'int32'), 'int64');
}

function lcg(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

function randomRows(n: number, t: number, seed: number): number[][] {
  const next = lcg(seed);
  return Array.from({ length: n }, () => Array.from({ length: t }, () => Math.floor(next() * VOCAB)));
}

const maxAbsDiff = (a: readonly number[], b: readonly number[]): number => a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i])), 0);

/** Logits of `segments` read in order from a fresh memory (eval mode, no gradients). */
function readSegments(m: TransformerXL, segments: number[][][]): number[][] {
  m.resetState();
  return segments.map((s) => tidy(() => noGrad(() => m.forward(tokens(s))).toArray()));
}

/**
 * txl-L-D by hand: tied embedding V·D, output bias V, u and v (2D), and per
 * layer q (D²), k and v (2D²), W_r (D²), output (D²), two LayerNorms (4D),
 * FFN D→4D→D with biases (8D² + 5D).
 */
function txlParamsByHand(layers: number, d: number, vocab: number): number {
  const perLayer = d * d + 2 * d * d + d * d + d * d + 4 * d + (4 * d * d + 4 * d) + (4 * d * d + d);
  return vocab * d + vocab + 2 * d + layers * perLayer;
}

class RecordingDropout implements SlotDropout {
  readonly description = 'record';
  readonly calls: { name: string; shape: number[]; slot: SlotInfo }[] = [];
  apply(x: Tensor, _ctx: DropoutContext, slot: SlotInfo): Tensor {
    this.calls.push({ name: slot.name, shape: x.shape, slot });
    return x;
  }
}

test('txl-1-32 and txl-2-64 give finite (N, T, vocab) logits and the hand-counted parameters', () => {
  for (const [name, layers, dim] of [
    ['txl-1-32', 1, 32],
    ['txl-2-64', 2, 64],
  ] as const) {
    const m = txl(name, 7);
    try {
      assert.equal(m.parameterCount(), txlParamsByHand(layers, dim, VOCAB), name);
      assert.equal(m.heads, dim / 32);
      assert.deepEqual(m.contentBias.shape, [dim / 32, 32]);
      m.eval();
      for (let seg = 0; seg < 2; seg++) {
        tidy(() => {
          const y = noGrad(() => m.forward(tokens(randomRows(3, 7, 1 + seg))));
          assert.deepEqual(y.shape, [3, 7, VOCAB]);
          assert.ok(y.toArray().every(Number.isFinite));
        });
      }
    } finally {
      m.dispose();
    }
  }
});

test('txl names: family, validation and clear errors', () => {
  assert.deepEqual(parseTxlName('txl-2-128'), { layers: 2, dim: 128 });
  assert.equal(parseTxlName('txl-2'), null);
  assert.equal(modelFamily('txl-2-128'), 'language');
  assert.equal(modelNameProblem('txl-2-128'), null);
  assert.match(modelNameProblem('txl-1-48') ?? '', /txl-1-48: width must be a multiple of 32/);
  assert.match(modelNameProblem('txl-0-32') ?? '', /txl-0-32: needs at least one layer/);
  assert.match(modelNameProblem('txl') ?? '', /unknown model 'txl'.*txl-L-D/);
  const gen = new Generator(0);
  assert.throws(() => createModel('txl-1-32', {}, gen), /txl-1-32: a language model needs a vocabulary size/);
  assert.throws(() => createModel('txl-1-32', { vocabSize: VOCAB, memLen: -1 }, gen), /memLen must be a non-negative integer/);
});

test("slots: tlm-L-D's names, kinds, sublayers and widths; key and value span memory + segment", () => {
  const m = txl('txl-2-32', 6);
  const tlm = createModel('tlm-2-32', { vocabSize: VOCAB, maxLen: 6 }, new Generator(0));
  try {
    const strip = (s: SlotInfo): unknown => ({ ...s });
    assert.deepEqual(m.slots.list().map(strip), tlm.slots.list().map(strip));
    assert.deepEqual(
      m.slots.list().map((s) => s.sublayer),
      ['embedding', ...TRANSFORMER_SUBLAYERS, ...TRANSFORMER_SUBLAYERS],
    );
    const rec = new RecordingDropout();
    m.slots.assignAll(() => rec);
    m.slots.setContext({ generator: new Generator(1), progress: 0 });
    m.train();
    tidy(() => {
      m.forward(tokens(randomRows(2, 6, 3)));
      assert.deepEqual(
        rec.calls.map((c) => c.name),
        m.slots.list().map((s) => s.name),
      );
      for (const c of rec.calls) assert.deepEqual(c.shape, [2, 6, c.slot.channels], `${c.name}, no memory yet`);
      rec.calls.length = 0;
      m.forward(tokens(randomRows(2, 4, 4)));
      for (const c of rec.calls) {
        const len = c.slot.sublayer === 'key' || c.slot.sublayer === 'value' ? 6 + 4 : 4;
        assert.deepEqual(c.shape, [2, len, c.slot.channels], `${c.name} with 6 positions of memory`);
      }
      rec.calls.length = 0;
      m.eval();
      m.forward(tokens(randomRows(2, 4, 5)));
      assert.equal(rec.calls.length, 0, 'no slot acts at inference');
    });
  } finally {
    m.dispose();
    tlm.dispose();
  }
});

test('memory: each layer keeps its last memLen inputs, and segment 2 reads segment 1 through them', () => {
  const segA = randomRows(2, 6, 10);
  const segB = randomRows(2, 6, 11);
  const next = randomRows(2, 6, 12);
  const m = txl('txl-2-32', 6);
  const short = txl('txl-2-32', 6, 4);
  const none = txl('txl-2-32', 6, 0);
  try {
    for (const x of [m, short, none]) x.eval();
    // Layer 0's input is the scaled word embedding (no dropout at inference).
    m.resetState();
    tidy(() => void noGrad(() => m.forward(tokens(segA))));
    assert.equal(m.memoryLength, 6);
    const emb = tidy(() => ops.mul(ops.embedding(m.tokens.weight, tokens(segA)), Math.sqrt(32)).toArray());
    assert.ok(maxAbsDiff(m.memoryOf(0)?.toArray() ?? [], emb) < 1e-6);
    assert.deepEqual(m.memoryOf(1)?.shape, [2, 6, 32]);
    short.resetState();
    tidy(() => void noGrad(() => short.forward(tokens(segA))));
    assert.equal(short.memoryLength, 4, 'memLen 4 keeps the last 4 positions');
    const embLast4 = tidy(() => ops.slice(ops.mul(ops.embedding(short.tokens.weight, tokens(segA)), Math.sqrt(32)), 1, 2, 6).toArray());
    assert.ok(maxAbsDiff(short.memoryOf(0)?.toArray() ?? [], embLast4) < 1e-6);
    tidy(() => void noGrad(() => short.forward(tokens(next))));
    assert.equal(short.memoryLength, 4);

    const [, afterA] = readSegments(m, [segA, next]);
    const [, afterB] = readSegments(m, [segB, next]);
    assert.ok(maxAbsDiff(afterA, afterB) > 1e-3, 'another first segment must change the second segment\'s logits');
    const [, shortA] = readSegments(short, [segA, next]);
    const [, shortB] = readSegments(short, [segB, next]);
    assert.ok(maxAbsDiff(shortA, shortB) > 1e-3, 'memLen 4 < T still carries context');
    const [, noneA] = readSegments(none, [segA, next]);
    const [, noneB] = readSegments(none, [segB, next]);
    assert.deepEqual(noneA, noneB, 'memLen 0: segments are independent');
    assert.equal(none.memoryLength, 0);
  } finally {
    m.dispose();
    short.dispose();
    none.dispose();
  }
});

test('memory is detached: no gradient reaches segment 1, and the memory does not require grad', () => {
  const seg1 = randomRows(2, 5, 20);
  const seg2 = randomRows(2, 5, 21);
  const target = randomRows(2, 5, 22);
  const m = txl('txl-2-32', 5);
  try {
    const params = m.parameters();
    const gradsAfter = (firstWithGrad: boolean): number[][] => {
      zeroGrad(params);
      m.resetState();
      tidy(() => {
        if (firstWithGrad) m.forward(tokens(seg1));
        else noGrad(() => m.forward(tokens(seg1)));
        for (let l = 0; l < 2; l++) assert.equal(isRequiringGrad(m.memoryOf(l) as Tensor), false, `layer ${l} memory`);
        const logits = m.forward(tokens(seg2));
        backward(ops.crossEntropy(ops.reshape(logits, [10, VOCAB]), ops.reshape(tokens(target), [10])));
      });
      return params.map((p) => tidy(() => (grad(p) as Tensor).toArray()));
    };
    const viaGraph = gradsAfter(true);
    const viaNoGrad = gradsAfter(false);
    // Had the memory kept its graph, the first run's gradients would also count segment 1's path.
    assert.deepEqual(viaGraph, viaNoGrad);
    assert.ok(viaGraph.some((g) => g.some((v) => v !== 0)));
  } finally {
    zeroGrad(m.parameters());
    m.dispose();
  }
});

test('after resetState (or a new batch size) the model reads like a fresh one', () => {
  const a = txl('txl-2-32', 6);
  const fresh = txl('txl-2-32', 6);
  try {
    a.eval();
    fresh.eval();
    const probe = randomRows(2, 6, 32);
    const [expected] = readSegments(fresh, [probe]);
    readSegments(a, [randomRows(2, 6, 30), randomRows(2, 6, 31)]);
    const withMemory = tidy(() => noGrad(() => a.forward(tokens(probe))).toArray());
    assert.ok(maxAbsDiff(withMemory, expected) > 1e-3, 'the memory is in use before the reset');
    a.resetState();
    assert.equal(a.memoryLength, 0);
    assert.deepEqual(
      tidy(() => noGrad(() => a.forward(tokens(probe))).toArray()),
      expected,
    );
    // Three rows cannot continue two: the memory starts afresh.
    const probe3 = randomRows(3, 6, 33);
    const [expected3] = readSegments(fresh, [probe3]);
    readSegments(a, [randomRows(2, 6, 34)]);
    assert.deepEqual(
      tidy(() => noGrad(() => a.forward(tokens(probe3))).toArray()),
      expected3,
    );
  } finally {
    a.dispose();
    fresh.dispose();
  }
});

test('causal over [memory; segment]: changing token t leaves earlier logits unchanged', () => {
  const m = txl('txl-2-32', 8);
  try {
    m.eval();
    const first = randomRows(2, 8, 40);
    const rows = randomRows(2, 8, 41);
    const t = 5;
    const changed = rows.map((r) => [...r]);
    changed[0][t] = (changed[0][t] + 1) % VOCAB;
    changed[1][t] = (changed[1][t] + 7) % VOCAB;
    const [, a] = readSegments(m, [first, rows]);
    const [, b] = readSegments(m, [first, changed]);
    const row = (y: number[], n: number, from: number, to: number): number[] => y.slice((n * 8 + from) * VOCAB, (n * 8 + to) * VOCAB);
    for (let n = 0; n < 2; n++) {
      const worst = maxAbsDiff(row(a, n, 0, t), row(b, n, 0, t));
      assert.ok(worst <= 1e-6, `row ${n}: logits before position ${t} moved by ${worst}`);
      assert.ok(maxAbsDiff(row(a, n, t, 8), row(b, n, t, 8)) > 1e-4, `row ${n}: logits from position ${t} on must change`);
    }
  } finally {
    m.dispose();
  }
});

test('relShift moves (query, distance) products to (query, key) for every key not in the future', () => {
  for (const [n, t, k] of [
    [2, 3, 3],
    [1, 4, 7],
    [3, 1, 5],
  ] as const) {
    const data = Array.from({ length: n * t * k }, (_, i) => i + 1);
    const out = tidy(() => relShift(tensor(data, [n, t, k])).toArray());
    const mem = k - t;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < t; i++) {
        for (let j = 0; j <= mem + i; j++) {
          // Column c of the input is distance k - 1 - c; key j is at distance (mem + i) - j from query i.
          const c = k - 1 - (mem + i - j);
          assert.equal(out[(b * t + i) * k + j], data[(b * t + i) * k + c], `n=${b} T=${t} K=${k} at (${i}, ${j})`);
        }
      }
    }
  }
});

test('relative scores equal (q_i + u)·k_j + (q_i + v)·W_r R_{i-j}, computed directly', () => {
  const [n, h, t, mem, hd] = [2, 2, 4, 3, 4];
  const k = mem + t;
  const next = lcg(7);
  const rnd = (size: number): number[] => Array.from({ length: size }, () => next() * 2 - 1);
  const q = rnd(n * h * t * hd);
  const keys = rnd(n * h * k * hd);
  const rk = rnd(k * h * hd);
  const u = rnd(h * hd);
  const v = rnd(h * hd);
  const got = tidy(() => relativeScores(tensor(q, [n, h, t, hd]), tensor(keys, [n, h, k, hd]), tensor(rk, [k, h, hd]), tensor(u, [h, hd]), tensor(v, [h, hd])).toArray());
  for (let b = 0; b < n; b++) {
    for (let a = 0; a < h; a++) {
      for (let i = 0; i < t; i++) {
        for (let j = 0; j <= mem + i; j++) {
          const dist = mem + i - j;
          let want = 0;
          for (let d = 0; d < hd; d++) {
            const qi = q[((b * h + a) * t + i) * hd + d];
            want += (qi + u[a * hd + d]) * keys[((b * h + a) * k + j) * hd + d];
            want += (qi + v[a * hd + d]) * rk[((k - 1 - dist) * h + a) * hd + d];
          }
          const g = got[((b * h + a) * t + i) * k + j];
          assert.ok(Math.abs(g - want) < 1e-5, `(${b}, ${a}, ${i}, ${j}): ${g} vs ${want}`);
        }
      }
    }
  }
  // The encodings: row c is distance K-1-c, sin on the first half of the width, cos on the second.
  const dim = 8;
  const r = tidy(() => relativePositions(5, dim).toArray());
  for (let c = 0; c < 5; c++) {
    for (let i = 0; i < dim / 2; i++) {
      const angle = (5 - 1 - c) / Math.pow(10000, (2 * i) / dim);
      assert.ok(Math.abs(r[c * dim + i] - Math.sin(angle)) < 1e-5);
      assert.ok(Math.abs(r[c * dim + dim / 2 + i] - Math.cos(angle)) < 1e-5);
    }
  }
});

test('gradients through the relative attention and the memory match finite differences', () => {
  const m = txl('txl-1-32', 4);
  const seg1 = randomRows(2, 4, 50);
  const seg2 = randomRows(2, 4, 51);
  const target = randomRows(2, 4, 52);
  try {
    m.eval();
    const lossOf = (): Tensor => {
      m.resetState();
      noGrad(() => m.forward(tokens(seg1)));
      // The loss in float64, so that its own rounding (~5e-7 at float32) does not swamp the differences.
      const logits = ops.to(m.forward(tokens(seg2)), 'float64');
      return ops.crossEntropy(ops.reshape(logits, [8, VOCAB]), ops.reshape(tokens(target), [8]));
    };
    const named = new Map(m.namedParameters());
    // At initialisation the attention is almost uniform and u, v barely matter
    // (gradients ~1e-6, below float32 differences): sharpen it first.
    noGrad(() => {
      for (const [name, factor] of [
        ['tokens.weight', 5],
        ['layer0.query.weight', 5],
        ['layer0.keyValue.weight', 5],
        ['layer0.positional.weight', 5],
        ['contentBias', 20],
        ['positionBias', 20],
      ] as const) {
        ops.scaleInPlace(named.get(name) as Tensor, factor);
      }
    });
    const checked = ['contentBias', 'positionBias', 'layer0.positional.weight', 'layer0.query.weight', 'layer0.keyValue.weight', 'layer0.out.weight', 'layer0.fc2.weight', 'tokens.weight', 'outputBias'];
    zeroGrad(m.parameters());
    tidy(() => backward(lossOf()));
    const eps = 2e-2;
    for (const name of checked) {
      const p = named.get(name) as Tensor;
      const g = tidy(() => (grad(p) as Tensor).toArray());
      // The entry with the largest gradient, and one more a third of the way along.
      const big = g.reduce((best, v, i) => (Math.abs(v) > Math.abs(g[best]) ? i : best), 0);
      for (const idx of [big, Math.floor(g.length / 3)]) {
        const at = (delta: number): number =>
          tidy(() => {
            const oneHot = Array.from({ length: p.size }, (_, i) => (i === idx ? 1 : 0));
            noGrad(() => ops.addScaledInPlace(p, tensor(oneHot, p.shape), delta));
            const l = noGrad(() => lossOf().item());
            noGrad(() => ops.addScaledInPlace(p, tensor(oneHot, p.shape), -delta));
            return l;
          });
        const fd = (at(eps) - at(-eps)) / (2 * eps);
        assert.ok(Math.abs(fd - g[idx]) <= 5e-6 + 1e-2 * Math.abs(g[idx]), `${name}[${idx}]: backward ${g[idx]}, finite difference ${fd}`);
      }
      assert.ok(Math.abs(g[big]) > 1e-4, `${name}: a gradient worth checking`);
    }
  } finally {
    zeroGrad(m.parameters());
    m.dispose();
  }
});

test('a span pattern at every slot acts in training and is the identity at inference', () => {
  const span: SpanPattern = { kind: 'span', size: 2, stride: 4, repeat: 'all', shareC: false, noise: 'zero', sublayers: [...TRANSFORMER_SUBLAYERS, 'embedding'] };
  const m = txl('txl-2-32', 8);
  try {
    const segs = [randomRows(2, 8, 60), randomRows(2, 8, 61)];
    m.eval();
    const plain = readSegments(m, segs);
    const d = patternDropout(span);
    m.slots.assignAll(() => d);
    m.slots.setContext({ generator: new Generator(3), progress: 0.5 });
    assert.deepEqual(readSegments(m, segs), plain, 'identity at inference');
    m.train();
    const dropped = readSegments(m, segs);
    for (let s = 0; s < 2; s++) {
      assert.ok(dropped[s].every(Number.isFinite));
      assert.ok(maxAbsDiff(dropped[s], plain[s]) > 1e-3, `segment ${s}: the pattern changed nothing`);
    }
    // Each slot on its own changes the output too (with memory in place).
    for (const slot of m.slots.list()) {
      m.slots.assignAll((s) => (s.name === slot.name ? d : null));
      const [, out] = readSegments(m, segs);
      assert.notDeepEqual(out, plain[1], `span at ${slot.name} changed nothing`);
    }
  } finally {
    m.dispose();
  }
});

test('AdamW on a learnable token stream lowers the loss, with memory carried and live tensors flat', () => {
  // A fixed random successor table: token t is followed by succ[t] (a chain
  // the model has to learn), cut into 4 rows read segment by segment.
  const next = lcg(70);
  const succ = Array.from({ length: VOCAB }, () => Math.floor(next() * VOCAB));
  const rows = Array.from({ length: 4 }, (_, r) => {
    const out = [r * 11];
    for (let i = 1; i < 8 * 12 + 1; i++) out.push(i % 13 === 0 ? Math.floor(next() * VOCAB) : succ[out[i - 1]]);
    return out;
  });
  const m = txl('txl-2-64', 8);
  const opt = adamw(m.parameters(), { lr: 3e-3, weightDecay: 0.01, beta1: 0.9, beta2: 0.98 });
  try {
    m.train();
    m.resetState();
    const losses: number[] = [];
    const live: number[] = [];
    for (let step = 0; step < 12; step++) {
      const x = rows.map((r) => r.slice(step * 8, step * 8 + 8));
      const y = rows.map((r) => r.slice(step * 8 + 1, step * 8 + 9));
      losses.push(
        tidy(() => {
          opt.zeroGrad();
          const logits = m.forward(tokens(x));
          const loss = ops.crossEntropy(ops.reshape(logits, [32, VOCAB]), ops.reshape(tokens(y), [32]));
          backward(loss);
          opt.step();
          return loss.item();
        }),
      );
      assert.equal(m.memoryLength, 8);
      live.push(liveTensorCount());
    }
    assert.ok(losses.every(Number.isFinite));
    const first = (losses[0] + losses[1]) / 2;
    const last = (losses[10] + losses[11]) / 2;
    assert.ok(last < first - 1, `loss ${first.toFixed(3)} -> ${last.toFixed(3)}: ${losses.map((l) => l.toFixed(2)).join(' ')}`);
    // After the first steps (the optimizer's moments appear on step 1) nothing grows.
    assert.ok(live.slice(2).every((c) => c === live[2]), `live tensors per step: ${live}`);
  } finally {
    opt.zeroGrad();
    m.dispose();
  }
});

test('building, running and disposing a txl model leaves no live tensors behind', () => {
  const before = liveTensorCount();
  const m = txl('txl-1-32', 4);
  assert.equal(liveTensorCount() - before, m.stateDict().size, 'only parameters stay alive');
  readSegments(m, [randomRows(2, 4, 80), randomRows(2, 4, 81)]);
  assert.equal(liveTensorCount() - before, m.stateDict().size + 1, 'and one memory tensor per layer');
  m.resetState();
  assert.equal(liveTensorCount() - before, m.stateDict().size);
  readSegments(m, [randomRows(2, 4, 82)]);
  m.dispose();
  assert.equal(liveTensorCount(), before, 'dispose() frees the memory too');
});

test('the text task resets the memory at the start of every epoch and evaluation pass', async () => {
  const data = loadTask('moby-dick', { seed: 0, augment: false, vocabSize: 200, seqLen: 8, trainLimit: 800 });
  const m = createModel('txl-1-32', data.modelInput, new Generator(0));
  assert.ok(m instanceof TransformerXL);
  let resets = 0;
  const reset = m.resetState.bind(m);
  m.resetState = () => {
    resets++;
    reset();
  };
  try {
    for (let epoch = 0; epoch < 2; epoch++) {
      let step = 0;
      // for await / await: tasks may hand out batches and metrics asynchronously.
      for await (const batch of data.epoch(4, undefined as never)) {
        const before = resets;
        const memBefore: number = m.memoryLength;
        tidy(() => noGrad(() => data.loss(m, batch).loss.item()));
        if (step === 0) {
          assert.equal(resets, before + 1, `epoch ${epoch}: the first batch resets`);
        } else {
          assert.equal(resets, before, `epoch ${epoch}, step ${step}: no reset mid-epoch`);
          assert.equal(memBefore, 8, 'the memory carries over from the previous batch');
        }
        assert.equal(m.memoryLength, 8);
        if (++step === 3) break;
      }
      const before = resets;
      const val = await data.evaluate(m, 'val', 4);
      assert.ok(Number.isFinite(val.loss));
      assert.ok(resets >= before + 1, 'evaluation starts from an empty memory');
      assert.equal(m.memoryLength, 0, 'and leaves none behind');
    }
  } finally {
    m.dispose();
  }
});

test('train(): a tiny txl run on Moby Dick reaches a finite perplexity below the vocabulary size and frees everything', async () => {
  const before = liveTensorCount();
  const r = await train({
    ...defaultConfig('moby-dick', 'txl-1-32'),
    trainLimit: 4000,
    vocabSize: 500,
    seqLen: 16,
    epochs: 1,
    threads: 1,
    evaluateTest: false,
  });
  const ppl = r.val.perplexity;
  assert.ok(ppl !== undefined && Number.isFinite(ppl) && ppl < 500, `val perplexity ${ppl}`);
  assert.ok(Number.isFinite(r.history[0].trainLoss));
  assert.equal(r.parameters, txlParamsByHand(1, 32, 500));
  assert.equal(liveTensorCount(), before);
});
