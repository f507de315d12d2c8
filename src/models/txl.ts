// Transformer-XL language model, `txl-L-D` (Dai et al., 2019): the paper's
// language-model child. L layers of width D with the same size rules as
// tlm-L-D (D/32 heads of width 32, FFN 4D) so that a pattern found on one
// transfers to the other, slot for slot.
//
// What follows the original (the authors' PyTorch code, `RelPartialLearnable*`):
// - post-LN layers: LN(x + attention), then LN(x1 + FFN); ReLU in the FFN;
// - relative positional attention: score(i, j) = (q_i + u)·k_j + (q_i + v)·W_r R_{i-j},
//   with sinusoidal R ([sin | cos] halves, as the original), W_r one bias-free
//   projection per layer, u and v one pair shared by all layers (the original's
//   default, untie_r = false), no absolute positions anywhere;
// - the "relative shift" turns the (query, distance) products into (query, key)
//   scores with pad + reshape + slice (relShift below);
// - segment-level recurrence: every layer's input over the last `memLen`
//   positions (default: the segment length) is kept, detached, and put in front
//   of the next segment's keys and values; the model holds it between forward()
//   calls, and resetState() (or a new batch size) starts afresh;
// - bias-free q/k/v/r/output projections; word embeddings scaled by sqrt(D);
//   tied input/output embeddings (tlm's choice too) with the original's output
//   bias.
// Dropout slots (docs/architecture.md §4): exactly tlm-L-D's names, kinds and sublayers.
// `query` sees the current segment (N, T, D); `key` and `value` see the keys
// and values the attention actually reads, memory included (N, M + T, D), so a
// span on them hides whole earlier tokens from every query. The paper and
// docs/architecture.md name no slot on the positional path, so there is none.
import { Module, noGrad, ops, tensor, tidy, type Generator, type Tensor } from '../engine/index.js';
import { Embedding, LayerNorm, Linear } from '../nn/layers.js';
import { TXL_HEAD_DIM, txlConfigProblem } from './names.js';
import { DropoutSlots, type SlottedModel } from './slots.js';
import { transformerSlots } from './tlm.js';

export interface TxlConfig {
  layers: number;
  dim: number;
  vocabSize: number;
  /** Positions of each layer's input kept as memory for the next segment (0 = none). */
  memLen: number;
}

/**
 * The relative shift: x (..., T, K) holds at [i, c] a query's product with the
 * encoding of distance K - 1 - c (R's rows run from the farthest distance down
 * to 0); the result holds at [i, j] the product for distance (K - T + i) - j,
 * i.e. out[i, j] = x[i, j + T - 1 - i], wherever j <= K - T + i (key j not in
 * query i's future). Other entries are leftovers the causal mask hides. Done
 * as in the original: a zero column in front, the (T, K + 1) block read as
 * (K + 1, T), its first row dropped, and the rest read as (T, K).
 */
export function relShift(x: Tensor): Tensor {
  const shape = x.shape;
  const lead = shape.slice(0, -2);
  const [t, k] = shape.slice(-2);
  const padded = ops.pad(x, [1, 0]);
  const folded = ops.reshape(padded, [...lead, k + 1, t]);
  return ops.reshape(ops.slice(folded, lead.length, 1, k + 1), [...lead, t, k]);
}

/** Sinusoidal encodings (K, D) of the distances K-1, ..., 0: sin on the first half, cos on the second (as the original). */
export function relativePositions(k: number, dim: number): Tensor {
  const inv = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) inv[i] = 1 / Math.pow(10000, (2 * i) / dim);
  const angles = ops.mul(ops.unsqueeze(ops.arange(k - 1, -1, -1), 1), ops.unsqueeze(tensor(inv, [dim / 2]), 0));
  return ops.cat([ops.sin(angles), ops.cos(angles)], 1);
}

/**
 * Relative attention scores before scaling and masking: q (N, H, T, hd) for the
 * current segment, k (N, H, K, hd) for memory + segment, rk (K, H, hd) the
 * projected encodings W_r R (rows: distances K-1..0), u and v (H, hd).
 * Returns (N, H, T, K): (q_i + u)·k_j + (q_i + v)·rk[distance of i to j].
 */
export function relativeScores(q: Tensor, k: Tensor, rk: Tensor, u: Tensor, v: Tensor): Tensor {
  const [heads, hd] = u.shape;
  const content = ops.matmul(ops.add(q, ops.reshape(u, [heads, 1, hd])), ops.transpose(k, 2, 3));
  const byDistance = ops.matmul(ops.add(q, ops.reshape(v, [heads, 1, hd])), ops.permute(rk, [1, 2, 0])); // (N, H, T, K)
  return ops.add(content, relShift(byDistance));
}

/** (T, K) additive mask: query i (at position K - T + i) sees keys j <= K - T + i. */
function causalMask(t: number, k: number): Tensor {
  return ops.triu(ops.full([t, k], -Infinity), k - t + 1);
}

class XlLayer extends Module {
  readonly query: Linear;
  readonly keyValue: Linear;
  readonly positional: Linear;
  readonly out: Linear;
  readonly ln1: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly ln2: LayerNorm;
  constructor(
    readonly dim: number,
    readonly heads: number,
    gen: Generator,
    readonly prefix: string,
  ) {
    super();
    // N(0, 0.02) everywhere, the original's init_std; with post-LN there is no
    // residual-stream growth to counter, so no GPT-2 style depth scaling.
    const init = { std: 0.02 };
    this.query = this.child('query', new Linear(dim, dim, gen, { ...init, bias: false }));
    this.keyValue = this.child('keyValue', new Linear(dim, 2 * dim, gen, { ...init, bias: false }));
    this.positional = this.child('positional', new Linear(dim, dim, gen, { ...init, bias: false }));
    this.out = this.child('out', new Linear(dim, dim, gen, { ...init, bias: false }));
    this.ln1 = this.child('ln1', new LayerNorm(dim));
    this.fc1 = this.child('fc1', new Linear(dim, 4 * dim, gen, init));
    this.fc2 = this.child('fc2', new Linear(4 * dim, dim, gen, init));
    this.ln2 = this.child('ln2', new LayerNorm(dim));
  }

  /** x (N, T, D); memory (N, M, D) or null; r (M + T, D); mask (T, M + T). */
  forward(x: Tensor, memory: Tensor | null, r: Tensor, mask: Tensor, u: Tensor, v: Tensor, slots: DropoutSlots): Tensor {
    const [n, t, d] = x.shape;
    const hd = d / this.heads;
    const p = this.prefix;
    const tr = this.training;
    const context = memory ? ops.cat([memory, x], 1) : x;
    const k = context.shape[1];
    const heads = (z: Tensor, len: number): Tensor => ops.transpose(ops.reshape(z, [n, len, this.heads, hd]), 1, 2); // (N, H, len, hd)
    const q = heads(slots.apply(`${p}.query`, this.query.forward(x), tr), t);
    const kv = this.keyValue.forward(context);
    const keys = heads(slots.apply(`${p}.key`, ops.slice(kv, 2, 0, d), tr), k);
    const values = heads(slots.apply(`${p}.value`, ops.slice(kv, 2, d, 2 * d), tr), k);
    const rk = ops.reshape(this.positional.forward(r), [k, this.heads, hd]);
    const scores = ops.add(ops.mul(relativeScores(q, keys, rk, u, v), 1 / Math.sqrt(hd)), mask);
    const att = ops.matmul(ops.softmax(scores, -1), values); // (N, H, T, hd)
    const merged = ops.reshape(ops.transpose(att, 1, 2), [n, t, d]);
    const a = slots.apply(`${p}.attention-output`, this.out.forward(merged), tr);
    const x1 = this.ln1.forward(ops.add(x, a));
    const hidden = slots.apply(`${p}.ffn-hidden`, ops.relu(this.fc1.forward(x1)), tr);
    const f = slots.apply(`${p}.ffn-output`, this.fc2.forward(hidden), tr);
    return this.ln2.forward(ops.add(x1, f));
  }
}

export class TransformerXL extends Module implements SlottedModel {
  readonly tokens: Embedding;
  /** The global content (u) and position (v) biases, (heads, headDim), shared by all layers. */
  readonly contentBias: Tensor;
  readonly positionBias: Tensor;
  readonly layers: XlLayer[] = [];
  readonly outputBias: Tensor;
  readonly slots: DropoutSlots;
  readonly heads: number;
  /** Per layer, its inputs over the last memLen positions (N, M, D): detached, kept outside scopes. */
  private memory: Tensor[] | null = null;

  constructor(readonly config: TxlConfig, gen: Generator) {
    super();
    const { layers, dim } = config;
    const problem = txlConfigProblem(layers, dim);
    if (problem) throw new Error(problem);
    if (!Number.isInteger(config.memLen) || config.memLen < 0) throw new Error(`txl-${layers}-${dim}: memLen must be a non-negative integer, got ${config.memLen}`);
    this.heads = dim / TXL_HEAD_DIM;
    this.tokens = this.child('tokens', new Embedding(config.vocabSize, dim, gen));
    const bias = (name: string): Tensor => {
      const z = ops.randn([this.heads, TXL_HEAD_DIM], gen);
      const t = this.param(name, ops.mul(z, 0.02));
      z.dispose();
      return t;
    };
    this.contentBias = bias('contentBias');
    this.positionBias = bias('positionBias');
    for (let i = 0; i < layers; i++) {
      this.layers.push(this.child(`layer${i}`, new XlLayer(dim, this.heads, gen, `layer${i}`)));
    }
    this.outputBias = this.param('outputBias', ops.zeros([config.vocabSize]));
    this.slots = new DropoutSlots(transformerSlots(layers, dim));
  }

  /** Positions currently held as memory (0 after a reset). */
  get memoryLength(): number {
    return this.memory ? this.memory[0].shape[1] : 0;
  }

  /** The memory of one layer (N, M, D), or null when empty; owned by the model (do not dispose). */
  memoryOf(layer: number): Tensor | null {
    return this.memory?.[layer] ?? null;
  }

  /** Forgets the memory: the next segment is read without earlier context. */
  resetState(): void {
    this.replaceMemory(null);
  }

  private replaceMemory(next: Tensor[] | null): void {
    for (const m of this.memory ?? []) m.dispose();
    this.memory = next;
  }

  /** The last memLen positions of [memory; x], cut off from the graph and from every scope. */
  private nextMemory(memory: Tensor | null, x: Tensor): Tensor {
    return noGrad(() =>
      tidy(() => {
        const all = memory ? ops.cat([memory, x], 1) : x;
        const len = all.shape[1];
        // contiguous() copies a partial window, so the memory does not pin the whole [memory; x] block.
        return ops.contiguous(ops.detach(ops.slice(all, 1, Math.max(0, len - this.config.memLen), len)));
      }),
    ).keep();
  }

  /** tokens: (N, T) int64 → logits (N, T, vocab); reads and then updates the memory. */
  forward(tokens: Tensor): Tensor {
    const [n, t] = tokens.shape;
    const dim = this.config.dim;
    // Memory rows continue the same rows of text; with another batch size they cannot.
    if (this.memory && this.memory[0].shape[0] !== n) this.resetState();
    const k = this.memoryLength + t;
    const r = relativePositions(k, dim);
    const mask = causalMask(t, k);
    let x = this.slots.apply('embedding', ops.mul(this.tokens.forward(tokens), Math.sqrt(dim)), this.training);
    const keepMemory = this.config.memLen > 0;
    const next: Tensor[] = [];
    try {
      this.layers.forEach((layer, i) => {
        const memory = this.memory?.[i] ?? null;
        if (keepMemory) next.push(this.nextMemory(memory, x));
        // Per-layer scope: intermediates are released as soon as the layer is done (see wrn.ts).
        const out = tidy(() => layer.forward(x, memory, r, mask, this.contentBias, this.positionBias, this.slots));
        x.dispose();
        x = out;
      });
    } catch (err) {
      for (const m of next) m.dispose();
      throw err;
    }
    this.replaceMemory(keepMemory ? next : null);
    // Tied output embedding: logits = h · E^T + b.
    return ops.linear(x, this.tokens.weight, this.outputBias);
  }

  override dispose(): void {
    this.resetState();
    super.dispose();
  }
}
