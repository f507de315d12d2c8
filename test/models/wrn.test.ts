// Wide-ResNets: shapes, parameter counts against the published sizes and a
// hand count, name/depth validation, the dropout slots and how they are called.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, liveTensorCount, noGrad, ops, setNumThreads, tidy, type Tensor } from '../../src/engine/index.js';
import {
  DropoutSlots,
  WideResNet,
  createModel,
  modelFamily,
  modelNameProblem,
  parseWrnName,
  type DropoutContext,
  type SlotDropout,
  type SlotInfo,
} from '../../src/models/index.js';

setNumThreads(1);

/**
 * Parameters of a pre-activation WRN-D-K counted by hand: a bias-free 3x3 stem
 * to 16 channels; per block BN(in) + 3x3 conv in→out + BN(out) + 3x3 conv
 * out→out (+ a bias-free 1x1 projection when the width or stride changes);
 * a final BN and a linear classifier with bias.
 */
function wrnParamsByHand(depth: number, k: number, inChannels: number, classes: number): number {
  const n = (depth - 4) / 6;
  const widths = [16, 16 * k, 32 * k, 64 * k];
  let p = inChannels * 16 * 9;
  let c = 16;
  for (let s = 0; s < 3; s++) {
    for (let b = 0; b < n; b++) {
      const out = widths[s + 1];
      const stride = b === 0 && s > 0 ? 2 : 1;
      p += 2 * c + c * out * 9 + 2 * out + out * out * 9 + (c !== out || stride !== 1 ? c * out : 0);
      c = out;
    }
  }
  return p + 2 * c + c * classes + classes;
}

function randomImages(n: number, c: number, hw: number, seed: number): Tensor {
  return ops.randn([n, c, hw, hw], new Generator(seed));
}

/** Records every call and passes the input through unchanged. */
class RecordingDropout implements SlotDropout {
  readonly description = 'record';
  readonly calls: { name: string; shape: number[]; channels: number; kind: string }[] = [];
  apply(x: Tensor, _ctx: DropoutContext, slot: SlotInfo): Tensor {
    this.calls.push({ name: slot.name, shape: x.shape, channels: slot.channels, kind: slot.kind });
    return x;
  }
}

class ZeroDropout implements SlotDropout {
  readonly description = 'zero';
  apply(x: Tensor): Tensor {
    return ops.zerosLike(x);
  }
}

for (const [name, inC, hw, classes] of [
  ['wrn-10-1', 1, 28, 10],
  ['wrn-10-1', 3, 32, 10],
  ['wrn-16-2', 1, 28, 7],
  ['wrn-16-2', 3, 32, 100],
] as const) {
  test(`${name} on ${inC}x${hw}x${hw} gives (N, ${classes}) finite logits in train and eval mode`, () => {
    const model = createModel(name, { inChannels: inC, numClasses: classes }, new Generator(0));
    try {
      assert.ok(model instanceof WideResNet);
      tidy(() => {
        const x = randomImages(3, inC, hw, 1);
        for (const training of [true, false]) {
          model.train(training);
          const y: Tensor = noGrad((): Tensor => model.forward(x));
          assert.deepEqual(y.shape, [3, classes]);
          assert.equal(y.dtype, 'float32');
          assert.ok(y.toArray().every(Number.isFinite), 'logits are finite');
        }
      });
      assert.equal(model.parameterCount(), wrnParamsByHand(name === 'wrn-10-1' ? 10 : 16, name === 'wrn-10-1' ? 1 : 2, inC, classes));
    } finally {
      model.dispose();
    }
  });
}

test('the same seed builds the same weights; another seed different ones', () => {
  const weights = (seed: number): number[] => {
    const m = createModel('wrn-10-1', { inChannels: 1, numClasses: 10 }, new Generator(seed));
    try {
      return m.parameters().flatMap((p) => p.toArray());
    } finally {
      m.dispose();
    }
  };
  const a = weights(3);
  assert.deepEqual(weights(3), a);
  assert.notDeepEqual(weights(4), a);
});

test('parameter counts: wrn-28-10 is the published 36.5M, wrn-16-2 0.69M, both equal to a hand count', () => {
  const m = createModel('wrn-28-10', { inChannels: 3, numClasses: 10 }, new Generator(0));
  try {
    const count = m.parameterCount();
    assert.equal(count, wrnParamsByHand(28, 10, 3, 10));
    assert.equal(count, 36_479_194, 'the count of the reference PyTorch implementations');
    assert.ok(Math.abs(count - 36.5e6) / 36.5e6 < 0.01, `wrn-28-10 has ${count} parameters, not ~36.5M`);
  } finally {
    m.dispose();
  }
  const s = createModel('wrn-16-2', { inChannels: 3, numClasses: 10 }, new Generator(0));
  try {
    const count = s.parameterCount();
    assert.equal(count, wrnParamsByHand(16, 2, 3, 10));
    assert.equal(count, 691_674);
    assert.ok(Math.abs(count - 0.69e6) / 0.69e6 < 0.01, `wrn-16-2 has ${count} parameters, not ~0.69M`);
  } finally {
    s.dispose();
  }
});

test('building and disposing a model leaves no live tensors behind', () => {
  const before = liveTensorCount();
  const m = createModel('wrn-10-1', { inChannels: 3, numClasses: 10 }, new Generator(0));
  assert.equal(liveTensorCount() - before, m.stateDict().size, 'only parameters and buffers stay alive');
  m.dispose();
  assert.equal(liveTensorCount(), before);
});

test('invalid names, depths and widths are refused with clear errors', () => {
  const gen = new Generator(0);
  const input = { inChannels: 3, numClasses: 10 };
  assert.throws(() => createModel('wrn-11-1', input, gen), /wrn-11-1: depth must be 6n\+4/);
  assert.throws(() => createModel('wrn-12-2', input, gen), /depth must be 6n\+4 with n >= 1/);
  assert.throws(() => createModel('wrn-4-1', input, gen), /wrn-4-1: depth must be 6n\+4/);
  assert.throws(() => createModel('wrn-10-0', input, gen), /wrn-10-0: widen factor must be a positive integer/);
  for (const bad of ['vgg-16', 'wrn-10', 'wrn-a-1', 'WRN-10-1', 'wrn-10-1 ', '']) {
    assert.throws(() => createModel(bad, input, gen), (e: Error) => e.message.includes(`unknown model '${bad}'`) && e.message.includes('wrn-D-K'), bad);
    assert.equal(modelFamily(bad), null, bad);
  }
  assert.deepEqual(parseWrnName('wrn-28-10'), { depth: 28, widen: 10 });
  // The same verdicts without building anything (what the CLI uses to reject a flag early).
  assert.equal(modelNameProblem('wrn-10-1'), null);
  assert.equal(modelNameProblem('wrn-28-10'), null);
  assert.equal(modelNameProblem('tlm-2-128'), null);
  assert.match(modelNameProblem('wrn-11-1') ?? '', /^wrn-11-1: depth must be 6n\+4/);
  assert.match(modelNameProblem('wrn-10-0') ?? '', /^wrn-10-0: widen factor must be a positive integer/);
  assert.match(modelNameProblem('tlm-1-33') ?? '', /^tlm-1-33: width must be a multiple of 32/);
  assert.match(modelNameProblem('tlm-0-64') ?? '', /^tlm-0-64: needs at least one layer/);
  assert.match(modelNameProblem('vgg') ?? '', /^unknown model 'vgg': expected wrn-D-K/);
  assert.equal(modelFamily('wrn-16-2'), 'image');
  assert.equal(modelFamily('tlm-2-128'), 'language');
});

test('wrn-10-1 slots: bn1, bn2, skip per block then final.bn, depths spread over 0..1', () => {
  const m = createModel('wrn-10-1', { inChannels: 3, numClasses: 10 }, new Generator(0));
  try {
    const slots = m.slots.list();
    const names = slots.map((s) => s.name);
    const expected: string[] = [];
    for (const s of [1, 2, 3]) expected.push(`stage${s}.block1.bn1`, `stage${s}.block1.bn2`, `stage${s}.block1.skip`);
    expected.push('final.bn');
    assert.deepEqual(names, expected);
    assert.deepEqual(
      slots.map((s) => s.depth),
      names.map((_, i) => i / (names.length - 1)),
    );
    assert.equal(slots[0].depth, 0);
    assert.equal(slots[slots.length - 1].depth, 1);
    assert.deepEqual(
      slots.map((s) => s.kind),
      expected.map((n) => (n.endsWith('.skip') ? 'skip' : 'conv')),
    );
    // Channels the slot sees: bn1 the block input, bn2 and skip its output.
    assert.deepEqual(
      slots.map((s) => s.channels),
      [16, 16, 16, 16, 32, 32, 32, 64, 64, 64],
    );
    assert.deepEqual(m.slots.get('stage2.block1.bn2'), slots[4]);
    assert.throws(() => m.slots.get('stage4.block1.bn1'), /unknown dropout slot 'stage4\.block1\.bn1'; this model has: stage1\.block1\.bn1/);
  } finally {
    m.dispose();
  }
});

test('wrn-16-2 has 19 slots, two blocks per stage', () => {
  const m = createModel('wrn-16-2', { inChannels: 1, numClasses: 10 }, new Generator(0));
  try {
    const names = m.slots.list().map((s) => s.name);
    assert.equal(names.length, 19);
    assert.ok(names.includes('stage1.block2.bn1'));
    assert.ok(names.includes('stage3.block2.skip'));
    assert.equal(names[names.length - 1], 'final.bn');
    assert.equal(new Set(names).size, names.length);
  } finally {
    m.dispose();
  }
});

test('an assigned SlotDropout is called once per slot in training mode, in slot order, and never in eval mode', () => {
  const m = createModel('wrn-16-2', { inChannels: 3, numClasses: 10 }, new Generator(0));
  try {
    const rec = new RecordingDropout();
    m.slots.assignAll(() => rec);
    for (const s of m.slots.list()) assert.equal(m.slots.assignment(s.name), rec);
    m.slots.setContext({ generator: new Generator(5), progress: 0 });
    tidy(() => {
      const x = randomImages(2, 3, 32, 2);
      m.train();
      const y = m.forward(x);
      assert.deepEqual(y.shape, [2, 10]);
      assert.deepEqual(
        rec.calls.map((c) => c.name),
        m.slots.list().map((s) => s.name),
      );
      for (const c of rec.calls) {
        assert.equal(c.shape.length, 4, c.name);
        assert.equal(c.shape[0], 2, c.name);
        assert.equal(c.shape[1], c.channels, `${c.name}: the slot's tensor has the declared channels`);
      }
      rec.calls.length = 0;
      m.eval();
      m.forward(x);
      assert.equal(rec.calls.length, 0, 'no dropout at inference');
    });
  } finally {
    m.dispose();
  }
});

test('a dropout without a context is an error; clearing the assignment restores the identity', () => {
  const m = createModel('wrn-10-1', { inChannels: 1, numClasses: 10 }, new Generator(0));
  try {
    tidy(() => {
      const x = randomImages(2, 1, 28, 3);
      m.train();
      const plain = noGrad(() => m.forward(x)).toArray();
      m.slots.assign('final.bn', new ZeroDropout());
      assert.throws(() => m.forward(x), /dropout slot 'final\.bn' has a dropout but no context/);
      m.slots.setContext({ generator: new Generator(1), progress: 0.5 });
      const zeroed = noGrad(() => m.forward(x)).toArray();
      assert.notDeepEqual(zeroed, plain);
      // relu(0) pools to 0 and the classifier's bias starts at 0: every logit is 0.
      assert.ok(zeroed.every((v) => v === 0), `zeroed final features give zero logits, got ${zeroed.slice(0, 4)}`);
      m.slots.assign('final.bn', null);
      assert.equal(m.slots.assignment('final.bn'), null);
      // Training-mode batch norm uses batch statistics, so the same batch gives the same logits again.
      assert.deepEqual(noGrad(() => m.forward(x)).toArray(), plain);
    });
  } finally {
    m.dispose();
  }
});

test('zeroing any single slot changes the output', () => {
  const m = createModel('wrn-10-1', { inChannels: 3, numClasses: 10 }, new Generator(0));
  try {
    m.slots.setContext({ generator: new Generator(1), progress: 0 });
    tidy(() => {
      const x = randomImages(2, 3, 32, 4);
      // Training mode (batch statistics), the only mode in which slots act.
      m.train();
      const base = noGrad(() => m.forward(x)).toArray();
      for (const s of m.slots.list()) {
        m.slots.assignAll((t) => (t.name === s.name ? new ZeroDropout() : null));
        const out = noGrad(() => m.forward(x)).toArray();
        assert.notDeepEqual(out, base, `zeroing ${s.name} changed nothing`);
      }
    });
  } finally {
    m.dispose();
  }
});

test('DropoutSlots rejects unknown and duplicate slot names; a single slot has depth 0', () => {
  const m = createModel('wrn-10-1', { inChannels: 1, numClasses: 10 }, new Generator(0));
  try {
    assert.throws(() => m.slots.assign('nope', new ZeroDropout()), /unknown dropout slot 'nope'/);
  } finally {
    m.dispose();
  }
  const info = { name: 'a', kind: 'conv', channels: 4 } as const;
  assert.throws(() => new DropoutSlots([info, { ...info, kind: 'skip' }]), /duplicate dropout slot 'a'/);
  assert.deepEqual(new DropoutSlots([info]).list(), [{ ...info, depth: 0 }]);
});

test('a projection block whose bn1 is zeroed still passes its input through the shortcut: the skip path reads the unmasked pre-activation', () => {
  const m = createModel('wrn-10-1', { inChannels: 3, numClasses: 10 }, new Generator(0));
  try {
    m.slots.setContext({ generator: new Generator(1), progress: 0 });
    tidy(() => {
      m.train();
      // wrn-10-1's stage2.block1 is a projection block (stride 2, 16 -> 32 channels).
      m.slots.assignAll((t) => (t.name === 'stage2.block1.bn1' ? new ZeroDropout() : null));
      const a = noGrad(() => m.forward(randomImages(2, 3, 32, 4))).toArray();
      const b = noGrad(() => m.forward(randomImages(2, 3, 32, 5))).toArray();
      // Had the 1x1 shortcut read the masked (zero) activation, everything after the block would be independent of the input.
      assert.notDeepEqual(a, b);
    });
  } finally {
    m.dispose();
  }
});
