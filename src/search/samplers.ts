// The strategies behind ask/tell (docs/architecture.md §5; Optuna's samplers): each draws
// a token sequence, exposes its sampling state after every draw (persisted so
// a resumed study continues the stream instead of redrawing), and observes
// every told trial. Only `rl` learns from what it observes.
//  - rl: the controller (src/controller) over the model's token positions
//    (tokenPositions in src/patterns/spaces.ts: one group per slot group of
//    the search space); buffers told trials and updates every `updateEvery`.
//  - random: uniform token indices over the same space (seeded), so random
//    search and rl differ only in how they propose.
//  - fixed: no tokens; every trial trains the study's fixed pattern.
import { CONTROLLER_STATE_FORMAT, Controller, type ControllerMeta, type ControllerPosition, type UpdateStats } from '../controller/index.js';
import { tensor, type DType, type Tensor } from '../engine/index.js';
import { Rng } from '../util/rng.js';
import type { StrategyName } from './types.js';

/** One proposal's tokens (flat: groups × token types), log-prob under the sampler, and policy version. */
export interface Draw {
  tokens: number[];
  logProb: number;
  policyVersion: number;
}

/** What a sampler needs to continue drawing exactly where it stopped (stored after every ask). */
export type SamplerState = { kind: 'rl'; rng: number[]; version: number } | { kind: 'random'; rng: number[] } | { kind: 'fixed'; draws: number };

/** A told trial, as the controller update takes it. */
export interface ToldSample {
  trialId: number;
  tokens: readonly number[];
  logProbOld: number;
  reward: number;
  policyVersion: number;
}

/** A controller snapshot as bytes: parameters (tensor blob, see encodeTensors), Adam state, meta. */
export interface EncodedController {
  tensors: Buffer;
  optimizer: Buffer;
  meta: ControllerMeta;
}

/** What an rl update produced; the study persists it with the consumed trials in one transaction. */
export interface SamplerUpdate {
  version: number;
  /** Trial ids the update consumed, in the order they entered it. */
  consumed: number[];
  stats: UpdateStats;
  checkpoint: EncodedController;
}

export interface Sampler {
  readonly strategy: StrategyName;
  /** Draws one proposal. */
  draw(): Draw;
  /** The sampling state after the last draw (JSON). */
  state(): SamplerState;
  /** Continues from a state() snapshot. */
  restoreState(s: SamplerState): void;
  /** Every told trial, in tell order; rl returns an update to persist every updateEvery calls, others null. */
  observe(sample: ToldSample): SamplerUpdate | null;
  dispose(): void;
}

// ------------------------------------------------------------ tensor blobs
// The engine's tensor-file layout (src/engine/serialize.ts) in memory: magic,
// u32 little-endian header length, JSON header {entries, meta}, raw
// little-endian data. A blob written to a file loads with loadTensors().

const MAGIC = Buffer.from('ADTENSOR1\n');
const BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4, int64: 8, uint8: 1, bool: 1 };

interface BlobEntry {
  name: string;
  dtype: DType;
  shape: number[];
  offset: number;
  bytes: number;
}

/** Tensors → one Buffer (the engine's tensor-file layout). */
export function encodeTensors(tensors: ReadonlyMap<string, Tensor>): Buffer {
  const entries: BlobEntry[] = [];
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const d = t.data();
    const b = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    entries.push({ name, dtype: t.dtype, shape: [...t.shape], offset, bytes: b.length });
    blobs.push(Buffer.from(b));
    offset += b.length;
  }
  const header = Buffer.from(JSON.stringify({ entries, meta: null }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  return Buffer.concat([MAGIC, len, header, ...blobs]);
}

/** Buffer from encodeTensors → CPU tensors (the caller disposes them); `source` names the blob in errors. */
export function decodeTensors(buf: Buffer, source: string): Map<string, Tensor> {
  const bad = (why: string): Error => new Error(`${source}: not a valid tensor blob (${why})`);
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('wrong magic bytes');
  const hlen = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4 + hlen;
  if (start > buf.length) throw bad('header is truncated');
  let entries: BlobEntry[];
  try {
    entries = (JSON.parse(buf.subarray(MAGIC.length + 4, start).toString('utf8')) as { entries: BlobEntry[] }).entries;
  } catch {
    throw bad('header is not JSON');
  }
  if (!Array.isArray(entries)) throw bad('no entry list');
  for (const e of entries) {
    if (!(e.dtype in BYTES)) throw bad(`entry '${e.name}' has unknown dtype ${e.dtype}`);
    const n = e.shape.reduce((a, b) => a * b, 1);
    if (e.bytes !== n * BYTES[e.dtype] || start + e.offset + e.bytes > buf.length) throw bad(`entry '${e.name}' is truncated or mis-sized`);
  }
  const out = new Map<string, Tensor>();
  for (const e of entries) {
    const copy = new Uint8Array(buf.subarray(start + e.offset, start + e.offset + e.bytes));
    const view =
      e.dtype === 'float32'
        ? new Float32Array(copy.buffer)
        : e.dtype === 'float64'
          ? new Float64Array(copy.buffer)
          : e.dtype === 'int32'
            ? new Int32Array(copy.buffer)
            : e.dtype === 'int64'
              ? new BigInt64Array(copy.buffer)
              : copy;
    out.set(e.name, tensor(view, e.shape, e.dtype, 'cpu'));
  }
  return out;
}

// ---------------------------------------------------------------- samplers

/** Uniform over the space: one uniform token index per position from a seeded stream. */
export class RandomSampler implements Sampler {
  readonly strategy = 'random' as const;
  private readonly rng: Rng;
  private readonly vocab: number[];
  private readonly logProb: number;

  /** positions: the model's token positions (tokenPositions of src/patterns/spaces.ts). */
  constructor(positions: readonly Pick<ControllerPosition, 'vocabSize'>[], seed: number) {
    this.vocab = positions.map((p) => p.vocabSize);
    // log π of any sequence under the uniform policy (the same for every draw).
    this.logProb = -this.vocab.reduce((a, v) => a + Math.log(v), 0);
    this.rng = Rng.derive(seed, 'search', 'random');
  }
  draw(): Draw {
    return { tokens: this.vocab.map((v) => this.rng.nextInt(v)), logProb: this.logProb, policyVersion: 0 };
  }
  state(): SamplerState {
    return { kind: 'random', rng: this.rng.getState() };
  }
  restoreState(s: SamplerState): void {
    if (s.kind !== 'random') throw new Error(`random sampler: cannot restore a ${s.kind} sampler state`);
    this.rng.setState(s.rng);
  }
  observe(): null {
    return null;
  }
  dispose(): void {}
}

/** The same pattern every trial (baselines): no tokens, log-prob 0. */
export class FixedSampler implements Sampler {
  readonly strategy = 'fixed' as const;
  private draws = 0;
  draw(): Draw {
    this.draws++;
    return { tokens: [], logProb: 0, policyVersion: 0 };
  }
  state(): SamplerState {
    return { kind: 'fixed', draws: this.draws };
  }
  restoreState(s: SamplerState): void {
    if (s.kind !== 'fixed') throw new Error(`fixed sampler: cannot restore a ${s.kind} sampler state`);
    this.draws = s.draws;
  }
  observe(): null {
    return null;
  }
  dispose(): void {}
}

/**
 * The controller: draws from its policy; buffers told trials in tell order
 * and runs controller.update on every `updateEvery` of them.
 */
export class RlSampler implements Sampler {
  readonly strategy = 'rl' as const;
  private buffer: ToldSample[] = [];

  constructor(
    readonly controller: Controller,
    readonly updateEvery: number,
  ) {
    if (!Number.isSafeInteger(updateEvery) || updateEvery < 1) throw new RangeError(`rl sampler: updateEvery must be an integer >= 1, got ${updateEvery}`);
  }

  /** A fresh controller over the model's token positions (tokenPositions of src/patterns/spaces.ts). */
  static fresh(positions: readonly ControllerPosition[], options: Record<string, number> | undefined, seed: number, updateEvery: number): RlSampler {
    return new RlSampler(new Controller(positions, options ?? {}, seed), updateEvery);
  }

  /** A controller restored from an encoded snapshot; `source` names it in errors. */
  static restore(c: EncodedController, updateEvery: number, source: string): RlSampler {
    if (c.meta?.format !== CONTROLLER_STATE_FORMAT) throw new Error(`${source}: controller meta format is ${String(c.meta?.format)}, expected ${CONTROLLER_STATE_FORMAT}`);
    const tensors = decodeTensors(c.tensors, source);
    try {
      return new RlSampler(Controller.restore({ tensors, optimizer: c.optimizer, meta: c.meta }), updateEvery);
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }

  draw(): Draw {
    const s = this.controller.sample();
    return { tokens: s.tokens, logProb: s.logProb, policyVersion: s.policyVersion };
  }
  state(): SamplerState {
    return { kind: 'rl', rng: this.controller.rng.getState(), version: this.controller.version };
  }
  restoreState(s: SamplerState): void {
    if (s.kind !== 'rl') throw new Error(`rl sampler: cannot restore a ${s.kind} sampler state`);
    this.controller.rng.setState(s.rng);
  }
  /** Told trials waiting for the next update, in tell order. */
  buffered(): readonly ToldSample[] {
    return this.buffer;
  }
  /** Puts a told-but-unconsumed trial back in the buffer (resume); never updates. */
  rebuffer(sample: ToldSample): void {
    this.buffer.push(sample);
  }
  observe(sample: ToldSample): SamplerUpdate | null {
    this.buffer.push(sample);
    if (this.buffer.length < this.updateEvery) return null;
    const batch = this.buffer;
    this.buffer = [];
    const stats = this.controller.update(batch.map((b) => ({ tokens: b.tokens, logProbOld: b.logProbOld, reward: b.reward, policyVersion: b.policyVersion })));
    return { version: stats.version, consumed: batch.map((b) => b.trialId), stats, checkpoint: this.encode() };
  }
  /** The controller's full state as bytes. */
  encode(): EncodedController {
    const st = this.controller.saveState();
    try {
      return { tensors: encodeTensors(st.tensors), optimizer: st.optimizer, meta: st.meta };
    } finally {
      for (const t of st.tensors.values()) t.dispose();
    }
  }
  dispose(): void {
    this.controller.dispose();
  }
}
