// The Transformer language model: shapes, parameter count, validation, the
// dropout slots, causality and both position encodings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, liveTensorCount, noGrad, ops, setNumThreads, tensor, tidy, type Tensor } from '../../src/engine/index.js';
import {
  TRANSFORMER_SUBLAYERS,
  TransformerLM,
  createModel,
  parseTlmName,
  type DropoutContext,
  type SlotDropout,
  type SlotInfo,
} from '../../src/models/index.js';

setNumThreads(1);

const VOCAB = 50;
const MAXLEN = 12;

function tokens(rows: number[][]): Tensor {
  return ops.to(tensor(rows.flat(), [rows.length, rows[0].length], 'int32'), 'int64');
}

function randomRows(n: number, t: number, seed: number): number[][] {
  let s = seed;
  const next = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % VOCAB;
  };
  return Array.from({ length: n }, () => Array.from({ length: t }, next));
}

/** Parameters of tlm-L-D by hand: token (tied) and position embeddings, per layer two LayerNorms, qkv, proj, fc1, fc2, and a final LayerNorm. */
function tlmParamsByHand(layers: number, d: number, vocab: number, maxLen: number, learned: boolean): number {
  const perLayer = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (4 * d * d + 4 * d) + (4 * d * d + d);
  return vocab * d + (learned ? maxLen * d : 0) + layers * perLayer + 2 * d;
}

class RecordingDropout implements SlotDropout {
  readonly description = 'record';
  readonly calls: { name: string; shape: number[]; slot: SlotInfo }[] = [];
  apply(x: Tensor, _ctx: DropoutContext, slot: SlotInfo): Tensor {
    this.calls.push({ name: slot.name, shape: x.shape, slot });
    return x;
  }
}

test('tlm-1-32 and tlm-2-64 give (N, T, vocab) logits and the hand-counted parameters', () => {
  for (const [name, layers, dim] of [
    ['tlm-1-32', 1, 32],
    ['tlm-2-64', 2, 64],
  ] as const) {
    const m = createModel(name, { vocabSize: VOCAB, maxLen: MAXLEN }, new Generator(0));
    try {
      assert.ok(m instanceof TransformerLM);
      assert.equal(m.parameterCount(), tlmParamsByHand(layers, dim, VOCAB, MAXLEN, true), name);
      tidy(() => {
        const y = noGrad(() => m.forward(tokens(randomRows(3, 7, 1))));
        assert.deepEqual(y.shape, [3, 7, VOCAB]);
        assert.ok(y.toArray().every(Number.isFinite));
      });
    } finally {
      m.dispose();
    }
  }
});

test('invalid language-model names and inputs are refused with clear errors', () => {
  const gen = new Generator(0);
  assert.throws(() => createModel('tlm-1-33', { vocabSize: VOCAB }, gen), /tlm-1-33: width must be a multiple of 32/);
  assert.throws(() => createModel('tlm-1-16', { vocabSize: VOCAB }, gen), /tlm-1-16: width must be a multiple of 32/);
  assert.throws(() => createModel('tlm-0-32', { vocabSize: VOCAB }, gen), /tlm-0-32: needs at least one layer/);
  assert.throws(() => createModel('tlm-1-32', {}, gen), /tlm-1-32: a language model needs a vocabulary size/);
  assert.throws(() => createModel('tlm-1', { vocabSize: VOCAB }, gen), /unknown model 'tlm-1'.*tlm-L-D/);
  assert.deepEqual(parseTlmName('tlm-2-128'), { layers: 2, dim: 128 });
  const m = createModel('tlm-1-32', { vocabSize: VOCAB, maxLen: 4 }, gen);
  try {
    tidy(() => assert.throws(() => m.forward(tokens(randomRows(1, 5, 2))), /sequence length 5 exceeds maxLen 4/));
  } finally {
    m.dispose();
  }
});

test('slots: embedding, then query ... ffn-output per layer, depths over 0..1', () => {
  const m = createModel('tlm-2-32', { vocabSize: VOCAB, maxLen: MAXLEN }, new Generator(0));
  try {
    const slots = m.slots.list();
    assert.deepEqual(
      slots.map((s) => s.name),
      [
        'embedding',
        'layer0.query',
        'layer0.key',
        'layer0.value',
        'layer0.attention-output',
        'layer0.ffn-hidden',
        'layer0.ffn-output',
        'layer1.query',
        'layer1.key',
        'layer1.value',
        'layer1.attention-output',
        'layer1.ffn-hidden',
        'layer1.ffn-output',
      ],
    );
    assert.deepEqual(TRANSFORMER_SUBLAYERS, ['query', 'key', 'value', 'attention-output', 'ffn-hidden', 'ffn-output']);
    assert.deepEqual(
      slots.map((s) => s.sublayer),
      ['embedding', ...TRANSFORMER_SUBLAYERS, ...TRANSFORMER_SUBLAYERS],
    );
    assert.ok(slots.every((s) => s.kind === 'sequence'));
    assert.deepEqual(
      slots.map((s) => s.depth),
      slots.map((_, i) => i / (slots.length - 1)),
    );
    assert.equal(m.slots.get('layer1.ffn-hidden').channels, 128);
    assert.equal(m.slots.get('layer1.ffn-output').channels, 32);
  } finally {
    m.dispose();
  }
});

test('a recording SlotDropout is called once per slot in training mode, never in eval mode', () => {
  const m = createModel('tlm-2-32', { vocabSize: VOCAB, maxLen: MAXLEN }, new Generator(0));
  try {
    const rec = new RecordingDropout();
    m.slots.assignAll(() => rec);
    m.slots.setContext({ generator: new Generator(1), progress: 0 });
    tidy(() => {
      const x = tokens(randomRows(2, 6, 3));
      m.train();
      m.forward(x);
      assert.deepEqual(
        rec.calls.map((c) => c.name),
        m.slots.list().map((s) => s.name),
      );
      for (const c of rec.calls) {
        assert.deepEqual(c.shape, [2, 6, c.slot.channels], `${c.name}: (N, T, width)`);
      }
      rec.calls.length = 0;
      m.eval();
      m.forward(x);
      assert.equal(rec.calls.length, 0);
    });
  } finally {
    m.dispose();
  }
});

test('a SlotDropout that zeroes its input changes the output, at every slot', () => {
  const m = createModel('tlm-1-32', { vocabSize: VOCAB, maxLen: MAXLEN }, new Generator(0));
  try {
    m.slots.setContext({ generator: new Generator(1), progress: 0 });
    m.train();
    tidy(() => {
      const x = tokens(randomRows(2, 5, 4));
      const base = noGrad(() => m.forward(x)).toArray();
      for (const s of m.slots.list()) {
        m.slots.assignAll((t) => (t.name === s.name ? { description: 'zero', apply: (v: Tensor) => ops.zerosLike(v) } : null));
        const out = noGrad(() => m.forward(x)).toArray();
        assert.notDeepEqual(out, base, `zeroing ${s.name} changed nothing`);
      }
      m.slots.assignAll(() => null);
      assert.deepEqual(noGrad(() => m.forward(x)).toArray(), base);
    });
  } finally {
    m.dispose();
  }
});

for (const positions of ['learned', 'sinusoidal'] as const) {
  test(`causal (${positions} positions): changing token t leaves the logits before t unchanged`, () => {
    const m = createModel('tlm-2-32', { vocabSize: VOCAB, maxLen: MAXLEN, positions }, new Generator(0));
    try {
      m.eval();
      const rows = randomRows(2, 10, 5);
      const t = 6;
      const changed = rows.map((r) => [...r]);
      changed[0][t] = (changed[0][t] + 1) % VOCAB;
      changed[1][t] = (changed[1][t] + 7) % VOCAB;
      tidy(() => {
        const a = noGrad(() => m.forward(tokens(rows)));
        const b = noGrad(() => m.forward(tokens(changed)));
        for (let n = 0; n < 2; n++) {
          const before = (y: Tensor): number[] => ops.slice(ops.select(y, 0, n), 0, 0, t).toArray();
          const after = (y: Tensor): number[] => ops.slice(ops.select(y, 0, n), 0, t, 10).toArray();
          const da = before(a);
          const db = before(b);
          const worst = da.reduce((w, v, i) => Math.max(w, Math.abs(v - db[i])), 0);
          assert.ok(worst <= 1e-6, `row ${n}: logits before position ${t} moved by ${worst}`);
          assert.notDeepEqual(after(a), after(b), `row ${n}: logits from position ${t} on must change`);
        }
      });
    } finally {
      m.dispose();
    }
  });
}

test('sinusoidal positions: a fixed buffer of sin/cos, not a parameter', () => {
  const learned = createModel('tlm-1-32', { vocabSize: VOCAB, maxLen: MAXLEN, positions: 'learned' }, new Generator(0));
  const sin = createModel('tlm-1-32', { vocabSize: VOCAB, maxLen: MAXLEN, positions: 'sinusoidal' }, new Generator(0));
  try {
    assert.equal(sin.parameterCount(), tlmParamsByHand(1, 32, VOCAB, MAXLEN, false));
    assert.equal(learned.parameterCount() - sin.parameterCount(), MAXLEN * 32);
    assert.ok(sin.namedBuffers().some(([n]) => n === 'positions'));
    assert.ok(!sin.namedParameters().some(([n]) => n === 'positions'));
    const pos = (sin as TransformerLM).positions;
    assert.deepEqual(pos.shape, [MAXLEN, 32]);
    const v = pos.toArray();
    for (const p of [0, 1, 5, 11]) {
      for (const i of [0, 2, 16, 30]) {
        const freq = Math.pow(10000, -i / 32);
        assert.ok(Math.abs(v[p * 32 + i] - Math.sin(p * freq)) < 1e-6, `sin at ${p},${i}`);
        assert.ok(Math.abs(v[p * 32 + i + 1] - Math.cos(p * freq)) < 1e-6, `cos at ${p},${i + 1}`);
      }
    }
    tidy(() => {
      const x = tokens(randomRows(1, 8, 6));
      const a = noGrad(() => sin.forward(x));
      assert.deepEqual(a.shape, [1, 8, VOCAB]);
      assert.ok(a.toArray().every(Number.isFinite));
    });
  } finally {
    learned.dispose();
    sin.dispose();
  }
});

test('building, running and disposing a language model leaves no live tensors behind', () => {
  for (const positions of ['learned', 'sinusoidal'] as const) {
    const before = liveTensorCount();
    const m = createModel('tlm-1-32', { vocabSize: VOCAB, maxLen: MAXLEN, positions }, new Generator(0));
    assert.equal(liveTensorCount() - before, m.stateDict().size, `${positions}: only parameters and buffers stay alive`);
    tidy(() => noGrad(() => m.forward(tokens(randomRows(2, 4, 7)))).shape);
    m.dispose();
    assert.equal(liveTensorCount(), before, positions);
  }
});
