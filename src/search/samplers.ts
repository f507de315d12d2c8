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
import { isDeepStrictEqual } from 'node:util';
import { decodeTensors, encodeTensors } from '../engine/index.js';
import { Rng } from '../util/rng.js';
import { StoreError } from './store.js';
import type { StrategyName, StudyConfig } from './types.js';

/** One proposal's tokens (flat: groups × token types), log-prob under the sampler, and policy version. */
export interface Draw {
  tokens: number[];
  logProb: number;
  policyVersion: number;
}

/**
 * What a sampler needs to continue drawing exactly where it stopped (stored
 * after every ask). rl draws a batch of proposals at once (Controller.sampleBatch:
 * all its uniforms first); every trial of a batch of more than one stores the
 * state after the whole batch and its place in it, so replay redraws the
 * batch as one (a batch's float arithmetic may round differently from single
 * draws).
 */
export type SamplerState =
  | { kind: 'rl'; rng: number[]; version: number; batch?: DrawBatch }
  | { kind: 'random'; rng: number[] }
  | { kind: 'fixed'; draws: number };

/** A trial's place in the batch it was drawn in (only for batches of more than one). */
export interface DrawBatch {
  index: number;
  size: number;
}

/**
 * The batch place a stored state records, when an ask could have stored it
 * (a place within a batch no larger than the study's trials); undefined for
 * a single draw or a damaged log, which replay and resume treat as no batch.
 */
export function storedBatchPlace(state: SamplerState | null, trials: number): DrawBatch | undefined {
  const b = state?.kind === 'rl' ? state.batch : undefined;
  if (!b || !Number.isSafeInteger(b.size) || !Number.isSafeInteger(b.index) || b.index < 0 || b.index >= b.size || b.size > trials) return undefined;
  return b;
}

/** A draw with the sampling state to store with its trial. */
export interface StatedDraw {
  draw: Draw;
  state: SamplerState;
}

/** A told trial, as the controller update takes it. */
export interface ToldSample {
  trialId: number;
  tokens: readonly number[];
  logProbOld: number;
  reward: number;
  policyVersion: number;
}

/** A controller snapshot as bytes: parameters (a tensor blob, engine/serialize.ts), Adam state, meta. */
export interface EncodedController {
  tensors: Buffer;
  optimizer: Buffer;
  meta: ControllerMeta;
}

/** A sampler's learned state as the study stores it: written when the study is created (version 0, nothing consumed) and after every update. */
export interface SamplerCheckpoint {
  version: number;
  /** Trial ids the update consumed, in the order they entered it. */
  consumed: number[];
  stats: UpdateStats | null;
  checkpoint: EncodedController;
}

/** What an rl update produced; the study persists it with the consumed trials in one transaction. */
export interface SamplerUpdate extends SamplerCheckpoint {
  stats: UpdateStats;
}

/** What a study has stored of its sampler, read back on resume. */
export interface StoredSampler {
  /** The newest stored checkpoint (rl), or null. */
  checkpoint: { version: number; encoded: EncodedController } | null;
  /** The newest version the store knows of (a checkpoint must exist for it). */
  newestVersion: number | null;
  /** Told trials no update consumed yet, in tell order. */
  unconsumed: ToldSample[];
  /** The sampling state after the last ask, or null before any. */
  state: SamplerState | null;
  /** Names the study in errors (file and study). */
  source: string;
}

export interface Sampler {
  readonly strategy: StrategyName;
  /** Whether observe() changes the sampler's memory (a failed write then leaves it ahead of the file). */
  readonly learns: boolean;
  /** Learned-state version (rl: controller updates so far); null for a sampler that does not learn. */
  readonly version: number | null;
  /** rl: the controller (read it, never update it from outside). */
  readonly controller?: Controller;
  /** The learned state to store when the study is created, or null (nothing learned to keep). */
  initialCheckpoint(): SamplerCheckpoint | null;
  /** Told trials waiting for the next update, in tell order (empty for a sampler that does not learn). */
  pending(): number[];
  /** Draws n proposals, each with the state to store with it (see SamplerState). */
  drawMany(n: number): StatedDraw[];
  /**
   * How many proposals are worth drawing at once when fewer are asked for: rl,
   * the tells left before its next update (until then every draw comes from
   * the same policy, so drawing them in one batch now changes no policy
   * version and costs about one draw); 1 for samplers whose draws are cheap.
   */
  drawsBeforeUpdate(): number;
  /**
   * On resume: the draws of the last stored batch that no trial took yet,
   * drawn again as the stopped session drew them, so that a resumed study
   * goes on exactly as an uninterrupted one. `last`: the state stored with
   * the latest trial; `before`: the state before its batch (stored with the
   * trial asked just before the batch; null for the study's first batch).
   * Empty when the batch was used up or an update has changed the policy since
   * (the session would have dropped the rest).
   */
  redrawKept(last: SamplerState, before: SamplerState | null): StatedDraw[];
  /** The sampling state after the last draw (JSON). */
  state(): SamplerState;
  /** Continues from a state() snapshot. */
  restoreState(s: SamplerState): void;
  /** Every told trial, in tell order; rl returns an update to persist every updateEvery calls, others null. */
  observe(sample: ToldSample): SamplerUpdate | null;
  dispose(): void;
}

// ---------------------------------------------------------------- samplers

function checkCount(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`sampler: draws come in batches of at least 1, got ${n}`);
  return n;
}

/** Uniform over the space: one uniform token index per position from a seeded stream. */
export class RandomSampler implements Sampler {
  readonly strategy = 'random' as const;
  readonly learns = false;
  readonly version = null;
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
  drawMany(n: number): StatedDraw[] {
    return Array.from({ length: checkCount(n) }, () => ({
      draw: { tokens: this.vocab.map((v) => this.rng.nextInt(v)), logProb: this.logProb, policyVersion: 0 },
      state: this.state(),
    }));
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
  drawsBeforeUpdate(): number {
    return 1;
  }
  redrawKept(): StatedDraw[] {
    return [];
  }
  initialCheckpoint(): null {
    return null;
  }
  pending(): number[] {
    return [];
  }
  dispose(): void {}
}

/** The same pattern every trial (baselines): no tokens, log-prob 0. */
export class FixedSampler implements Sampler {
  readonly strategy = 'fixed' as const;
  readonly learns = false;
  readonly version = null;
  private draws = 0;
  drawMany(n: number): StatedDraw[] {
    return Array.from({ length: checkCount(n) }, () => {
      this.draws++;
      return { draw: { tokens: [], logProb: 0, policyVersion: 0 }, state: this.state() };
    });
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
  drawsBeforeUpdate(): number {
    return 1;
  }
  redrawKept(): StatedDraw[] {
    return [];
  }
  initialCheckpoint(): null {
    return null;
  }
  pending(): number[] {
    return [];
  }
  dispose(): void {}
}

/**
 * The controller: draws from its policy; buffers told trials in tell order
 * and runs controller.update on every `updateEvery` of them.
 */
export class RlSampler implements Sampler {
  readonly strategy = 'rl' as const;
  readonly learns = true;
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

  get version(): number {
    return this.controller.version;
  }

  /**
   * The stored controller with the told trials it has not learned from yet
   * back in its buffer; `positions` are the study's model's token positions
   * (a controller of another length is refused).
   */
  static resume(stored: StoredSampler, positions: readonly ControllerPosition[], config: Pick<StudyConfig, 'updateEvery' | 'child'>): RlSampler {
    const ck = stored.checkpoint;
    if (!ck || ck.version !== stored.newestVersion) throw new StoreError(`${stored.source} has no usable controller checkpoint (newest version ${stored.newestVersion ?? 'none'})`);
    const rl = RlSampler.restore(ck.encoded, config.updateEvery, `${stored.source} controller checkpoint ${ck.version}`);
    const want = positions.length;
    if (rl.controller.length !== want) {
      rl.dispose();
      throw new StoreError(`${stored.source}: the stored controller emits ${rl.controller.length} tokens but model ${config.child.model} needs ${want}`);
    }
    for (const t of stored.unconsumed) rl.buffer.push(t);
    return rl;
  }

  /** A controller restored from an encoded snapshot; `source` names it in errors. */
  static restore(c: EncodedController, updateEvery: number, source: string): RlSampler {
    if (c.meta?.format !== CONTROLLER_STATE_FORMAT) throw new Error(`${source}: controller meta format is ${String(c.meta?.format)}, expected ${CONTROLLER_STATE_FORMAT}`);
    const { tensors } = decodeTensors(c.tensors, source);
    try {
      return new RlSampler(Controller.restore({ tensors, optimizer: c.optimizer, meta: c.meta }), updateEvery);
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }

  /** One controller batch: the model is tiny, so a step costs about the same for n sequences as for one, and a batch of n far less than n draws. */
  drawMany(n: number): StatedDraw[] {
    const samples = this.controller.sampleBatch(checkCount(n));
    const after = this.state();
    return samples.map((s, index) => ({
      draw: { tokens: s.tokens, logProb: s.logProb, policyVersion: s.policyVersion },
      state: n > 1 ? { ...after, batch: { index, size: n } } : after,
    }));
  }
  state(): SamplerState {
    return { kind: 'rl', rng: this.controller.rng.getState(), version: this.controller.version };
  }
  restoreState(s: SamplerState): void {
    if (s.kind !== 'rl') throw new Error(`rl sampler: cannot restore a ${s.kind} sampler state`);
    this.controller.rng.setState(s.rng);
  }
  pending(): number[] {
    return this.buffer.map((b) => b.trialId);
  }
  drawsBeforeUpdate(): number {
    return this.updateEvery - this.buffer.length;
  }
  redrawKept(last: SamplerState, before: SamplerState | null): StatedDraw[] {
    if (last.kind !== 'rl' || !last.batch || last.batch.index >= last.batch.size - 1 || last.version !== this.version) return [];
    const rng = this.controller.rng;
    rng.setState(before?.kind === 'rl' ? before.rng : Controller.samplingRng(this.controller.seed).getState());
    const batch = this.drawMany(last.batch.size);
    if (!isDeepStrictEqual(rng.getState(), last.rng)) {
      // The log does not describe this batch (edited or damaged): continue after it, as a session that dropped the rest would.
      rng.setState(last.rng);
      return [];
    }
    return batch.slice(last.batch.index + 1);
  }
  initialCheckpoint(): SamplerCheckpoint {
    return { version: this.controller.version, consumed: [], stats: null, checkpoint: this.encode() };
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

/** A strategy as configured, before any draw (what a new study and replay start from); positions: the model's token positions (tokenPositions of src/patterns/spaces.ts; none for fixed). */
export function createSampler(config: StudyConfig, positions: readonly ControllerPosition[]): Sampler {
  switch (config.strategy) {
    case 'rl':
      return RlSampler.fresh(positions, config.controller, config.seed, config.updateEvery);
    case 'random':
      return new RandomSampler(positions, config.seed);
    case 'fixed':
      return new FixedSampler();
  }
}

/**
 * A strategy brought back from what its study stored: rl restores the
 * controller and re-buffers the told trials no update consumed; every
 * sampler continues its sampling stream from the stored state.
 */
export function resumeSampler(config: StudyConfig, positions: readonly ControllerPosition[], stored: StoredSampler): Sampler {
  const sampler = config.strategy === 'rl' ? RlSampler.resume(stored, positions, config) : createSampler(config, positions);
  try {
    if (stored.state) sampler.restoreState(stored.state);
  } catch (e) {
    sampler.dispose();
    throw e;
  }
  return sampler;
}
