// EfficientNet-B0..B7 (Tan & Le 2019), `efficientnet-bN`: the B0 layout of
// MBConv stages scaled by the published compound coefficients, with the
// reference implementation's channel rounding (multiples of 8, never below
// 90 % of the scaled width) and depth rounding (ceil), laid out as
// torchvision's, so parameter counts match it exactly (B0 5,288,548 ...
// B7 66,347,960 with 1000 classes).
//
// Dropout slots, in forward order:
//  - the output of every batch norm, kind 'conv' (before its SiLU): `stem.bn`,
//    `stageS.blockB.expand.bn` (absent in stage 1, expansion ratio 1),
//    `stageS.blockB.depthwise.bn`, `stageS.blockB.project.bn`, `head.bn`;
//  - the identity shortcut of each residual block (stride 1, same width),
//    `stageS.blockB.skip`, kind 'skip';
//  - `classifier`, kind 'conv' on the pooled (N, C, 1, 1) features: where the
//    published model's dropout before the final linear sits.
// The tile `residual` token acts in residual blocks only: project.bn's masks
// the skip where it enters the sum (`.skip`), expand.bn's and depthwise.bn's
// mask the shortcut's input. Slots outside residual blocks (the stem, each
// stage's first block, head, classifier) have no skip path and no token.
// The reference model also has drop-connect (stochastic depth, rate 0.2 at
// the last block, linear in depth) on every residual branch and a fixed
// classifier dropout. Neither is hard-wired here: they are patterns a user
// assigns. A residual block's `project.bn` slot is its branch's output, so
// `droppath` there is exactly drop-connect; the published classifier rates
// are in EFFICIENTNET_VARIANTS for whoever wants the baseline.
import { Module, noGrad, ops, tidy, type Generator, type Tensor } from '../engine/index.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import { efficientNetVariant, type EfficientNetVariant } from './names.js';
import { DropoutSlots, type SlotInfo, type SlottedModel } from './slots.js';

/** The B0 stages: expansion ratio, kernel, first stride, input and output channels, layers. */
const B0_STAGES: readonly (readonly [number, number, number, number, number, number])[] = [
  [1, 3, 1, 32, 16, 1],
  [6, 3, 2, 16, 24, 2],
  [6, 5, 2, 24, 40, 2],
  [6, 3, 2, 40, 80, 3],
  [6, 5, 1, 80, 112, 3],
  [6, 5, 2, 112, 192, 4],
  [6, 3, 1, 192, 320, 1],
];
const B0_HEAD = 1280;

/**
 * Batch-norm epsilon of the reference (TF) implementation. Its momentum
 * (decay 0.99, i.e. PyTorch 0.01) is not taken: search children train for a
 * few hundred steps, after which 0.99^steps of the initial running statistics
 * would still be in the evaluation-mode ones; PyTorch's 0.1 settles in tens.
 */
const BN_EPS = 1e-3;
const BN_MOMENTUM = 0.1;

/** Channels scaled by `width`, rounded to a multiple of 8 and never below 90 % of the scaled value (the reference's round_filters). */
export function roundChannels(channels: number, width: number): number {
  const v = channels * width;
  let rounded = Math.max(8, Math.floor(Math.floor(v + 4) / 8) * 8);
  if (rounded < 0.9 * v) rounded += 8;
  return rounded;
}

/** Layers scaled by `depth`, rounded up (the reference's round_repeats). */
export function roundLayers(layers: number, depth: number): number {
  return Math.ceil(layers * depth);
}

export interface EfficientNetConfig {
  name: string;
  inChannels: number;
  numClasses: number;
}

interface MBConvSpec {
  inC: number;
  outC: number;
  expand: number;
  kernel: number;
  stride: number;
  prefix: string;
}

/** A 1x1 or kxk conv without bias and its batch norm. */
class ConvBn extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;
  constructor(inC: number, outC: number, kernel: number, gen: Generator, o: { stride?: number; groups?: number } = {}) {
    super();
    // Symmetric padding as torchvision (the TF reference pads 'same', one pixel more on the bottom/right at stride 2).
    this.conv = this.child('conv', new Conv2d(inC, outC, kernel, gen, { stride: o.stride ?? 1, padding: (kernel - 1) / 2, groups: o.groups ?? 1 }));
    this.bn = this.child('bn', new BatchNorm2d(outC, BN_MOMENTUM, BN_EPS));
  }
  forward(x: Tensor): Tensor {
    return this.bn.forward(this.conv.forward(x));
  }
}

/** Squeeze-and-excitation: per-channel gates from the pooled map through a SiLU bottleneck. */
class SqueezeExcite extends Module {
  readonly reduce: Conv2d;
  readonly expand: Conv2d;
  constructor(channels: number, squeezed: number, gen: Generator) {
    super();
    this.reduce = this.child('reduce', new Conv2d(channels, squeezed, 1, gen, { bias: true }));
    this.expand = this.child('expand', new Conv2d(squeezed, channels, 1, gen, { bias: true }));
  }
  forward(x: Tensor): Tensor {
    const gate = ops.sigmoid(this.expand.forward(ops.silu(this.reduce.forward(ops.adaptiveAvgPool2d(x, 1)))));
    return ops.mul(x, gate);
  }
}

class MBConv extends Module {
  readonly expandConv?: ConvBn;
  readonly depthwise: ConvBn;
  readonly se: SqueezeExcite;
  readonly project: ConvBn;
  readonly residual: boolean;
  readonly prefix: string;

  constructor(spec: MBConvSpec, gen: Generator) {
    super();
    const { inC, outC, kernel, stride } = spec;
    this.prefix = spec.prefix;
    const hidden = roundChannels(inC, spec.expand);
    if (hidden !== inC) this.expandConv = this.child('expandConv', new ConvBn(inC, hidden, 1, gen));
    this.depthwise = this.child('depthwise', new ConvBn(hidden, hidden, kernel, gen, { stride, groups: hidden }));
    // Squeezed width from the block's input channels, as the reference (se_ratio 0.25).
    this.se = this.child('se', new SqueezeExcite(hidden, Math.max(1, Math.floor(inC / 4)), gen));
    this.project = this.child('project', new ConvBn(hidden, outC, 1, gen));
    this.residual = stride === 1 && inC === outC;
  }

  forward(x: Tensor, slots: DropoutSlots): Tensor {
    const p = this.prefix;
    const t = this.training;
    let h = x;
    if (this.expandConv) h = ops.silu(slots.apply(`${p}.expand.bn`, this.expandConv.forward(h), t));
    h = ops.silu(slots.apply(`${p}.depthwise.bn`, this.depthwise.forward(h), t));
    h = this.se.forward(h);
    const branch = slots.apply(`${p}.project.bn`, this.project.forward(h), t);
    if (!this.residual) return branch;
    // A tile with `residual: true` at expand.bn or depthwise.bn also masks the
    // shortcut's input (x), with a draw of its own; project.bn's reaches the
    // shortcut where it enters the sum (`.skip`).
    let skipIn = x;
    for (const name of [`${p}.expand.bn`, `${p}.depthwise.bn`]) if (slots.masksSkipPath(name, t)) skipIn = slots.apply(name, skipIn, t);
    return slots.applyAdd(`${p}.skip`, skipIn, branch, t);
  }
}

/** The slots of one MBConv block (expand is absent at expansion ratio 1; the skip only where the block keeps its shape). */
function mbconvSlots(prefix: string, inC: number, outC: number, expand: number, stride: number): Omit<SlotInfo, 'depth'>[] {
  const hidden = roundChannels(inC, expand);
  const out: Omit<SlotInfo, 'depth'>[] = [];
  if (hidden !== inC) out.push({ name: `${prefix}.expand.bn`, kind: 'conv', channels: hidden });
  out.push({ name: `${prefix}.depthwise.bn`, kind: 'conv', channels: hidden });
  out.push({ name: `${prefix}.project.bn`, kind: 'conv', channels: outC });
  if (stride === 1 && inC === outC) out.push({ name: `${prefix}.skip`, kind: 'skip', channels: outC });
  return out;
}

/** The dropout slots of efficientnet-bN in forward order, from the architecture alone (no weights). */
export function efficientNetSlots(name: string): Omit<SlotInfo, 'depth'>[] {
  const { width, depth } = efficientNetVariant(name);
  const stemC = roundChannels(B0_STAGES[0][3], width);
  const infos: Omit<SlotInfo, 'depth'>[] = [{ name: 'stem.bn', kind: 'conv', channels: stemC }];
  let inC = stemC;
  B0_STAGES.forEach(([expand, , stride, , out, layers], s) => {
    const outC = roundChannels(out, width);
    const count = roundLayers(layers, depth);
    for (let b = 0; b < count; b++) {
      infos.push(...mbconvSlots(`stage${s + 1}.block${b + 1}`, inC, outC, expand, b === 0 ? stride : 1));
      inC = outC;
    }
  });
  const headC = roundChannels(B0_HEAD, width);
  infos.push({ name: 'head.bn', kind: 'conv', channels: headC });
  infos.push({ name: 'classifier', kind: 'conv', channels: headC });
  return infos;
}

export class EfficientNet extends Module implements SlottedModel {
  readonly variant: EfficientNetVariant;
  readonly stem: ConvBn;
  readonly blocks: MBConv[] = [];
  readonly head: ConvBn;
  readonly fc: Linear;
  readonly slots: DropoutSlots;

  constructor(readonly config: EfficientNetConfig, gen: Generator) {
    super();
    this.variant = efficientNetVariant(config.name);
    const { width, depth } = this.variant;
    const stemC = roundChannels(B0_STAGES[0][3], width);
    this.stem = this.child('stem', new ConvBn(config.inChannels, stemC, 3, gen, { stride: 2 }));
    let inC = stemC;
    B0_STAGES.forEach(([expand, kernel, stride, , out, layers], s) => {
      const outC = roundChannels(out, width);
      const count = roundLayers(layers, depth);
      for (let b = 0; b < count; b++) {
        const prefix = `stage${s + 1}.block${b + 1}`;
        const block = this.child(prefix.replace('.', '_'), new MBConv({ inC, outC, expand, kernel, stride: b === 0 ? stride : 1, prefix }, gen));
        this.blocks.push(block);
        inC = outC;
      }
    });
    const headC = roundChannels(B0_HEAD, width);
    this.head = this.child('head', new ConvBn(inC, headC, 1, gen));
    // PyTorch's default Linear init, U(±1/sqrt(features)), with a zero bias.
    // Not the reference's U(±1/sqrt(classes)): that is scaled for 1000
    // classes; with the 4-10 classes of search tasks it starts from logits of
    // several units (initial loss 6.8 instead of ln 4 = 1.39 on 4 classes).
    this.fc = this.child('fc', new Linear(headC, config.numClasses, gen));
    noGrad(() => ops.fillInto(this.fc.bias as Tensor, 0));
    this.slots = new DropoutSlots(efficientNetSlots(config.name));
  }

  /** x: (N, C, H, W) float32 → logits (N, classes). Any size; the published resolution is efficientNetResolution(name). */
  forward(x: Tensor): Tensor {
    let h = tidy(() => ops.silu(this.slots.apply('stem.bn', this.stem.forward(x), this.training)));
    // A scope per block frees its intermediates as soon as it is done (autograd keeps what backward needs).
    for (const b of this.blocks) {
      const next = tidy(() => b.forward(h, this.slots));
      h.dispose();
      h = next;
    }
    const logits = tidy(() => {
      const features = ops.silu(this.slots.apply('head.bn', this.head.forward(h), this.training));
      const pooled = this.slots.apply('classifier', ops.adaptiveAvgPool2d(features, 1), this.training);
      return this.fc.forward(ops.flatten(pooled, 1));
    });
    h.dispose();
    return logits;
  }
}
