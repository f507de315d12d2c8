// Named dropout slots: the places in a child network where a dropout pattern
// may act. A model declares its slots once; what happens at each slot is set
// from outside (a SlotDropout), so the pattern language plugs in without the
// models knowing about it. By default every slot is the identity.
import { ops, type Generator, type Tensor } from '../engine/index.js';

/**
 * conv: an (N, C, H, W) batch-norm output; skip: a residual block's shortcut
 * (N, C, H, W); sequence: an (N, T, C) Transformer hidden state.
 */
export type SlotKind = 'conv' | 'skip' | 'sequence';

export interface SlotInfo {
  /** Dotted name, e.g. `stage2.block1.bn2`, `stage2.block1.skip`, `layer0.query`. */
  name: string;
  kind: SlotKind;
  /** Relative depth in [0, 1] (first slot 0, last 1), for patterns that address slots by depth. */
  depth: number;
  /** Transformer sublayer name for sequence slots (`embedding`, `query`, ...). */
  sublayer?: string;
  /** Channels (conv/skip) or width (sequence) of the tensor the slot sees. */
  channels: number;
}

/** Per-step information a dropout needs: its randomness and the training progress (0..1, for schedules). */
export interface DropoutContext {
  generator: Generator;
  progress: number;
}

/** What acts at a slot during training. Never called at inference. */
export interface SlotDropout {
  /** One-line description for logs (e.g. `dropout(rate=0.1)`). */
  readonly description: string;
  apply(x: Tensor, ctx: DropoutContext, slot: SlotInfo): Tensor;
  /**
   * relu(apply(x)) for a slot the network follows with a ReLU, when the
   * dropout can do both in one pass (optional; the mask engine fuses them).
   */
  applyRelu?(x: Tensor, ctx: DropoutContext, slot: SlotInfo): Tensor;
  /** base + apply(x) for a residual slot, when the dropout can do both in one pass (optional). */
  applyAdd?(x: Tensor, base: Tensor, ctx: DropoutContext, slot: SlotInfo): Tensor;
  /**
   * The tile space's `residual` token: at a conv slot that is not its block's
   * last, the dropout also acts, with a draw of its own, on the block's skip
   * path where it leaves the block input (models ask DropoutSlots.masksSkipPath).
   * A block's last conv slot reaches the skip path through the `X.skip` slot
   * instead (resolution rule 5), so models never ask there.
   */
  readonly residual?: boolean;
}

export class DropoutSlots {
  private readonly byName = new Map<string, SlotInfo>();
  private readonly assigned = new Map<string, SlotDropout>();
  private context: DropoutContext | null = null;

  constructor(infos: readonly Omit<SlotInfo, 'depth'>[]) {
    const n = infos.length;
    infos.forEach((s, i) => {
      if (this.byName.has(s.name)) throw new Error(`duplicate dropout slot '${s.name}'`);
      this.byName.set(s.name, { ...s, depth: n > 1 ? i / (n - 1) : 0 });
    });
  }

  /** Every slot in forward order. */
  list(): SlotInfo[] {
    return [...this.byName.values()];
  }
  get(name: string): SlotInfo {
    const s = this.byName.get(name);
    if (!s) throw new Error(`unknown dropout slot '${name}'; this model has: ${[...this.byName.keys()].join(', ')}`);
    return s;
  }
  /** Sets (or with null clears) what acts at one slot. */
  assign(name: string, dropout: SlotDropout | null): void {
    this.get(name);
    if (dropout) this.assigned.set(name, dropout);
    else this.assigned.delete(name);
  }
  /** Assigns every slot from a function of its description (null = identity). */
  assignAll(choose: (slot: SlotInfo) => SlotDropout | null): void {
    for (const s of this.byName.values()) this.assign(s.name, choose(s));
  }
  assignment(name: string): SlotDropout | null {
    return this.assigned.get(name) ?? null;
  }
  /** Randomness and progress for the coming training steps. */
  setContext(ctx: DropoutContext | null): void {
    this.context = ctx;
  }
  /** Called by models at each slot: identity at inference or when nothing is assigned. */
  apply(name: string, x: Tensor, training: boolean): Tensor {
    if (!training) return x;
    const d = this.assigned.get(name);
    if (!d) return x;
    return d.apply(x, this.contextFor(name), this.get(name));
  }
  /**
   * relu(apply(name, x)) for slots a ReLU follows: models call this there so
   * that a dropout able to fuse the two (SlotDropout.applyRelu) can.
   */
  applyRelu(name: string, x: Tensor, training: boolean): Tensor {
    const d = training ? this.assigned.get(name) : undefined;
    if (!d?.applyRelu) return ops.relu(this.apply(name, x, training));
    return d.applyRelu(x, this.contextFor(name), this.get(name));
  }
  /**
   * base + apply(name, x) for a skip slot whose output enters a residual sum,
   * so that a dropout able to fuse the two (SlotDropout.applyAdd) can.
   */
  applyAdd(name: string, x: Tensor, base: Tensor, training: boolean): Tensor {
    const d = training ? this.assigned.get(name) : undefined;
    if (!d?.applyAdd) return ops.add(base, this.apply(name, x, training));
    return d.applyAdd(x, base, this.contextFor(name), this.get(name));
  }
  /**
   * Whether the dropout at conv slot `name` also masks its block's skip path
   * (SlotDropout.residual): the model then applies the slot once more, with
   * apply() or applyRelu(), to the shortcut's input. False at inference.
   */
  masksSkipPath(name: string, training: boolean): boolean {
    return training && this.assigned.get(name)?.residual === true;
  }
  /** The step context a slot with a dropout needs; refused before setContext(). */
  private contextFor(name: string): DropoutContext {
    if (!this.context) throw new Error(`dropout slot '${name}' has a dropout but no context: call slots.setContext() before training`);
    return this.context;
  }
}

/** A child network with named dropout slots. */
export interface SlottedModel {
  readonly slots: DropoutSlots;
}
