// Pre-activation Wide-ResNet (Zagoruyko & Komodakis 2016), `wrn-D-K`:
// depth D = 6n + 4 (n blocks per stage), widths 16K, 32K, 64K.
// Dropout slots: the output of every batch norm (the paper applies patterns
// there, having found other placements unstable) and each block's skip path
// (the `residual` token of the ConvNet search space: bn2's masks the skip
// where it enters the sum, through `.skip`; bn1's masks the shortcut's input).
// `final.bn` belongs to no block: it has no skip path and no residual token.
import { Module, noGrad, ops, tidy, type Generator, type Tensor } from '../engine/index.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import { wrnConfigProblem } from './names.js';
import { DropoutSlots, type SlotInfo, type SlottedModel } from './slots.js';

export interface WrnConfig {
  depth: number;
  widen: number;
  inChannels: number;
  numClasses: number;
}

class Block extends Module {
  readonly bn1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly shortcut?: Conv2d;
  constructor(
    inC: number,
    outC: number,
    readonly stride: number,
    gen: Generator,
    readonly prefix: string,
  ) {
    super();
    this.bn1 = this.child('bn1', new BatchNorm2d(inC));
    this.conv1 = this.child('conv1', new Conv2d(inC, outC, 3, gen, { stride, padding: 1 }));
    this.bn2 = this.child('bn2', new BatchNorm2d(outC));
    this.conv2 = this.child('conv2', new Conv2d(outC, outC, 3, gen, { padding: 1 }));
    if (inC !== outC || stride !== 1) this.shortcut = this.child('shortcut', new Conv2d(inC, outC, 1, gen, { stride }));
  }
  forward(x: Tensor, slots: DropoutSlots): Tensor {
    const p = this.prefix;
    const a1 = this.bn1.forward(x);
    const o1 = slots.applyRelu(`${p}.bn1`, a1, this.training);
    // As in the reference WRN code, a projection shortcut starts from the
    // pre-activated input; an identity shortcut from the raw input. The
    // shortcut reads the *unmasked* pre-activation unless bn1's tile says
    // `residual: true`; then bn1's pattern masks the shortcut's input (the
    // pre-activation, or x itself) with a draw of its own. bn2's `residual`
    // masks the shortcut where it enters the sum (the `.skip` slot).
    const t = this.training;
    const masked = t && slots.assignment(`${p}.bn1`) !== null;
    const skipMasked = slots.masksSkipPath(`${p}.bn1`, t);
    const skipIn = this.shortcut
      ? this.shortcut.forward(skipMasked ? slots.applyRelu(`${p}.bn1`, a1, t) : masked ? ops.relu(a1) : o1)
      : skipMasked
        ? slots.apply(`${p}.bn1`, x, t)
        : x;
    const h = this.conv1.forward(o1);
    const o2 = slots.applyRelu(`${p}.bn2`, this.bn2.forward(h), this.training);
    const f = this.conv2.forward(o2);
    return slots.applyAdd(`${p}.skip`, skipIn, f, this.training);
  }
}

/** The dropout slots of wrn-D-K in forward order, from the architecture alone (no weights). */
export function wrnSlots(depth: number, widen: number): Omit<SlotInfo, 'depth'>[] {
  const n = (depth - 4) / 6;
  const widths = [16, 16 * widen, 32 * widen, 64 * widen];
  const infos: Omit<SlotInfo, 'depth'>[] = [];
  let inC = widths[0];
  for (let s = 0; s < 3; s++) {
    for (let b = 0; b < n; b++) {
      const outC = widths[s + 1];
      const prefix = `stage${s + 1}.block${b + 1}`;
      infos.push({ name: `${prefix}.bn1`, kind: 'conv', channels: inC });
      infos.push({ name: `${prefix}.bn2`, kind: 'conv', channels: outC });
      infos.push({ name: `${prefix}.skip`, kind: 'skip', channels: outC });
      inC = outC;
    }
  }
  infos.push({ name: 'final.bn', kind: 'conv', channels: inC });
  return infos;
}

export class WideResNet extends Module implements SlottedModel {
  readonly stem: Conv2d;
  readonly blocks: Block[] = [];
  readonly bnFinal: BatchNorm2d;
  readonly fc: Linear;
  readonly slots: DropoutSlots;

  constructor(readonly config: WrnConfig, gen: Generator) {
    super();
    const { depth, widen } = config;
    const problem = wrnConfigProblem(depth, widen);
    if (problem) throw new Error(problem);
    const n = (depth - 4) / 6;
    const widths = [16, 16 * widen, 32 * widen, 64 * widen];
    this.stem = this.child('stem', new Conv2d(config.inChannels, widths[0], 3, gen, { padding: 1 }));
    let inC = widths[0];
    for (let s = 0; s < 3; s++) {
      for (let b = 0; b < n; b++) {
        const outC = widths[s + 1];
        const prefix = `stage${s + 1}.block${b + 1}`;
        const block = this.child(`${prefix.replace('.', '_')}`, new Block(inC, outC, b === 0 && s > 0 ? 2 : 1, gen, prefix));
        this.blocks.push(block);
        inC = outC;
      }
    }
    this.bnFinal = this.child('bnFinal', new BatchNorm2d(inC));
    this.fc = this.child('fc', new Linear(inC, config.numClasses, gen));
    noGrad(() => ops.fillInto(this.fc.bias as Tensor, 0));
    this.slots = new DropoutSlots(wrnSlots(depth, widen));
  }

  /** x: (N, C, H, W) float32 → logits (N, classes). */
  forward(x: Tensor): Tensor {
    let h = this.stem.forward(x);
    // A scope per block frees each intermediate's handle as soon as the block
    // is done (autograd keeps what backward needs), as Python's refcounting
    // does: memory is reused while still in cache instead of piling up.
    for (const b of this.blocks) {
      const next = tidy(() => b.forward(h, this.slots));
      h.dispose();
      h = next;
    }
    h = this.slots.applyRelu('final.bn', this.bnFinal.forward(h), this.training);
    h = ops.flatten(ops.adaptiveAvgPool2d(h, 1), 1);
    return this.fc.forward(h);
  }
}
