// The pre-LN Transformer block, shared by the controller's policy network
// (src/controller/policy.ts) and the tlm-L-D children (src/models/tlm.ts):
// causal self-attention with one fused q/k/v projection, then a GELU FFN of
// width 4·dim, each with a residual; GPT-2's initialisation (std 0.02, the
// residual projections scaled by 1/sqrt(2·layers) so the residual stream's
// variance stays stable with depth).
//
// A child's dropout slots sit on the block's sublayers: `tap(sublayer, x)`
// sees each sublayer's output (the identity by default, as in the controller).
import { Module, ops, type Generator, type Tensor } from '../engine/index.js';
import { LayerNorm, Linear } from './layers.js';

/** The sublayer outputs a tap sees, in forward order. */
export const BLOCK_SUBLAYERS = ['query', 'key', 'value', 'attention-output', 'ffn-hidden', 'ffn-output'] as const;
export type BlockSublayer = (typeof BLOCK_SUBLAYERS)[number];

/** What acts on a sublayer's output (a child's dropout slot); the identity when absent. */
export type SublayerTap = (sublayer: BlockSublayer, x: Tensor) => Tensor;

/** Keys and values of the positions seen so far, (N, H, T, hd) each (incremental decoding). */
export interface KvCache {
  k: Tensor;
  v: Tensor;
}

const identity: SublayerTap = (_s, x) => x;

export class PreLnBlock extends Module {
  readonly ln1: LayerNorm;
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly ln2: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(
    readonly dim: number,
    readonly heads: number,
    layers: number,
    gen: Generator,
  ) {
    super();
    this.ln1 = this.child('ln1', new LayerNorm(dim));
    // One fused projection for q, k, v (as PyTorch's MultiheadAttention), split after.
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, gen, { std: 0.02 }));
    const residStd = 0.02 / Math.sqrt(2 * layers);
    this.proj = this.child('proj', new Linear(dim, dim, gen, { std: residStd }));
    this.ln2 = this.child('ln2', new LayerNorm(dim));
    this.fc1 = this.child('fc1', new Linear(dim, 4 * dim, gen, { std: 0.02 }));
    this.fc2 = this.child('fc2', new Linear(4 * dim, dim, gen, { std: residStd }));
  }

  /** (N, T, D) -> q, k, v each (N, H, T, hd), each tapped before the split into heads. */
  private split(x: Tensor, tap: SublayerTap): [Tensor, Tensor, Tensor] {
    const [n, t] = x.shape;
    const d = this.dim;
    const qkv = this.qkv.forward(this.ln1.forward(x));
    const heads = (z: Tensor): Tensor => ops.transpose(ops.reshape(z, [n, t, this.heads, d / this.heads]), 1, 2);
    return [heads(tap('query', ops.slice(qkv, 2, 0, d))), heads(tap('key', ops.slice(qkv, 2, d, 2 * d))), heads(tap('value', ops.slice(qkv, 2, 2 * d, 3 * d)))];
  }

  /** Attention of q over k, v (plus an additive mask), output projection, residual and FFN. */
  private finish(x: Tensor, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, tap: SublayerTap): Tensor {
    const [n, t, d] = x.shape;
    let scores = ops.mul(ops.matmul(q, ops.transpose(k, 2, 3)), 1 / Math.sqrt(d / this.heads));
    if (mask) scores = ops.add(scores, mask);
    const att = ops.matmul(ops.softmax(scores, -1), v); // (N, H, T, hd)
    const merged = ops.reshape(ops.transpose(att, 1, 2), [n, t, d]);
    const x1 = ops.add(x, tap('attention-output', this.proj.forward(merged)));
    const hidden = tap('ffn-hidden', ops.gelu(this.fc1.forward(this.ln2.forward(x1))));
    return ops.add(x1, tap('ffn-output', this.fc2.forward(hidden)));
  }

  /** x (N, T, D), mask (T, T) additive causal mask. */
  forward(x: Tensor, mask: Tensor, tap: SublayerTap = identity): Tensor {
    const [q, k, v] = this.split(x, tap);
    return this.finish(x, q, k, v, mask, tap);
  }

  /** One new position x (N, 1, D) attending to the cached earlier positions and itself. */
  step(x: Tensor, cache: KvCache | null, tap: SublayerTap = identity): { y: Tensor; cache: KvCache } {
    const [q, kNew, vNew] = this.split(x, tap);
    const k = cache ? ops.cat([cache.k, kNew], 2) : kNew;
    const v = cache ? ops.cat([cache.v, vNew], 2) : vNew;
    return { y: this.finish(x, q, k, v, null, tap), cache: { k, v } };
  }
}
