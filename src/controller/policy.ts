// The controller's network: a small pre-LN causal Transformer over a token
// sequence whose positions each have a token type. Input at step t =
// embedding(previous token, in its type's table; a learned start token at
// t = 0) + embedding(token type of t) + embedding(group of t). One linear head
// per distinct token type reads the final hidden state at the positions of
// that type. Two paths give the same numbers: `forward` (teacher-forced, the
// whole sequence at once, for log-probs with gradients) and `step` (one
// position at a time with a key/value cache, for sampling).
import { Module, ops, tensor, type Generator, type Tensor } from '../engine/index.js';
import { Embedding, LayerNorm, Linear } from '../nn/layers.js';
import { PreLnBlock, type KvCache } from '../nn/transformer.js';

export type { KvCache };

/** One position of the controller's token sequence. */
export interface ControllerPosition {
  /** Token type; positions of one type share an output head, a token-embedding table and a type embedding. */
  type: string;
  /** Vocabulary size of the type (equal at every position of the type). */
  vocabSize: number;
  /**
   * Group (e.g. dropout slot) index, for the group embedding. Give it on every
   * position or on none: when absent, a new group starts where a type repeats
   * within the current group (so `8 types x G groups` gives groups 0..G-1).
   */
  group?: number;
}

export type ResolvedPosition = Required<ControllerPosition>;

/** Validates positions and fills in `group` (see ControllerPosition.group). */
export function resolvePositions(positions: readonly ControllerPosition[]): ResolvedPosition[] {
  if (!Array.isArray(positions) || positions.length === 0) throw new RangeError('controller: positions must be a non-empty array');
  const vocab = new Map<string, number>();
  let withGroup = 0;
  positions.forEach((p, i) => {
    if (typeof p?.type !== 'string' || p.type === '') throw new RangeError(`controller: position ${i} has no token type`);
    if (!Number.isSafeInteger(p.vocabSize) || p.vocabSize < 1) {
      throw new RangeError(`controller: position ${i} ('${p.type}') has vocabSize ${p.vocabSize}; expected an integer >= 1`);
    }
    const v = vocab.get(p.type);
    if (v !== undefined && v !== p.vocabSize) {
      throw new RangeError(`controller: token type '${p.type}' has vocabSize ${v} and ${p.vocabSize} (position ${i}); a type shares one head`);
    }
    vocab.set(p.type, p.vocabSize);
    if (p.group !== undefined) {
      if (!Number.isSafeInteger(p.group) || p.group < 0) throw new RangeError(`controller: position ${i} has group ${p.group}; expected an integer >= 0`);
      withGroup++;
    }
  });
  if (withGroup > 0 && withGroup < positions.length) {
    throw new RangeError(`controller: ${withGroup} of ${positions.length} positions give a group; give it on all or none`);
  }
  if (withGroup > 0) return positions.map((p) => ({ type: p.type, vocabSize: p.vocabSize, group: p.group as number }));
  let group = 0;
  const seen = new Set<string>();
  return positions.map((p) => {
    if (seen.has(p.type)) {
      group++;
      seen.clear();
    }
    seen.add(p.type);
    return { type: p.type, vocabSize: p.vocabSize, group };
  });
}

/** The positions of `groups` groups of the given token types (e.g. `tokenTypes(space)` of src/patterns). */
export function positionsFor(types: readonly { name: string; vocabSize: number }[], groups: number): ControllerPosition[] {
  if (!Number.isSafeInteger(groups) || groups < 1) throw new RangeError(`controller: groups must be an integer >= 1, got ${groups}`);
  const out: ControllerPosition[] = [];
  for (let g = 0; g < groups; g++) for (const t of types) out.push({ type: t.name, vocabSize: t.vocabSize, group: g });
  return out;
}

/** The policy network; hyper-parameters of the loss live in Controller. */
export class PolicyNet extends Module {
  readonly length: number;
  /** Distinct token types in order of first appearance, with their vocabularies. */
  readonly types: { name: string; vocabSize: number }[] = [];
  /** Type index (into `types`) of each position. */
  readonly typeOf: number[];
  readonly groupOf: number[];
  /** Row of token 0 of each type in the previous-token table (row 0 is the start token). */
  readonly rowOffset: number[] = [];

  readonly tokenEmbedding: Embedding;
  readonly typeEmbedding: Embedding;
  readonly groupEmbedding: Embedding;
  readonly blocks: PreLnBlock[] = [];
  readonly lnFinal: LayerNorm;
  readonly heads: Linear[] = [];

  // Constant index tensors (kept, not part of the state dict).
  private readonly typeIdx: Tensor;
  private readonly groupIdx: Tensor;
  /** Positions of each type, int64. */
  private readonly posOfType: Tensor[] = [];
  /** Inverse of the type-major position order, to put per-type results back in sequence order. */
  private readonly unpermute: Tensor;
  private readonly mask: Tensor;

  constructor(
    positions: readonly ResolvedPosition[],
    readonly dim: number,
    readonly nHeads: number,
    layers: number,
    readonly temperature: number,
    readonly tanhClip: number,
    gen: Generator,
  ) {
    super();
    this.length = positions.length;
    const index = new Map<string, number>();
    this.typeOf = positions.map((p) => {
      let k = index.get(p.type);
      if (k === undefined) {
        k = this.types.length;
        index.set(p.type, k);
        this.types.push({ name: p.type, vocabSize: p.vocabSize });
      }
      return k;
    });
    this.groupOf = positions.map((p) => p.group);
    let rows = 1;
    for (const t of this.types) {
      this.rowOffset.push(rows);
      rows += t.vocabSize;
    }
    this.tokenEmbedding = this.child('tokenEmbedding', new Embedding(rows, dim, gen));
    this.typeEmbedding = this.child('typeEmbedding', new Embedding(this.types.length, dim, gen));
    this.groupEmbedding = this.child('groupEmbedding', new Embedding(Math.max(...this.groupOf) + 1, dim, gen));
    for (let i = 0; i < layers; i++) this.blocks.push(this.child(`block${i}`, new PreLnBlock(dim, nHeads, layers, gen)));
    this.lnFinal = this.child('lnFinal', new LayerNorm(dim));
    // Zero heads: the initial policy is exactly uniform, i.e. starts as random search.
    this.types.forEach((t, k) => this.heads.push(this.child(`head${k}`, new Linear(dim, t.vocabSize, gen, { std: 0 }))));

    const i64 = (xs: number[]): Tensor => tensor(xs, [xs.length], 'int64', 'cpu').keep();
    this.typeIdx = i64(this.typeOf);
    this.groupIdx = i64(this.groupOf);
    const order: number[] = [];
    this.types.forEach((_, k) => {
      const pos = this.typeOf.flatMap((tk, i) => (tk === k ? [i] : []));
      this.posOfType.push(i64(pos));
      order.push(...pos);
    });
    const inv = new Array<number>(order.length);
    order.forEach((p, j) => (inv[p] = j));
    this.unpermute = i64(inv);
    const t = this.length;
    const m = new Float32Array(t * t);
    for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = -Infinity;
    this.mask = tensor(m, [t, t], 'float32', 'cpu').keep();
  }

  /** Row in the token table of the token fed at position t (the previous position's token, or the start token). */
  inputRow(t: number, previousToken: number): number {
    return t === 0 ? 0 : this.rowOffset[this.typeOf[t - 1]] + previousToken;
  }

  /** Raw logits -> the logits actually sampled from: C·tanh(raw / T), or raw / T when C = 0. */
  transform(raw: Tensor): Tensor {
    const z = this.temperature === 1 ? raw : ops.div(raw, this.temperature);
    return this.tanhClip > 0 ? ops.mul(ops.tanh(z), this.tanhClip) : z;
  }

  /** Type + group embedding of every position, (T, D). */
  context(): Tensor {
    return ops.add(this.typeEmbedding.forward(this.typeIdx), this.groupEmbedding.forward(this.groupIdx));
  }

  /** Final hidden states (N, T, D), teacher-forced. tokens: (N, T) int64 token indices (validated by the caller). */
  hidden(tokens: readonly (readonly number[])[]): Tensor {
    const n = tokens.length;
    const t = this.length;
    const rows = new Array<number>(n * t);
    for (let b = 0; b < n; b++) for (let i = 0; i < t; i++) rows[b * t + i] = this.inputRow(i, i > 0 ? tokens[b][i - 1] : 0);
    let x = ops.add(this.tokenEmbedding.forward(tensor(rows, [n, t], 'int64', 'cpu')), this.context());
    for (const block of this.blocks) x = block.forward(x, this.mask);
    return this.lnFinal.forward(x);
  }

  /** Raw (untransformed) head logits per type: (N, count of type k, V_k), positions in order. */
  rawLogitsByType(h: Tensor): Tensor[] {
    return this.heads.map((head, k) => head.forward(ops.indexSelect(h, 1, this.posOfType[k])));
  }

  /**
   * Teacher-forced per-step log-probs of the given tokens and per-step
   * entropies, both (N, T) in sequence order, with gradients.
   */
  stepStats(tokens: readonly (readonly number[])[]): { logProbs: Tensor; entropy: Tensor } {
    const n = tokens.length;
    const h = this.hidden(tokens);
    const tok = tensor(tokens.flat(), [n, this.length], 'int64', 'cpu');
    const lps: Tensor[] = [];
    const ents: Tensor[] = [];
    this.rawLogitsByType(h).forEach((raw, k) => {
      const logp = ops.logSoftmax(this.transform(raw), -1); // (N, n_k, V_k)
      const picked = ops.unsqueeze(ops.indexSelect(tok, 1, this.posOfType[k]), 2);
      lps.push(ops.squeeze(ops.gather(logp, 2, picked), 2));
      ents.push(ops.neg(ops.sum(ops.mul(ops.exp(logp), logp), 2)));
    });
    return {
      logProbs: ops.indexSelect(ops.cat(lps, 1), 1, this.unpermute),
      entropy: ops.indexSelect(ops.cat(ents, 1), 1, this.unpermute),
    };
  }

  /**
   * One sampling step for N sequences: x (N, 1, D) is the input at position t;
   * returns the log-softmax over the type of position t, (N, V), and the new caches.
   */
  step(x: Tensor, t: number, caches: (KvCache | null)[]): { logp: Tensor; caches: KvCache[] } {
    const next: KvCache[] = [];
    let y = x;
    this.blocks.forEach((block, i) => {
      const r = block.step(y, caches[i]);
      y = r.y;
      next.push(r.cache);
    });
    const raw = this.heads[this.typeOf[t]].forward(this.lnFinal.forward(y)); // (N, 1, V)
    return { logp: ops.squeeze(ops.logSoftmax(this.transform(raw), -1), 1), caches: next };
  }

  override dispose(): void {
    for (const t of [this.typeIdx, this.groupIdx, this.unpermute, this.mask, ...this.posOfType]) t.dispose();
    super.dispose();
  }
}
