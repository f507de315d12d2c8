// ResNets: parameter counts against torchvision and a hand count, the stem
// rule, names, slots, gradients against finite differences, patterns at every
// slot, a short SGD run and flat native memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, noGrad, setNumThreads, tidy, type Tensor } from '../../src/engine/index.js';
import {
  RESNET_SMALL_IMAGE_MAX,
  ResNet,
  createModel,
  modelFamily,
  modelNameProblem,
  parseResNetName,
  resnetStemFor,
  type DropoutContext,
  type SlotDropout,
  type SlotInfo,
} from '../../src/models/index.js';
import { DROPBLOCK, TILE, assertEverySlotWired, assertLearnsWithFlatMemory, checkGradients, checkPatternEverywhere, labels, randomImages, slotTuples, withModel } from './convnet-helpers.js';

setNumThreads(1);

/** torchvision.models.resnetN(num_classes=1000) parameter counts. */
const TORCHVISION = { 'resnet-18': 11_689_512, 'resnet-34': 21_797_672, 'resnet-50': 25_557_032, 'resnet-101': 44_549_160 } as const;

/**
 * Counted by hand: a bias-free stem conv to 64 channels + BN; per block the
 * branch convs (basic: 3x3 in→out, 3x3 out→out; bottleneck: 1x1 in→w, 3x3
 * w→w, 1x1 w→4w) each with a BN, plus a 1x1 projection + BN when the stride or
 * width changes; a linear classifier with bias.
 */
function resnetParamsByHand(depth: 18 | 34 | 50 | 101, inChannels: number, classes: number, stemKernel: number): number {
  const blocks = { 18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3] }[depth];
  const bottleneck = depth >= 50;
  let p = inChannels * 64 * stemKernel * stemKernel + 2 * 64;
  let c = 64;
  blocks.forEach((n, s) => {
    const w = 64 << s;
    const out = bottleneck ? 4 * w : w;
    for (let b = 0; b < n; b++) {
      p += bottleneck ? c * w + 2 * w + 9 * w * w + 2 * w + w * out + 2 * out : 9 * c * out + 2 * out + 9 * out * out + 2 * out;
      if (c !== out || (b === 0 && s > 0)) p += c * out + 2 * out;
      c = out;
    }
  });
  return p + c * classes + classes;
}

class RecordingDropout implements SlotDropout {
  readonly description = 'record';
  readonly calls: { name: string; shape: number[]; channels: number }[] = [];
  apply(x: Tensor, _ctx: DropoutContext, slot: SlotInfo): Tensor {
    this.calls.push({ name: slot.name, shape: x.shape, channels: slot.channels });
    return x;
  }
}

test("parameter counts with 1000 classes and the ImageNet stem equal torchvision's and a hand count", () => {
  for (const [name, published] of Object.entries(TORCHVISION)) {
    const m = createModel(name, { inChannels: 3, numClasses: 1000 }, new Generator(0));
    try {
      assert.ok(m instanceof ResNet);
      assert.equal(m.config.stem, 'imagenet', 'no imageSize: the ImageNet stem');
      const count = m.parameterCount();
      const depth = Number(name.slice('resnet-'.length)) as 18 | 34 | 50 | 101;
      assert.equal(count, resnetParamsByHand(depth, 3, 1000, 7), name);
      assert.ok(Math.abs(count - published) / published < 0.01, `${name}: ${count} parameters, published ${published}`);
      assert.equal(count, published, `${name}: torchvision's exact count`);
    } finally {
      m.dispose();
    }
  }
});

test('the stem: CIFAR (3x3 stride 1, no max-pool) up to 64 px, ImageNet above 64 px or when the size is unknown', () => {
  assert.equal(RESNET_SMALL_IMAGE_MAX, 64);
  for (const [size, stem] of [
    [28, 'cifar'],
    [32, 'cifar'],
    [64, 'cifar'],
    [65, 'imagenet'],
    [96, 'imagenet'],
    [224, 'imagenet'],
    [undefined, 'imagenet'],
  ] as const) {
    assert.equal(resnetStemFor(size), stem, String(size));
    const m = createModel('resnet-18', { inChannels: 1, numClasses: 10, imageSize: size }, new Generator(0));
    try {
      assert.equal((m as ResNet).config.stem, stem, String(size));
      assert.equal(m.parameterCount(), resnetParamsByHand(18, 1, 10, stem === 'cifar' ? 3 : 7), String(size));
    } finally {
      m.dispose();
    }
  }
});

for (const [name, inC, hw, imageSize, classes, featureMap] of [
  ['resnet-18', 1, 28, 28, 10, 4], // Fashion-MNIST: CIFAR stem, 28 → 28, 14, 7, 4
  ['resnet-34', 3, 32, 32, 100, 4],
  ['resnet-50', 3, 32, 32, 10, 4],
  ['resnet-18', 3, 96, undefined, 7, 3], // ImageNet stem: 96 → 48 → 24, 24, 12, 6, 3
] as const) {
  test(`${name} on ${inC}x${hw}x${hw} (imageSize ${imageSize}) gives (N, ${classes}) finite logits in train and eval mode`, () => {
    const m = createModel(name, { inChannels: inC, numClasses: classes, imageSize }, new Generator(0));
    try {
      const rec = new RecordingDropout();
      m.slots.assign('layer4.block1.skip', rec);
      m.slots.setContext({ generator: new Generator(1), progress: 0 });
      tidy(() => {
        const x = randomImages(2, inC, hw, 1);
        for (const training of [true, false]) {
          m.train(training);
          const y = noGrad(() => m.forward(x));
          assert.deepEqual(y.shape, [2, classes]);
          assert.ok(y.toArray().every(Number.isFinite));
        }
      });
      assert.equal(rec.calls.length, 1);
      assert.equal(rec.calls[0].shape[2], featureMap, 'the last stage sees the expected map size');
    } finally {
      m.dispose();
    }
  });
}

test('names: resnet-18/34/50/101 are image models; other depths are refused with the valid list', () => {
  const gen = new Generator(0);
  for (const n of Object.keys(TORCHVISION)) {
    assert.equal(modelFamily(n), 'image', n);
    assert.equal(modelNameProblem(n), null, n);
  }
  assert.deepEqual(parseResNetName('resnet-50'), { depth: 50 });
  assert.equal(parseResNetName('resnet50'), null);
  assert.equal(modelFamily('resnet-20'), 'image', 'well formed, so the CLI says why it cannot be built');
  assert.equal(modelNameProblem('resnet-20'), 'resnet-20: depth must be one of 18, 34, 50, 101');
  assert.throws(() => createModel('resnet-152', { inChannels: 3, numClasses: 10 }, gen), /^Error: resnet-152: depth must be one of 18, 34, 50, 101$/);
  for (const bad of ['resnet', 'ResNet-18', 'resnet-18 ', 'resnet-a']) {
    assert.equal(modelFamily(bad), null, bad);
    assert.match(modelNameProblem(bad) ?? '', /^unknown model .*resnet-N \(N = 18, 34, 50, 101\)/, bad);
  }
});

test('resnet-18 slots: stem.bn, then bn1, bn2, skip per block, with their channels and kinds', () => {
  const m = createModel('resnet-18', { inChannels: 3, numClasses: 10, imageSize: 32 }, new Generator(0));
  try {
    const expected: [string, string, number][] = [['stem.bn', 'conv', 64]];
    for (const [l, c] of [
      [1, 64],
      [2, 128],
      [3, 256],
      [4, 512],
    ]) {
      for (const b of [1, 2]) expected.push([`layer${l}.block${b}.bn1`, 'conv', c], [`layer${l}.block${b}.bn2`, 'conv', c], [`layer${l}.block${b}.skip`, 'skip', c]);
    }
    const slots = m.slots.list();
    assert.deepEqual(slotTuples(slots), expected);
    assert.equal(slots[0].depth, 0);
    assert.equal(slots[slots.length - 1].depth, 1);
  } finally {
    m.dispose();
  }
});

test('resnet-50 slots: bn1, bn2, bn3 (bottleneck widths) and skip per block, 65 in all; the ImageNet stem has the same names', () => {
  for (const imageSize of [32, 224]) {
    const m = createModel('resnet-50', { inChannels: 3, numClasses: 10, imageSize }, new Generator(0));
    try {
      const slots = m.slots.list();
      assert.equal(slots.length, 1 + 16 * 4);
      assert.deepEqual(slotTuples(slots.slice(0, 5)), [
        ['stem.bn', 'conv', 64],
        ['layer1.block1.bn1', 'conv', 64],
        ['layer1.block1.bn2', 'conv', 64],
        ['layer1.block1.bn3', 'conv', 256],
        ['layer1.block1.skip', 'skip', 256],
      ]);
      assert.deepEqual(slotTuples(slots.slice(-4)), [
        ['layer4.block3.bn1', 'conv', 512],
        ['layer4.block3.bn2', 'conv', 512],
        ['layer4.block3.bn3', 'conv', 2048],
        ['layer4.block3.skip', 'skip', 2048],
      ]);
      assert.equal(slots.filter((s) => s.kind === 'skip').length, 16);
    } finally {
      m.dispose();
    }
  }
});

test('every slot is called once per training forward, in slot order, with its declared channels; never in eval mode', () => {
  for (const [name, imageSize, hw] of [
    ['resnet-18', 32, 32],
    ['resnet-50', undefined, 64],
  ] as const) {
    const m = createModel(name, { inChannels: 3, numClasses: 5, imageSize }, new Generator(0));
    try {
      const rec = new RecordingDropout();
      m.slots.assignAll(() => rec);
      m.slots.setContext({ generator: new Generator(2), progress: 0 });
      tidy(() => {
        const x = randomImages(2, 3, hw, 2);
        m.train();
        noGrad(() => m.forward(x));
        assert.deepEqual(
          rec.calls.map((c) => c.name),
          m.slots.list().map((s) => s.name),
        );
        for (const c of rec.calls) assert.equal(c.shape[1], c.channels, c.name);
        rec.calls.length = 0;
        m.eval();
        noGrad(() => m.forward(x));
        assert.equal(rec.calls.length, 0);
      });
    } finally {
      m.dispose();
    }
  }
});

test('zeroing any single slot of resnet-18 changes the output (every slot is wired into the forward pass)', () => {
  withModel('resnet-18', { inChannels: 3, numClasses: 4, imageSize: 16 }, (m) => assertEverySlotWired(m, randomImages(2, 3, 16, 4)));
});

test('resnet-18 (CIFAR stem): autograd gradients match finite differences', () => {
  withModel('resnet-18', { inChannels: 3, numClasses: 4, imageSize: 32 }, (m) => {
    checkGradients(
      m,
      randomImages(2, 3, 32, 5),
      labels([1, 3]),
      ['stemConv.weight', 'stemBn.bias', 'layer1_block1.conv1.weight', 'layer2_block1.downsampleConv.weight', 'layer3_block2.bn2.weight', 'layer4_block2.conv2.weight', 'fc.weight'],
      { entryRtol: 0.1 },
    );
  });
});

test('resnet-50 (ImageNet stem, bottlenecks): autograd gradients match finite differences', () => {
  withModel('resnet-50', { inChannels: 3, numClasses: 4 }, (m) => {
    checkGradients(
      m,
      randomImages(2, 3, 64, 6),
      labels([0, 2]),
      ['stemConv.weight', 'layer1_block1.conv2.weight', 'layer2_block1.downsampleBn.weight', 'layer3_block3.bn3.bias', 'layer4_block3.conv3.weight', 'fc.bias'],
      { entryRtol: 0.1 },
    );
  });
});

test('a tile and a dropblock pattern at every slot (skip paths included) act in training and are the identity at inference', () => {
  withModel('resnet-18', { inChannels: 3, numClasses: 4, imageSize: 32 }, (m) => {
    const x = randomImages(4, 3, 32, 7);
    checkPatternEverywhere(m, x, TILE);
    checkPatternEverywhere(m, x, DROPBLOCK);
  });
});

test('a few SGD steps on a learnable set lower the loss; live tensors do not grow across steps', () => {
  assertLearnsWithFlatMemory('resnet-18', { inChannels: 3, numClasses: 4, imageSize: 16 }, 16);
});
