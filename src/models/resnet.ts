// ResNets (He et al. 2016), `resnet-18`, `resnet-34` (basic blocks),
// `resnet-50`, `resnet-101` (bottleneck blocks): post-activation, laid out
// and initialised as torchvision's, so parameter counts match it exactly
// (11,689,512 / 21,797,672 / 25,557,032 / 44,549,160 with 1000 classes).
// Bottlenecks stride on the 3x3 conv ("ResNet v1.5", torchvision's choice,
// as the paper's ResNet-50 baseline from the TPU reference code does). No
// zero-init of the last BN's scale: torchvision's default.
//
// Dropout slots: the output of every batch norm (before its ReLU, and before
// the residual addition for the block's last one), named
// `layerL.blockB.bnI`, plus `stem.bn`; and each block's skip path
// `layerL.blockB.skip` (the identity, or the projection shortcut's output:
// that BN's output *is* the skip path, so it has no conv slot of its own).
// The block's last BN slot is its residual branch's output, so `droppath`
// there is exactly stochastic depth. The tile `residual` token: the last BN's
// masks the skip where it enters the sum (`.skip`), the earlier BNs' mask the
// shortcut's input; `stem.bn` has no skip path and no residual token.
import { Module, ops, tidy, type Generator, type Tensor } from '../engine/index.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import { resnetConfigProblem, type ResNetDepth } from './names.js';
import { DropoutSlots, type SlotInfo, type SlottedModel } from './slots.js';

/** Blocks per stage and block type, as in He et al. Table 1. */
const LAYOUT: Record<ResNetDepth, { blocks: readonly number[]; bottleneck: boolean }> = {
  18: { blocks: [2, 2, 2, 2], bottleneck: false },
  34: { blocks: [3, 4, 6, 3], bottleneck: false },
  50: { blocks: [3, 4, 6, 3], bottleneck: true },
  101: { blocks: [3, 4, 23, 3], bottleneck: true },
};

/**
 * Largest image side that gets the CIFAR stem. At 32 px the ImageNet stem's
 * stride 4 would leave an 8x8 map for layer1 and 1x1 for layer4; He et al.'s
 * and most CIFAR ResNet-18/50 code use a 3x3 stride-1 stem without max-pool
 * there. 64 px (Tiny ImageNet scale) still takes the small stem; 96 px
 * (STL-10) and up the ImageNet one.
 */
export const RESNET_SMALL_IMAGE_MAX = 64;

export interface ResNetConfig {
  depth: ResNetDepth;
  inChannels: number;
  numClasses: number;
  /** 'imagenet': 7x7/2 conv + 3x3/2 max-pool; 'cifar': 3x3/1 conv, no pool. */
  stem: 'imagenet' | 'cifar';
}

/** The stem for an image side (undefined: unknown size, the ImageNet stem). */
export function resnetStemFor(imageSize: number | undefined): ResNetConfig['stem'] {
  return imageSize !== undefined && imageSize <= RESNET_SMALL_IMAGE_MAX ? 'cifar' : 'imagenet';
}

interface BlockSpec {
  inC: number;
  /** Bottleneck width (basic: the output width). */
  width: number;
  outC: number;
  stride: number;
  bottleneck: boolean;
  prefix: string;
}

class Block extends Module {
  readonly convs: Conv2d[] = [];
  readonly bns: BatchNorm2d[] = [];
  readonly downsample?: { conv: Conv2d; bn: BatchNorm2d };
  readonly prefix: string;

  constructor(spec: BlockSpec, gen: Generator) {
    super();
    this.prefix = spec.prefix;
    const { inC, width, outC, stride } = spec;
    // (in, out, kernel, stride, padding) per conv of the branch.
    const convs: [number, number, number, number, number][] = spec.bottleneck
      ? [
          [inC, width, 1, 1, 0],
          [width, width, 3, stride, 1],
          [width, outC, 1, 1, 0],
        ]
      : [
          [inC, outC, 3, stride, 1],
          [outC, outC, 3, 1, 1],
        ];
    convs.forEach(([i, o, k, s, p], j) => {
      this.convs.push(this.child(`conv${j + 1}`, new Conv2d(i, o, k, gen, { stride: s, padding: p })));
      this.bns.push(this.child(`bn${j + 1}`, new BatchNorm2d(o)));
    });
    if (stride !== 1 || inC !== outC) {
      this.downsample = {
        conv: this.child('downsampleConv', new Conv2d(inC, outC, 1, gen, { stride })),
        bn: this.child('downsampleBn', new BatchNorm2d(outC)),
      };
    }
  }

  forward(x: Tensor, slots: DropoutSlots): Tensor {
    const p = this.prefix;
    const last = this.convs.length - 1;
    let h = x;
    for (let j = 0; j < last; j++) {
      h = slots.applyRelu(`${p}.bn${j + 1}`, this.bns[j].forward(this.convs[j].forward(h)), this.training);
    }
    const branch = slots.apply(`${p}.bn${last + 1}`, this.bns[last].forward(this.convs[last].forward(h)), this.training);
    // A tile with `residual: true` at one of the branch's earlier BNs also
    // masks the shortcut's input (the block input x), with a draw of its own;
    // the last BN's reaches the shortcut where it enters the sum (`.skip`).
    let skipIn = x;
    for (let j = 0; j < last; j++) if (slots.masksSkipPath(`${p}.bn${j + 1}`, this.training)) skipIn = slots.apply(`${p}.bn${j + 1}`, skipIn, this.training);
    const shortcut = this.downsample ? this.downsample.bn.forward(this.downsample.conv.forward(skipIn)) : skipIn;
    return ops.relu(slots.applyAdd(`${p}.skip`, shortcut, branch, this.training));
  }
}

/** The dropout slots of resnet-N in forward order, from the architecture alone (no weights). */
export function resnetSlots(depth: ResNetDepth): Omit<SlotInfo, 'depth'>[] {
  const { blocks, bottleneck } = LAYOUT[depth];
  const expansion = bottleneck ? 4 : 1;
  const infos: Omit<SlotInfo, 'depth'>[] = [{ name: 'stem.bn', kind: 'conv', channels: 64 }];
  blocks.forEach((count, s) => {
    const width = 64 * 2 ** s;
    const outC = width * expansion;
    for (let b = 0; b < count; b++) {
      const prefix = `layer${s + 1}.block${b + 1}`;
      const bnWidths = bottleneck ? [width, width, outC] : [outC, outC];
      bnWidths.forEach((c, j) => infos.push({ name: `${prefix}.bn${j + 1}`, kind: 'conv', channels: c }));
      infos.push({ name: `${prefix}.skip`, kind: 'skip', channels: outC });
    }
  });
  return infos;
}

export class ResNet extends Module implements SlottedModel {
  readonly stemConv: Conv2d;
  readonly stemBn: BatchNorm2d;
  readonly blocks: Block[] = [];
  readonly fc: Linear;
  readonly slots: DropoutSlots;

  constructor(readonly config: ResNetConfig, gen: Generator) {
    super();
    const problem = resnetConfigProblem(config.depth);
    if (problem) throw new Error(problem);
    const { blocks, bottleneck } = LAYOUT[config.depth];
    const expansion = bottleneck ? 4 : 1;
    const imagenet = config.stem === 'imagenet';
    this.stemConv = this.child(
      'stemConv',
      imagenet ? new Conv2d(config.inChannels, 64, 7, gen, { stride: 2, padding: 3 }) : new Conv2d(config.inChannels, 64, 3, gen, { padding: 1 }),
    );
    this.stemBn = this.child('stemBn', new BatchNorm2d(64));
    let inC = 64;
    blocks.forEach((count, s) => {
      const width = 64 * 2 ** s;
      const outC = width * expansion;
      for (let b = 0; b < count; b++) {
        const prefix = `layer${s + 1}.block${b + 1}`;
        const stride = b === 0 && s > 0 ? 2 : 1;
        this.blocks.push(this.child(prefix.replace('.', '_'), new Block({ inC, width, outC, stride, bottleneck, prefix }, gen)));
        inC = outC;
      }
    });
    this.fc = this.child('fc', new Linear(inC, config.numClasses, gen));
    this.slots = new DropoutSlots(resnetSlots(config.depth));
  }

  /** x: (N, C, H, W) float32 → logits (N, classes). */
  forward(x: Tensor): Tensor {
    let h = tidy(() => {
      const s = this.slots.applyRelu('stem.bn', this.stemBn.forward(this.stemConv.forward(x)), this.training);
      return this.config.stem === 'imagenet' ? ops.maxPool2d(s, 3, { stride: 2, padding: 1 }) : s;
    });
    // A scope per block, as in the WRN: each block's intermediates are freed
    // as soon as it is done (autograd keeps what backward needs).
    for (const b of this.blocks) {
      const next = tidy(() => b.forward(h, this.slots));
      h.dispose();
      h = next;
    }
    const logits = tidy(() => this.fc.forward(ops.flatten(ops.adaptiveAvgPool2d(h, 1), 1)));
    h.dispose();
    return logits;
  }
}
