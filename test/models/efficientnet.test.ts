// EfficientNets: parameter counts against torchvision, compound scaling and
// rounding, names, slots, gradients against finite differences, patterns at
// every slot, a short SGD run and flat native memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, noGrad, setNumThreads, tidy, type Tensor } from '../../src/engine/index.js';
import {
  EFFICIENTNET_VARIANTS,
  EfficientNet,
  createModel,
  efficientNetResolution,
  modelFamily,
  modelNameProblem,
  parseEfficientNetName,
  roundChannels,
  roundLayers,
  type DropoutContext,
  type SlotDropout,
  type SlotInfo,
} from '../../src/models/index.js';
import { DROPBLOCK, TILE, assertEverySlotWired, assertLearnsWithFlatMemory, checkGradients, checkPatternEverywhere, labels, randomImages, slotTuples, withModel } from './convnet-helpers.js';

setNumThreads(1);

/** torchvision.models.efficientnet_bN(num_classes=1000) parameter counts. */
const TORCHVISION: Record<string, number> = {
  'efficientnet-b0': 5_288_548,
  'efficientnet-b1': 7_794_184,
  'efficientnet-b2': 9_109_994,
  'efficientnet-b3': 12_233_232,
  'efficientnet-b4': 19_341_616,
  'efficientnet-b5': 30_389_784,
  'efficientnet-b6': 43_040_704,
  'efficientnet-b7': 66_347_960,
};

class RecordingDropout implements SlotDropout {
  readonly description = 'record';
  readonly calls: { name: string; shape: number[]; channels: number }[] = [];
  apply(x: Tensor, _ctx: DropoutContext, slot: SlotInfo): Tensor {
    this.calls.push({ name: slot.name, shape: x.shape, channels: slot.channels });
    return x;
  }
}

/** Blocks per stage and each stage's output width, read off the slot names and channels. */
function stagesOf(slots: readonly SlotInfo[]): { blocks: number[]; widths: number[] } {
  const blocks: number[] = [];
  const widths: number[] = [];
  for (const s of slots) {
    const m = /^stage(\d+)\.block(\d+)\.project\.bn$/.exec(s.name);
    if (!m) continue;
    const i = Number(m[1]) - 1;
    blocks[i] = Math.max(blocks[i] ?? 0, Number(m[2]));
    widths[i] = s.channels;
  }
  return { blocks, widths };
}

test("parameter counts with 1000 classes equal torchvision's for b0 to b7", () => {
  for (const [name, published] of Object.entries(TORCHVISION)) {
    const m = createModel(name, { inChannels: 3, numClasses: 1000 }, new Generator(0));
    try {
      assert.ok(m instanceof EfficientNet);
      const count = m.parameterCount();
      assert.ok(Math.abs(count - published) / published < 0.01, `${name}: ${count} parameters, published ${published}`);
      assert.equal(count, published, `${name}: torchvision's exact count`);
    } finally {
      m.dispose();
    }
  }
});

test('compound scaling: the published coefficients, resolutions and the reference rounding', () => {
  assert.deepEqual(
    Object.entries(EFFICIENTNET_VARIANTS).map(([n, v]) => [n, v.width, v.depth, v.resolution, v.dropout]),
    [
      ['efficientnet-b0', 1.0, 1.0, 224, 0.2],
      ['efficientnet-b1', 1.0, 1.1, 240, 0.2],
      ['efficientnet-b2', 1.1, 1.2, 260, 0.3],
      ['efficientnet-b3', 1.2, 1.4, 300, 0.3],
      ['efficientnet-b4', 1.4, 1.8, 380, 0.4],
      ['efficientnet-b5', 1.6, 2.2, 456, 0.4],
      ['efficientnet-b6', 1.8, 2.6, 528, 0.5],
      ['efficientnet-b7', 2.0, 3.1, 600, 0.5],
    ],
  );
  assert.equal(efficientNetResolution('efficientnet-b3'), 300);
  assert.equal(efficientNetResolution('efficientnet-b7'), 600);
  assert.throws(() => efficientNetResolution('efficientnet-b8'), /unknown EfficientNet 'efficientnet-b8'/);
  // round_filters: nearest multiple of 8, bumped up when that loses more than 10 %.
  assert.equal(roundChannels(32, 1.1), 32); // 35.2 → 32 (>= 31.68)
  assert.equal(roundChannels(24, 1.2), 32); // 28.8 → 32
  assert.equal(roundChannels(112, 1.2), 136); // 134.4 → 136
  assert.equal(roundChannels(192, 1.2), 232); // 230.4 → 232
  assert.equal(roundChannels(16, 1.4), 24); // 22.4 → 24
  assert.equal(roundChannels(2, 1), 8, 'never below 8');
  assert.equal(roundChannels(52, 1), 56, 'halves round up');
  assert.equal(roundChannels(19, 1), 24, '19 → 16 would lose more than 10 %');
  // round_repeats: ceil, with the float products as in Python (3 * 1.1 = 3.3000000000000003 → 4).
  assert.deepEqual(
    [roundLayers(1, 1.1), roundLayers(2, 1.1), roundLayers(3, 1.1), roundLayers(4, 3.1), roundLayers(3, 1.4)],
    [2, 3, 4, 13, 5],
  );
  // torchvision's b3 and b7 layouts, read off the built models.
  for (const [name, blocks, widths, stem, head] of [
    ['efficientnet-b0', [1, 2, 2, 3, 3, 4, 1], [16, 24, 40, 80, 112, 192, 320], 32, 1280],
    ['efficientnet-b3', [2, 3, 3, 5, 5, 6, 2], [24, 32, 48, 96, 136, 232, 384], 40, 1536],
    ['efficientnet-b7', [4, 7, 7, 10, 10, 13, 4], [32, 48, 80, 160, 224, 384, 640], 64, 2560],
  ] as const) {
    const m = createModel(name, { inChannels: 3, numClasses: 10 }, new Generator(0));
    try {
      const slots = m.slots.list();
      assert.deepEqual(stagesOf(slots), { blocks, widths }, name);
      assert.equal(m.slots.get('stem.bn').channels, stem, name);
      assert.equal(m.slots.get('head.bn').channels, head, name);
    } finally {
      m.dispose();
    }
  }
});

test('names: efficientnet-b0..b7 are image models; b8 and malformed names are refused', () => {
  for (const n of Object.keys(TORCHVISION)) {
    assert.equal(modelFamily(n), 'image', n);
    assert.equal(modelNameProblem(n), null, n);
  }
  assert.deepEqual(parseEfficientNetName('efficientnet-b4'), { variant: 4 });
  assert.equal(modelNameProblem('efficientnet-b8'), 'efficientnet-b8: variant must be b0 to b7');
  assert.throws(() => createModel('efficientnet-b8', { inChannels: 3, numClasses: 10 }, new Generator(0)), /^Error: efficientnet-b8: variant must be b0 to b7$/);
  for (const bad of ['efficientnet-B0', 'efficientnet_b0', 'efficientnet-b', 'efficientnet']) {
    assert.equal(modelFamily(bad), null, bad);
    assert.match(modelNameProblem(bad) ?? '', /^unknown model .*efficientnet-bN \(N = 0\.\.7\)/, bad);
  }
});

test('efficientnet-b0 slots: every batch norm, the residual blocks\' skips and the classifier, with widths and kinds', () => {
  const m = createModel('efficientnet-b0', { inChannels: 3, numClasses: 10 }, new Generator(0));
  try {
    // The B0 table: expansion, stride, input, output, layers per stage.
    const b0: [number, number, number, number, number][] = [
      [1, 1, 32, 16, 1],
      [6, 2, 16, 24, 2],
      [6, 2, 24, 40, 2],
      [6, 2, 40, 80, 3],
      [6, 1, 80, 112, 3],
      [6, 2, 112, 192, 4],
      [6, 1, 192, 320, 1],
    ];
    const expected: [string, string, number][] = [['stem.bn', 'conv', 32]];
    b0.forEach(([e, stride, cin, cout, n], s) => {
      for (let b = 0; b < n; b++) {
        const p = `stage${s + 1}.block${b + 1}`;
        const inC = b === 0 ? cin : cout;
        if (e !== 1) expected.push([`${p}.expand.bn`, 'conv', inC * e]);
        expected.push([`${p}.depthwise.bn`, 'conv', inC * e], [`${p}.project.bn`, 'conv', cout]);
        if ((b > 0 || stride === 1) && inC === cout) expected.push([`${p}.skip`, 'skip', cout]);
      }
    });
    expected.push(['head.bn', 'conv', 1280], ['classifier', 'conv', 1280]);
    const slots = m.slots.list();
    assert.deepEqual(slotTuples(slots), expected);
    assert.equal(slots.length, 59);
    assert.equal(slots.filter((s) => s.kind === 'skip').length, 9);
    assert.equal(slots[slots.length - 1].depth, 1);
  } finally {
    m.dispose();
  }
});

for (const [name, inC, hw, classes] of [
  ['efficientnet-b0', 1, 28, 10],
  ['efficientnet-b0', 3, 32, 4],
  ['efficientnet-b2', 3, 64, 100],
] as const) {
  test(`${name} on ${inC}x${hw}x${hw}: (N, ${classes}) finite logits; each slot called once in training, in order, with its width; none in eval`, () => {
    const m = createModel(name, { inChannels: inC, numClasses: classes }, new Generator(0));
    try {
      const rec = new RecordingDropout();
      m.slots.assignAll(() => rec);
      m.slots.setContext({ generator: new Generator(1), progress: 0 });
      tidy(() => {
        const x = randomImages(2, inC, hw, 1);
        for (const training of [true, false]) {
          m.train(training);
          const y = noGrad(() => m.forward(x));
          assert.deepEqual(y.shape, [2, classes]);
          assert.ok(y.toArray().every(Number.isFinite));
          if (training) {
            assert.deepEqual(
              rec.calls.map((c) => c.name),
              m.slots.list().map((s) => s.name),
            );
            for (const c of rec.calls) assert.equal(c.shape[1], c.channels, c.name);
            assert.deepEqual(rec.calls[rec.calls.length - 1].shape, [2, m.slots.get('classifier').channels, 1, 1], 'the classifier slot sees the pooled features');
            rec.calls.length = 0;
          } else {
            assert.equal(rec.calls.length, 0);
          }
        }
      });
    } finally {
      m.dispose();
    }
  });
}

test('zeroing any single slot of efficientnet-b0 changes the output (every slot is wired into the forward pass)', () => {
  withModel('efficientnet-b0', { inChannels: 3, numClasses: 4 }, (m) => assertEverySlotWired(m, randomImages(2, 3, 32, 4)));
});

test('efficientnet-b0: autograd gradients match finite differences (stem, expansion, depthwise, squeeze-excitation, projection, head, classifier)', () => {
  withModel('efficientnet-b0', { inChannels: 3, numClasses: 4 }, (m) => {
    checkGradients(m, randomImages(2, 3, 64, 5), labels([1, 3]), [
      'stem.conv.weight',
      'stage1_block1.depthwise.conv.weight',
      'stage2_block2.expandConv.conv.weight',
      'stage2_block2.se.reduce.weight',
      'stage3_block2.se.expand.bias',
      'stage4_block1.depthwise.bn.bias',
      'stage6_block4.project.bn.weight',
      'head.conv.weight',
      'fc.weight',
    ]);
  });
});

test('a tile and a dropblock pattern at every slot (skip paths and classifier included) act in training and are the identity at inference', () => {
  withModel('efficientnet-b0', { inChannels: 3, numClasses: 4 }, (m) => {
    const x = randomImages(4, 3, 32, 7);
    checkPatternEverywhere(m, x, TILE);
    checkPatternEverywhere(m, x, DROPBLOCK);
  });
});

test('a few SGD steps on a learnable set lower the loss; live tensors do not grow across steps', () => {
  assertLearnsWithFlatMemory('efficientnet-b0', { inChannels: 3, numClasses: 4 }, 32);
});
