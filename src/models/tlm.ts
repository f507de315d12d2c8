// Pre-LN causal Transformer language model, `tlm-L-D`: L layers of width D,
// D/32 heads, FFN 4D, GELU, input and output embeddings tied.
// Dropout slots (docs/architecture.md §4, the Transformer space's sublayers): the
// embedding output, and per layer the query, key and value projections, the
// attention output, the FFN hidden activation and the FFN output.
import { Module, ops, tensor, tidy, type Generator, type Tensor } from '../engine/index.js';
import { Embedding, LayerNorm } from '../nn/layers.js';
import { BLOCK_SUBLAYERS, PreLnBlock } from '../nn/transformer.js';
import { tlmConfigProblem } from './names.js';
import { DropoutSlots, type SlotInfo, type SlottedModel } from './slots.js';

/** The sublayers of each layer that are dropout slots (`layerI.query`, ...): the shared block's sublayers. */
export const TRANSFORMER_SUBLAYERS = BLOCK_SUBLAYERS;

/** The dropout slots of tlm-L-D and txl-L-D in forward order (the same names, kinds and widths), from the architecture alone. */
export function transformerSlots(layers: number, dim: number): Omit<SlotInfo, 'depth'>[] {
  const infos: Omit<SlotInfo, 'depth'>[] = [{ name: 'embedding', kind: 'sequence', sublayer: 'embedding', channels: dim }];
  for (let i = 0; i < layers; i++) {
    for (const s of TRANSFORMER_SUBLAYERS) infos.push({ name: `layer${i}.${s}`, kind: 'sequence', sublayer: s, channels: s === 'ffn-hidden' ? 4 * dim : dim });
  }
  return infos;
}

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

export class TransformerLM extends Module implements SlottedModel {
  readonly tokens: Embedding;
  readonly positions: Tensor;
  readonly layers: PreLnBlock[] = [];
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
    for (let i = 0; i < layers; i++) {
      this.layers.push(this.child(`layer${i}`, new PreLnBlock(dim, heads, layers, gen)));
    }
    this.lnFinal = this.child('lnFinal', new LayerNorm(dim));
    this.slots = new DropoutSlots(transformerSlots(layers, dim));
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
    for (const [i, layer] of this.layers.entries()) {
      // Per-layer scope: intermediates are released as soon as the layer is done (see wrn.ts).
      const next = tidy(() => layer.forward(x, mask, (s, h) => this.slots.apply(`layer${i}.${s}`, h, this.training)));
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
