// Pre-LN causal Transformer language model, `tlm-L-D`: L layers of width D,
// D/32 heads, FFN 4D, GELU, input and output embeddings tied.
// Dropout slots (docs/architecture.md §4, the Transformer space's sublayers): the
// embedding output, and per layer the query, key and value projections, the
// attention output, the FFN hidden activation and the FFN output.
import { Module, ops, tensor, tidy, type Generator, type Tensor } from '../engine/index.js';
import { Embedding, LayerNorm, Linear } from './layers.js';
import { tlmConfigProblem } from './names.js';
import { DropoutSlots, type SlotInfo, type SlottedModel } from './slots.js';

export const TRANSFORMER_SUBLAYERS = ['query', 'key', 'value', 'attention-output', 'ffn-hidden', 'ffn-output'] as const;

export interface TlmConfig {
  layers: number;
  dim: number;
  vocabSize: number;
  maxLen: number;
  positions: 'learned' | 'sinusoidal';
}

function sinusoidalTable(maxLen: number, dim: number): Float32Array {
  const t = new Float32Array(maxLen * dim);
  for (let p = 0; p < maxLen; p++) {
    for (let i = 0; i < dim; i += 2) {
      const freq = Math.pow(10000, -i / dim);
      t[p * dim + i] = Math.sin(p * freq);
      if (i + 1 < dim) t[p * dim + i + 1] = Math.cos(p * freq);
    }
  }
  return t;
}

class Layer extends Module {
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
    readonly prefix: string,
  ) {
    super();
    this.ln1 = this.child('ln1', new LayerNorm(dim));
    // One fused projection for q, k, v (as PyTorch's MultiheadAttention), split after.
    this.qkv = this.child('qkv', new Linear(dim, 3 * dim, gen, { std: 0.02 }));
    // GPT-2's scaled init of the residual projections keeps the residual stream's variance stable with depth.
    const residStd = 0.02 / Math.sqrt(2 * layers);
    this.proj = this.child('proj', new Linear(dim, dim, gen, { std: residStd }));
    this.ln2 = this.child('ln2', new LayerNorm(dim));
    this.fc1 = this.child('fc1', new Linear(dim, 4 * dim, gen, { std: 0.02 }));
    this.fc2 = this.child('fc2', new Linear(4 * dim, dim, gen, { std: residStd }));
  }

  forward(x: Tensor, causalMask: Tensor, slots: DropoutSlots): Tensor {
    const [n, t, d] = x.shape;
    const hd = d / this.heads;
    const p = this.prefix;
    const tr = this.training;
    const qkv = this.qkv.forward(this.ln1.forward(x));
    const heads = (z: Tensor): Tensor => ops.transpose(ops.reshape(z, [n, t, this.heads, hd]), 1, 2); // (N, H, T, hd)
    const q = heads(slots.apply(`${p}.query`, ops.slice(qkv, 2, 0, d), tr));
    const k = heads(slots.apply(`${p}.key`, ops.slice(qkv, 2, d, 2 * d), tr));
    const v = heads(slots.apply(`${p}.value`, ops.slice(qkv, 2, 2 * d, 3 * d), tr));
    const scores = ops.add(ops.mul(ops.matmul(q, ops.transpose(k, 2, 3)), 1 / Math.sqrt(hd)), causalMask);
    const att = ops.matmul(ops.softmax(scores, -1), v); // (N, H, T, hd)
    const merged = ops.reshape(ops.transpose(att, 1, 2), [n, t, d]);
    const a = slots.apply(`${p}.attention-output`, this.proj.forward(merged), tr);
    const x1 = ops.add(x, a);
    const hidden = slots.apply(`${p}.ffn-hidden`, ops.gelu(this.fc1.forward(this.ln2.forward(x1))), tr);
    const f = slots.apply(`${p}.ffn-output`, this.fc2.forward(hidden), tr);
    return ops.add(x1, f);
  }
}

export class TransformerLM extends Module implements SlottedModel {
  readonly tokens: Embedding;
  readonly positions: Tensor;
  readonly layers: Layer[] = [];
  readonly lnFinal: LayerNorm;
  readonly slots: DropoutSlots;
  private maskCache: { t: number; mask: Tensor } | null = null;

  constructor(readonly config: TlmConfig, gen: Generator) {
    super();
    const { layers, dim } = config;
    const problem = tlmConfigProblem(layers, dim);
    if (problem) throw new Error(problem);
    const heads = dim / 32;
    this.tokens = this.child('tokens', new Embedding(config.vocabSize, dim, gen));
    if (config.positions === 'learned') {
      const n = ops.randn([config.maxLen, dim], gen);
      this.positions = this.param('positions', ops.mul(n, 0.01));
      n.dispose();
    } else {
      this.positions = this.buffer('positions', tensor(sinusoidalTable(config.maxLen, dim), [config.maxLen, dim]));
    }
    const infos: Omit<SlotInfo, 'depth'>[] = [{ name: 'embedding', kind: 'sequence', sublayer: 'embedding', channels: dim }];
    for (let i = 0; i < layers; i++) {
      this.layers.push(this.child(`layer${i}`, new Layer(dim, heads, layers, gen, `layer${i}`)));
      for (const s of TRANSFORMER_SUBLAYERS) infos.push({ name: `layer${i}.${s}`, kind: 'sequence', sublayer: s, channels: s === 'ffn-hidden' ? 4 * dim : dim });
    }
    this.lnFinal = this.child('lnFinal', new LayerNorm(dim));
    this.slots = new DropoutSlots(infos);
  }

  private causalMask(t: number): Tensor {
    if (this.maskCache?.t !== t) {
      this.maskCache?.mask.dispose();
      const m = new Float32Array(t * t);
      for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = -Infinity;
      this.maskCache = { t, mask: tensor(m, [t, t]).keep() };
    }
    return this.maskCache.mask;
  }

  /** tokens: (N, T) int64 → logits (N, T, vocab). */
  forward(tokens: Tensor): Tensor {
    const t = tokens.shape[1];
    if (t > this.config.maxLen) throw new Error(`TransformerLM: sequence length ${t} exceeds maxLen ${this.config.maxLen}`);
    const pos = ops.slice(this.positions, 0, 0, t);
    let x = this.slots.apply('embedding', ops.add(this.tokens.forward(tokens), pos), this.training);
    const mask = this.causalMask(t);
    for (const layer of this.layers) {
      // Per-layer scope: intermediates are released as soon as the layer is done (see wrn.ts).
      const next = tidy(() => layer.forward(x, mask, this.slots));
      x.dispose();
      x = next;
    }
    // Tied output embedding: logits = h · E^T.
    return ops.linear(this.lnFinal.forward(x), this.tokens.weight);
  }

  override dispose(): void {
    this.maskCache?.mask.dispose();
    super.dispose();
  }
}
