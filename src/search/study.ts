// The ask/tell core (docs/architecture.md §5; Optuna's Study): a strategy proposes, the
// store remembers, the coordinator runs. Everything a proposal or an outcome
// changes is written before ask()/tell() return, so a coordinator killed at
// any instant (kill -9 included) resumes with nothing lost or duplicated.
//
// Decisions (tested in test/search/):
//  - Rewards: rewardFromMetrics (reward.ts): images = validation accuracy;
//    language models = 80 / validation perplexity (ENAS's c / ppl).
//  - Failed trials (a diverged child, a pattern that cannot apply, a trial out
//    of attempts) enter the rl update with the lowest reward of the study's
//    done and pruned trials told before them (0 when there is none yet): "as
//    bad as the worst child seen". A constant 0 would give advantages tens of
//    times larger than the spread between real children and let a few
//    failures dominate the update; leaving failures out would never teach the
//    controller to avoid patterns that break training. The value is stored
//    (trials.update_reward), so resume and replay use the same number.
//  - Pruned trials enter with their last validation value (the outcome's
//    reward, else the last recorded epoch value): a lower bound on what the
//    child would have reached, on the same scale as done trials' rewards. The
//    bias it adds (against slow starters) is the bias median pruning already
//    accepts. Their `reward` column holds the same value; best() and export
//    consider done trials only.
//  - rl updates: told trials are buffered in tell order; the tell that fills
//    the buffer to updateEvery runs controller.update and stores the
//    checkpoint, the trial's outcome and the consumed marks in one
//    transaction. Samples drawn by an older policy version go through the
//    controller's PPO-clipped branch.
//  - Resume (Study.open with resume): done/failed/pruned trials are kept;
//    running trials go back to queued with their attempts unchanged (a
//    coordinator restart is not the trial's fault) and come out of
//    takeQueued() first, lowest ask order first; the controller is restored
//    from its newest checkpoint and re-buffers the told-but-unconsumed trials
//    in tell order; the sampling RNG is restored from the state stored with
//    the last ask. So the resumed study continues exactly as an uninterrupted
//    one that saw the same outcomes in the same order would.
//  - Attempts: requeue(…, countsAsAttempt = true) adds one; at maxAttempts
//    (default 3) the trial is told failed instead, with the reason.
import { isDeepStrictEqual } from 'node:util';
import type { Controller, ControllerMeta } from '../controller/index.js';
import { resolveControllerOptions } from '../controller/options.js';
import { modelFamily, modelSlots } from '../models/index.js';
import { getPreset, loadPatternRef, presetNames } from '../patterns/presets.js';
import { resolvePatterns } from '../patterns/resolve.js';
import { decodeFile, getSpace, spaceFingerprint, splitTokens, tokenPositions, type SearchSpace } from '../patterns/spaces.js';
import type { PatternFile, SlotDescriptor } from '../patterns/types.js';
import { isTaskName } from '../train/task-names.js';
import type { TrialSpec } from './executors/types.js';
import { prunerFor, type Pruner } from './prune.js';
import { createSampler, resumeSampler, storedBatchPlace, type Sampler, type SamplerCheckpoint, type SamplerState, type StatedDraw } from './samplers.js';
import { SearchStore, StoreError, type FinishTrial, type StoreOptions, type StudyLock, type StudyRecord, type TrialCounts, type TrialRecord } from './store.js';
import { isFinished, trialChildSeed, type CoordinatedStudy, type EpochReport, type Proposal, type StudyConfig, type TrialOutcome, type TrialState } from './types.js';

export { rewardFromMetrics, rewardKind, LM_REWARD_CONSTANT } from './reward.js';

/** Default for StudyOpenOptions.maxAttempts. */
export const DEFAULT_MAX_ATTEMPTS = 3;

/** Config fields a resume may change: they do not alter what the search proposes or how it learns. */
export const RESUMABLE_FIELDS: readonly string[] = ['trials', 'codeVersion'];

/** Config fields Study.open sets itself (a caller's config leaves them out; a resume keeps the stored ones). */
const RECORDED_FIELDS: readonly string[] = ['spaceFingerprint'];

/** A study whose search space changed since it was created: its stored tokens would decode to other patterns. */
export class SpaceChangedError extends StoreError {
  constructor(message: string) {
    super(message);
    this.name = 'SpaceChangedError';
  }
}

/**
 * Refuses (SpaceChangedError) a study of `path` whose stored token indices
 * the current search space would read differently: its recorded
 * spaceFingerprint differs from the space's now, or it has none (created
 * before fingerprints were recorded). The fixed strategy stores no tokens
 * and passes.
 */
export function checkSpaceFingerprint(path: string, config: StudyConfig, action: 'resume' | 'replay'): void {
  if (config.strategy === 'fixed') return;
  const now = spaceFingerprint(getSpace(config.space));
  if (config.spaceFingerprint === now) return;
  const was =
    config.spaceFingerprint === undefined
      ? 'was created before studies recorded their search space (no spaceFingerprint in its config)'
      : `was created with another ${config.space} space (fingerprint ${config.spaceFingerprint}; spaces/${config.space}.json now gives ${now})`;
  throw new SpaceChangedError(
    `cannot ${action} study '${config.name}' in ${path}: it ${was}. Its trials store token indices, which mean other patterns when a vocabulary or the tokens of a group change, so ` +
      `${action === 'resume' ? 'resuming would mix two spaces in one search' : 'replay would compare them with other patterns'}. ` +
      `Use the autodropout that created it (codeVersion ${config.codeVersion}), or start a new study (another --db or study name); the patterns its trials stored stay readable (autodropout status, export).`,
  );
}

/** The study already exists and resume was not asked for. */
export class StudyExistsError extends StoreError {
  constructor(message: string) {
    super(message);
    this.name = 'StudyExistsError';
  }
}

/** A resume whose config differs from the stored one; `fields` lists the differing dotted paths. */
export class ConfigMismatchError extends StoreError {
  constructor(
    message: string,
    readonly fields: { field: string; stored: unknown; given: unknown }[],
  ) {
    super(message);
    this.name = 'ConfigMismatchError';
  }
}

export interface StudyOpenOptions {
  /** Continue an existing study (required when it exists; creating a missing one is fine). */
  resume?: boolean;
  /** Attempts (lost workers) before a re-queued trial is told failed (default 3). */
  maxAttempts?: number;
  /** Overrides the pruner the config names (null: never prune). */
  pruner?: Pruner | null;
  /** Take the study over from a coordinator on another host (never from a live one on this host: see lock.ts). */
  takeover?: boolean;
  /** Store options when `db` is a path. */
  store?: StoreOptions;
  /** The child's dropout slots (default: modelSlots(config.child.model)). */
  slots?: readonly SlotDescriptor[];
}

/** What Study.open did to bring a study back. */
export interface ResumeReport {
  /** Running trials put back in the queue. */
  requeued: number[];
  /** Told trials the restored controller re-buffered (rl). */
  rebuffered: number[];
  /** Controller version restored (rl), else null. */
  controllerVersion: number | null;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function leaves(v: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
  if (isObj(v)) for (const [k, x] of Object.entries(v)) leaves(x, prefix ? `${prefix}.${k}` : k, out);
  else if (v !== undefined) out.set(prefix, v);
  return out;
}

/** Fields (dotted paths) whose values differ between two configs, except `ignore`. */
export function diffConfigs(stored: StudyConfig, given: StudyConfig, ignore: readonly string[] = RESUMABLE_FIELDS): { field: string; stored: unknown; given: unknown }[] {
  const a = leaves(JSON.parse(JSON.stringify(stored)), '', new Map());
  const b = leaves(JSON.parse(JSON.stringify(given)), '', new Map());
  const out: { field: string; stored: unknown; given: unknown }[] = [];
  for (const k of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    if (ignore.includes(k)) continue;
    if (!isDeepStrictEqual(a.get(k), b.get(k))) out.push({ field: k, stored: a.get(k), given: b.get(k) });
  }
  return out;
}

/** Throws a RangeError naming every invalid field of a study config. */
export function validateStudyConfig(c: StudyConfig): void {
  const p: string[] = [];
  const posInt = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 1;
  if (typeof c.name !== 'string' || c.name === '') p.push('name must be a non-empty string');
  if (!['rl', 'random', 'fixed'].includes(c.strategy)) p.push(`strategy must be rl, random or fixed, got ${String(c.strategy)}`);
  if (c.space !== 'tile' && c.space !== 'span') p.push(`space must be tile or span, got ${String(c.space)}`);
  if (!(Number.isSafeInteger(c.trials) && c.trials >= 0)) p.push(`trials must be an integer >= 0, got ${String(c.trials)}`);
  if (!(Number.isSafeInteger(c.seed) && c.seed >= 0)) p.push(`seed must be a non-negative integer, got ${String(c.seed)}`);
  if (!posInt(c.updateEvery)) p.push(`updateEvery must be an integer >= 1, got ${String(c.updateEvery)}`);
  if (c.prune !== 'none' && c.prune !== 'median') p.push(`prune must be none or median, got ${String(c.prune)}`);
  if (c.strategy === 'fixed' && (typeof c.fixed !== 'string' || c.fixed === '')) p.push('the fixed strategy needs `fixed`: a preset name or a pattern file');
  if (c.seedPerTrial !== undefined && typeof c.seedPerTrial !== 'boolean') p.push(`seedPerTrial must be true or false, got ${String(c.seedPerTrial)}`);
  if (c.seedPerTrial && c.strategy !== 'fixed') p.push('seedPerTrial goes with the fixed strategy only (a search compares patterns under one child seed)');
  if (c.evaluateTest !== undefined && typeof c.evaluateTest !== 'boolean') p.push(`evaluateTest must be true or false, got ${String(c.evaluateTest)}`);
  if (c.evaluateTest && c.strategy !== 'fixed') p.push('evaluateTest goes with the fixed strategy only (a search never sees the test split)');
  if (typeof c.codeVersion !== 'string') p.push('codeVersion must be a string');
  if (c.spaceFingerprint !== undefined && typeof c.spaceFingerprint !== 'string') p.push('spaceFingerprint must be a string (Study.open sets it)');
  if (!isObj(c.child)) p.push('child must be an object');
  else {
    if (typeof c.child.task !== 'string' || !isTaskName(c.child.task)) p.push(`child.task: unknown task ${String(c.child.task)}`);
    if (!posInt(c.child.epochs)) p.push(`child.epochs must be an integer >= 1, got ${String(c.child.epochs)}`);
    if (!(Number.isSafeInteger(c.child.childSeed) && c.child.childSeed >= 0)) p.push(`child.childSeed must be a non-negative integer, got ${String(c.child.childSeed)}`);
    const fam = typeof c.child.model === 'string' ? modelFamily(c.child.model) : null;
    if (!fam) p.push(`child.model: unknown model ${String(c.child.model)}`);
    else if (c.strategy !== 'fixed' && (fam === 'image') !== (c.space === 'tile')) {
      p.push(`space ${c.space} does not fit ${fam} model ${c.child.model} (use ${fam === 'image' ? 'tile' : 'span'})`);
    }
  }
  if (p.length) throw new RangeError(`study config: ${p.join('; ')}`);
  if (c.strategy === 'rl') {
    try {
      resolveControllerOptions(c.controller ?? {});
    } catch (e) {
      throw new RangeError(`study config: ${(e as Error).message}`);
    }
  }
}

/** The fixed strategy's pattern: a preset name, `preset:NAME`, or a pattern file path. */
export function resolveFixedPattern(ref: string): PatternFile {
  return presetNames().includes(ref) ? getPreset(ref) : loadPatternRef(ref);
}

/** The pattern file a draw stands for: decoded tokens (rl, random) or the fixed pattern. */
export function patternForTokens(space: SearchSpace, slots: readonly SlotDescriptor[], tokens: readonly number[], fixed: PatternFile | null): PatternFile {
  if (fixed) return structuredClone(fixed);
  return decodeFile(space, splitTokens(space, slots, tokens), slots);
}

const proposalOf = (t: TrialRecord): Proposal => ({ trialId: t.id, pattern: t.pattern, tokens: t.tokens, logProb: t.logProb, policyVersion: t.policyVersion });

export class Study implements CoordinatedStudy {
  readonly store: SearchStore;
  readonly record: StudyRecord;
  readonly space: SearchSpace;
  readonly slots: readonly SlotDescriptor[];
  /** Non-fatal notes from opening (e.g. a resume under another code version). */
  readonly warnings: string[] = [];
  /** Set when the study was resumed. */
  readonly resumed: ResumeReport | null;
  private cfg: StudyConfig;
  private readonly sampler: Sampler;
  private readonly pruner: Pruner | null;
  /** The data fingerprint once a child has recorded one (dataFingerprint). */
  private knownFingerprint: string | null = null;
  /**
   * The best done trial (best()), kept up to date by tells so the coordinator's
   * progress line does not scan every done trial after each; read again from
   * the store at first and after any transaction on it failed (it may have
   * undone a tell counted here: SearchStore.rollbacks).
   */
  private bestKnown: { trialId: number; reward: number; askOrder: number } | null = null;
  private bestKnownAt = -1;
  private readonly maxAttempts: number;
  private readonly ownsStore: boolean;
  /** Trials handed to the coordinator (by ask or takeQueued) and not re-queued since: takeQueued skips them. */
  private readonly handedOut = new Set<number>();
  /** rl: draws made ahead of the asks that will take them (askBatch). */
  private drawnAhead: StatedDraw[] = [];
  private broken: Error | null = null;
  private closed = false;

  private constructor(a: {
    store: SearchStore;
    ownsStore: boolean;
    record: StudyRecord;
    config: StudyConfig;
    space: SearchSpace;
    slots: readonly SlotDescriptor[];
    sampler: Sampler;
    pruner: Pruner | null;
    maxAttempts: number;
    resumed: ResumeReport | null;
    warnings: string[];
    drawnAhead?: StatedDraw[];
  }) {
    this.store = a.store;
    this.ownsStore = a.ownsStore;
    this.record = a.record;
    this.cfg = a.config;
    this.space = a.space;
    this.slots = a.slots;
    this.sampler = a.sampler;
    this.pruner = a.pruner;
    this.maxAttempts = a.maxAttempts;
    this.resumed = a.resumed;
    this.warnings.push(...a.warnings);
    this.drawnAhead = a.drawnAhead ?? [];
  }

  /**
   * Opens a study in `db` (a store, or a path the study then owns and closes).
   * `study`: a full config (created when missing; when it exists, `resume`
   * is required and every field but RESUMABLE_FIELDS must match) or the name
   * of an existing study to resume with its stored config.
   */
  static open(db: SearchStore | string, study: StudyConfig | string, options: StudyOpenOptions = {}): Study {
    const ownsStore = typeof db === 'string';
    const store = typeof db === 'string' ? SearchStore.open(db, options.store) : db;
    try {
      return Study.openIn(store, ownsStore, study, options);
    } catch (e) {
      if (ownsStore) store.close();
      throw e;
    }
  }

  private static openIn(store: SearchStore, ownsStore: boolean, study: StudyConfig | string, o: StudyOpenOptions): Study {
    if (store.readonly) throw new StoreError(`${store.path} is open read-only; a study needs a writable store`);
    const maxAttempts = o.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw new RangeError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`);
    const name = typeof study === 'string' ? study : study.name;
    const existing = store.getStudy(name);
    if (existing) return Study.resumeIn(store, ownsStore, existing, study, { ...o, maxAttempts });
    if (typeof study === 'string') throw new StoreError(`${store.path} has no study '${name}' to resume; it has: ${store.listStudies().map((s) => s.name).join(', ') || 'none'}`);
    return Study.createIn(store, ownsStore, study, { ...o, maxAttempts });
  }

  /** A new study: validated, its fixed pattern checked against the model, stored with the sampler's initial checkpoint. */
  private static createIn(store: SearchStore, ownsStore: boolean, study: StudyConfig, o: StudyOpenOptions & { maxAttempts: number }): Study {
    const config = JSON.parse(JSON.stringify(study)) as StudyConfig;
    validateStudyConfig(config);
    const slots = o.slots ?? modelSlots(config.child.model);
    const space = getSpace(config.space);
    config.spaceFingerprint = spaceFingerprint(space);
    const fixed = config.strategy === 'fixed' ? resolveFixedPattern(config.fixed!) : null;
    // Fail now, not in the first worker, when the fixed pattern cannot act on this model.
    if (fixed) resolvePatterns(fixed, slots);
    const sampler = createSampler(config, Study.positions(space, slots, config));
    try {
      const record = store.transaction(() => {
        const r = store.createStudy(config, fixed);
        const initial = sampler.initialCheckpoint();
        if (initial) Study.persistCheckpoint(store, r.id, initial);
        return r;
      });
      const warnings: string[] = [];
      Study.noteTakeover(store.acquireLock(record.id, { takeover: o.takeover }), config.name, warnings);
      return new Study({ store, ownsStore, record, config, space, slots, sampler, pruner: o.pruner !== undefined ? o.pruner : prunerFor(config.prune), maxAttempts: o.maxAttempts, resumed: null, warnings });
    } catch (e) {
      sampler.dispose();
      throw e;
    }
  }

  /**
   * An existing study, continued: `study` is its name (the stored config is
   * used) or a config that must match the stored one but for
   * RESUMABLE_FIELDS. Running trials are re-queued and the sampler resumes
   * from what was stored.
   */
  private static resumeIn(store: SearchStore, ownsStore: boolean, existing: StudyRecord, study: StudyConfig | string, o: StudyOpenOptions & { maxAttempts: number }): Study {
    const name = existing.name;
    if (!o.resume) {
      const asked = store.askedCount(existing.id);
      throw new StudyExistsError(
        `${store.path} already holds study '${name}' (${asked} trial${asked === 1 ? '' : 's'} asked); pass --resume to continue it, or choose another --db (or study name)`,
      );
    }
    checkSpaceFingerprint(store.path, existing.config, 'resume');
    const warnings: string[] = [];
    const config = typeof study === 'string' ? existing.config : Study.checkedResumeConfig(store, existing, study, warnings);
    Study.noteTakeover(store.acquireLock(existing.id, { takeover: o.takeover }), name, warnings);
    let sampler: Sampler | null = null;
    try {
      if (!isDeepStrictEqual(config, existing.config)) store.updateStudyConfig(existing.id, config);
      const slots = o.slots ?? modelSlots(config.child.model);
      const space = getSpace(config.space);
      const requeued = store.requeueRunning(existing.id, 'the coordinator stopped while the trial ran; re-queued on resume');
      const ck = config.strategy === 'rl' ? store.latestCheckpoint(existing.id) : null;
      const unconsumed = config.strategy === 'rl' ? store.unconsumed(existing.id) : [];
      sampler = resumeSampler(config, Study.positions(space, slots, config), {
        checkpoint: ck ? { version: ck.version, encoded: { tensors: ck.tensors!, optimizer: ck.optimizer!, meta: ck.meta as unknown as ControllerMeta } } : null,
        newestVersion: config.strategy === 'rl' ? store.controllerVersion(existing.id) : null,
        unconsumed: unconsumed.map((t) => ({ trialId: t.id, tokens: t.tokens, logProbOld: t.logProb, reward: t.updateReward!, policyVersion: t.policyVersion })),
        state: store.samplerState(existing.id) as SamplerState | null,
        source: `${store.path}: study '${name}'`,
      });
      const drawnAhead = Study.redrawKept(store, existing.id, sampler, config.trials);
      return new Study({
        store,
        ownsStore,
        record: store.getStudyById(existing.id),
        config,
        space,
        slots,
        sampler,
        pruner: o.pruner !== undefined ? o.pruner : prunerFor(config.prune),
        maxAttempts: o.maxAttempts,
        resumed: { requeued, rebuffered: sampler.pending(), controllerVersion: sampler.version },
        warnings,
        drawnAhead,
      });
    } catch (e) {
      sampler?.dispose();
      store.releaseLock(existing.id);
      throw e;
    }
  }

  /** The draws the stopped session kept for later asks, drawn again (Sampler.redrawKept). */
  private static redrawKept(store: SearchStore, studyId: number, sampler: Sampler, trials: number): StatedDraw[] {
    const last = store.samplerState(studyId) as SamplerState | null;
    const b = storedBatchPlace(last, trials);
    // A place no ask could have stored (a damaged log): nothing to redraw; the session continues after the batch.
    if (!last || !b) return [];
    const firstOfBatch = store.askedCount(studyId) - 1 - b.index;
    const before = firstOfBatch > 0 ? (store.samplerState(studyId, firstOfBatch - 1) as SamplerState | null) : null;
    return sampler.redrawKept(last, before);
  }

  private static noteTakeover(previous: StudyLock | null, name: string, warnings: string[]): void {
    if (previous) warnings.push(`took study '${name}' over from process ${previous.pid} on ${previous.host} (its lock dates from ${new Date(previous.since).toISOString()})`);
  }

  /** The config a resume runs with: `given`, refused when it differs from the stored one but for RESUMABLE_FIELDS. */
  private static checkedResumeConfig(store: SearchStore, existing: StudyRecord, study: StudyConfig, warnings: string[]): StudyConfig {
    const given = JSON.parse(JSON.stringify(study)) as StudyConfig;
    const diff = diffConfigs(existing.config, given, [...RESUMABLE_FIELDS, ...RECORDED_FIELDS]);
    if (diff.length) {
      const show = (v: unknown): string => (v === undefined ? '(unset)' : JSON.stringify(v));
      throw new ConfigMismatchError(
        `cannot resume study '${existing.name}' in ${store.path} with a different config: ${diff.map((d) => `${d.field} (stored ${show(d.stored)}, given ${show(d.given)})`).join(', ')}; use the stored settings or another --db`,
        diff,
      );
    }
    validateStudyConfig(given);
    given.spaceFingerprint = existing.config.spaceFingerprint;
    const asked = store.askedCount(existing.id);
    if (given.trials < asked) {
      const field = { field: 'trials', stored: existing.config.trials, given: given.trials };
      throw new ConfigMismatchError(
        `cannot resume study '${existing.name}' in ${store.path} with --trials ${given.trials}: it has already asked ${asked} trial(s) (target ${existing.config.trials}); ` +
          `give --trials ${asked} or more, or leave --trials out to keep ${existing.config.trials}`,
        [field],
      );
    }
    if (given.trials !== existing.config.trials) warnings.push(`study '${existing.name}': trial target changed from ${existing.config.trials} to ${given.trials} (${asked} asked so far)`);
    if (given.codeVersion !== existing.config.codeVersion) {
      warnings.push(`study '${existing.name}' was created by autodropout ${existing.config.codeVersion} and is resumed by ${given.codeVersion}; replay may not reproduce the earlier samples`);
    }
    return given;
  }

  /** The model's token positions in the study's space (none for the fixed strategy). */
  private static positions(space: SearchSpace, slots: readonly SlotDescriptor[], config: StudyConfig): ReturnType<typeof tokenPositions> {
    if (config.strategy === 'fixed') return [];
    try {
      return tokenPositions(space, slots);
    } catch (e) {
      throw new RangeError(`study '${config.name}': the ${space.name} space does not fit model ${config.child.model}: ${(e as Error).message}`);
    }
  }

  private static persistCheckpoint(store: SearchStore, studyId: number, u: SamplerCheckpoint): void {
    store.insertCheckpoint(studyId, {
      version: u.version,
      asked: store.askedCount(studyId),
      told: store.toldCount(studyId),
      tensors: u.checkpoint.tensors,
      optimizer: u.checkpoint.optimizer,
      meta: u.checkpoint.meta as unknown as Record<string, unknown>,
      consumed: u.consumed,
      stats: (u.stats as unknown as Record<string, unknown>) ?? null,
    });
  }

  get id(): number {
    return this.record.id;
  }
  get name(): string {
    return this.record.name;
  }
  get config(): StudyConfig {
    return this.cfg;
  }
  get strategy(): StudyConfig['strategy'] {
    return this.cfg.strategy;
  }
  /** rl: the controller's version (updates so far); other strategies: null. */
  get controllerVersion(): number | null {
    return this.sampler.version;
  }
  /** rl: the controller (read it, never update it from outside); other strategies: null. */
  get controller(): Controller | null {
    return this.sampler.controller ?? null;
  }
  /** rl: trial ids told but not yet consumed by an update, in tell order. */
  bufferedTrialIds(): number[] {
    return this.sampler.pending();
  }

  private usable(): void {
    if (this.closed) throw new StoreError(`study '${this.name}' is closed`);
    if (this.broken) {
      throw new StoreError(`study '${this.name}' stopped after a failed write (${this.broken.message}); reopen ${this.store.path} with resume to continue from what was stored`);
    }
  }

  /** Runs a write that first changes in-memory sampler state; a failure leaves memory ahead of the file, so the study refuses further use. */
  private guarded<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      this.broken = e as Error;
      throw e;
    }
  }

  /** Draws a proposal and stores it as a queued trial (with the sampler state after the draw). */
  ask(): Proposal {
    return this.askBatch(1)[0];
  }

  /**
   * n fresh proposals, stored as queued trials in one transaction; n is not
   * capped by the trial target (the caller's job). rl draws in batches: when
   * its next update is further off than n draws (Sampler.drawsBeforeUpdate),
   * it draws up to that many at once (one controller batch costs about what
   * one draw does) and keeps the rest in memory for the next asks. They are
   * dropped when an update changes the policy first, so every trial still
   * comes from the policy current when it was asked; dropped draws are never
   * stored (the stored state after a batch records its size and each trial's
   * place in it, so replay redraws the batch as one; SamplerState).
   */
  askBatch(n: number): Proposal[] {
    this.usable();
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`study '${this.name}': askBatch needs n >= 1, got ${n}`);
    if (this.drawnAhead.length && this.drawnAhead[0].draw.policyVersion !== (this.sampler.version ?? 0)) this.drawnAhead = [];
    if (this.drawnAhead.length < n) {
      const ahead = Math.min(this.sampler.drawsBeforeUpdate(), this.cfg.trials - this.askedCount());
      const more = Math.max(n, ahead) - this.drawnAhead.length;
      this.drawnAhead.push(...this.guarded(() => this.sampler.drawMany(more)));
    }
    const take = this.drawnAhead.splice(0, n);
    const recs = this.guarded(() =>
      this.store.insertTrials(
        this.id,
        take.map(({ draw: d, state }) => ({
          trial: { pattern: patternForTokens(this.space, this.slots, d.tokens, this.record.fixedPattern), tokens: d.tokens, logProb: d.logProb, policyVersion: d.policyVersion },
          samplerState: state,
        })),
      ),
    );
    for (const r of recs) this.handedOut.add(r.id);
    return recs.map(proposalOf);
  }

  /** The queued trial (lowest ask order) not already handed out in this session, or null; it is then handed out. */
  takeQueued(): Proposal | null {
    this.usable();
    const t = this.store.nextQueued(this.id, this.handedOut);
    if (!t) return null;
    this.handedOut.add(t.id);
    return proposalOf(t);
  }

  askedCount(): number {
    return this.store.askedCount(this.id);
  }

  markRunning(trialId: number, worker: string): void {
    this.usable();
    this.store.markRunning(this.id, trialId, worker);
    this.handedOut.add(trialId);
  }

  /** Records that a running trial is alive; false when it is not running (a late beat after a re-queue). */
  heartbeat(trialId: number): boolean {
    this.usable();
    return this.store.heartbeat(trialId);
  }

  recordEpoch(trialId: number, report: EpochReport): void {
    this.usable();
    this.store.recordEpoch(this.id, trialId, report);
  }

  /** Trials the study asks for in all. */
  get trialTarget(): number {
    return this.cfg.trials;
  }

  /**
   * What an executor trains for a proposal: the study's child settings (with
   * seedPerTrial, child seed childSeed + the trial's ask order) and whether
   * the child evaluates the test split at the end.
   */
  trialSpec(p: Proposal): TrialSpec {
    const t = this.store.trialOf(this.id, p.trialId);
    const data = this.dataFingerprint();
    return {
      trialId: p.trialId,
      pattern: p.pattern,
      child: { ...this.cfg.child, childSeed: trialChildSeed(this.cfg, t.askOrder) },
      evaluateTest: this.cfg.evaluateTest ?? false,
      attempt: t.attempts,
      ...(data !== null ? { data } : {}),
    };
  }

  /** The fingerprint of the data this study's children train on: the first finished child's (TrialOutcome.data), null before one has (one study, one dataset: any trial id). */
  dataFingerprint(_trialId?: number): string | null {
    // The first finished child's fingerprint never changes once recorded: read it until there is one, then keep it.
    return (this.knownFingerprint ??= this.store.dataFingerprint(this.id));
  }

  /** The child seed a trial trains with (trialChildSeed). */
  childSeedOf(trialId: number): number {
    return trialChildSeed(this.cfg, this.store.trialOf(this.id, trialId).askOrder);
  }

  /** The coordinator's decision after an epoch: stop when the study prunes and the epoch is not the child's last. */
  stopAfter(trialId: number, report: EpochReport): boolean {
    return this.cfg.prune !== 'none' && report.epoch < this.cfg.child.epochs && this.shouldPrune(trialId, report);
  }

  /** Whether the study's pruner stops this trial after this epoch (false without a pruner). */
  shouldPrune(trialId: number, report: EpochReport): boolean {
    this.usable();
    return this.pruner ? this.pruner.shouldPrune(this.store, this.id, trialId, report.epoch, report.value) : false;
  }

  /**
   * Puts a queued or running trial back in the queue. `countsAsAttempt`
   * (default true: a lost worker) adds one attempt; at maxAttempts the trial
   * is told failed with `reason` instead. Returns the trial's new state.
   */
  requeue(trialId: number, reason: string, countsAsAttempt = true): 'queued' | 'failed' {
    this.usable();
    const t = this.store.trialOf(this.id, trialId);
    if (t.state !== 'queued' && t.state !== 'running') throw new StoreError(`trial ${trialId} is ${t.state}; only a queued or running trial can be re-queued`);
    if (countsAsAttempt && t.attempts + 1 >= this.maxAttempts) {
      this.tellInternal(trialId, { state: 'failed', error: `${reason} (after ${t.attempts + 1} attempts)` }, () => this.store.requeue(this.id, trialId, reason, true));
      return 'failed';
    }
    this.store.requeue(this.id, trialId, reason, countsAsAttempt);
    this.handedOut.delete(trialId);
    return 'queued';
  }

  /** Running trials whose heartbeat is older than `timeoutMs`, re-queued as failed attempts; returns their ids. */
  requeueStale(timeoutMs: number, now = Date.now()): number[] {
    this.usable();
    const stale = this.store.staleRunning(this.id, now - timeoutMs);
    for (const t of stale) this.requeue(t.id, `no heartbeat for ${Math.round(timeoutMs / 1000)} s (worker ${t.worker ?? '?'})`, true);
    return stale.map((t) => t.id);
  }

  /** Failed attempts so far. */
  attempts(trialId: number): number {
    return this.store.trialOf(this.id, trialId).attempts;
  }

  /** Runs `fn`'s writes to this study (marks, epochs, tells: each a transaction of its own) as one transaction, committed once. */
  transaction(fn: () => void): void {
    this.usable();
    this.store.transaction(fn);
  }

  /** Stores the outcome of a queued or running trial; rl: may run a controller update (see the top of this file). */
  tell(trialId: number, outcome: TrialOutcome): void {
    this.usable();
    this.tellInternal(trialId, outcome);
  }

  private tellInternal(trialId: number, outcome: TrialOutcome, before?: () => void): void {
    const t = this.store.trialOf(this.id, trialId);
    if (isFinished(t.state)) throw new StoreError(`trial ${trialId} is already ${t.state}; a trial is told once`);
    const f = this.finishFor(t, outcome);
    let mutated = false;
    try {
      this.store.transaction(() => {
        before?.();
        const rec = this.store.finishTrial(this.id, trialId, f);
        mutated = this.sampler.learns;
        const up = this.sampler.observe({ trialId, tokens: rec.tokens, logProbOld: rec.logProb, reward: f.updateReward!, policyVersion: rec.policyVersion });
        if (up) Study.persistCheckpoint(this.store, this.id, up);
      });
    } catch (e) {
      if (mutated) this.broken = e as Error;
      throw e;
    }
    this.handedOut.delete(trialId);
    const b = this.bestKnown;
    // Ties go to the earliest asked, as in the store's bestTrial.
    if (f.state === 'done' && f.reward !== null && this.bestKnownAt === this.store.rollbacks && (b === null || f.reward > b.reward || (f.reward === b.reward && t.askOrder < b.askOrder))) {
      this.bestKnown = { trialId, reward: f.reward, askOrder: t.askOrder };
    }
  }

  /** The stored result of an outcome: its reward and the reward it enters the controller update with. */
  private finishFor(t: TrialRecord, o: TrialOutcome): FinishTrial {
    const floor = (): number => this.store.minReward(this.id) ?? 0;
    switch (o.state) {
      case 'done':
        if (!Number.isFinite(o.reward)) throw new RangeError(`tell: trial ${t.id} is done with reward ${o.reward}; a done trial needs a finite reward (tell it failed instead)`);
        return { state: 'done', reward: o.reward, updateReward: o.reward, val: o.val, test: o.test ?? null, trainSeconds: o.trainSeconds, data: o.data ?? null };
      case 'pruned': {
        const last = this.store.epochs(t.id).at(-1)?.value;
        const r = Number.isFinite(o.reward) ? o.reward : last !== undefined ? last : floor();
        return {
          state: 'pruned',
          reward: r,
          updateReward: r,
          prunedAtEpoch: o.atEpoch,
          trainSeconds: o.trainSeconds,
          val: this.store.epochs(t.id).at(-1)?.metrics.val ?? null,
          data: o.data ?? null,
        };
      }
      case 'failed':
        return { state: 'failed', reward: null, updateReward: floor(), error: String(o.error) };
      default:
        throw new RangeError(`tell: unknown outcome state ${String((o as { state: unknown }).state)}`);
    }
  }

  counts(): TrialCounts {
    return this.store.counts(this.id);
  }

  /** The done trial with the highest reward. */
  best(): { trialId: number; reward: number } | null {
    if (this.bestKnownAt !== this.store.rollbacks) {
      const r = this.store.bestTrial(this.id);
      this.bestKnown = r ? { trialId: r.id, reward: r.reward!, askOrder: r.askOrder } : null;
      this.bestKnownAt = this.store.rollbacks;
    }
    const b = this.bestKnown;
    return b ? { trialId: b.trialId, reward: b.reward } : null;
  }

  trial(trialId: number): TrialRecord {
    return this.store.trialOf(this.id, trialId);
  }

  trials(states?: readonly TrialState[]): TrialRecord[] {
    return this.store.trials(this.id, states);
  }

  /** Releases the study's lock, frees the controller, and closes the store if the study opened it. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.store.isOpen) this.store.releaseLock(this.id);
    } finally {
      this.sampler.dispose();
      if (this.ownsStore) this.store.close();
    }
  }
}
