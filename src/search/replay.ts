// Replaying a study from its log (docs/architecture.md §5: "a search can be replayed
// exactly from its log"). A fresh sampler is built from the stored config and
// seed; the trials are walked in ask order; before each one, the controller
// updates that ran before it was asked are applied again with the logged
// inputs (the consumed trials' tokens, log-probs, policy versions and update
// rewards, in the logged order); then the sampler draws (trials the
// controller drew in one batch are redrawn in one batch of the same size) and
// the draw is compared with the stored trial: tokens exactly, log-prob within `tolerance`
// (default 1e-5), policy version, sampling RNG state, and the stored pattern
// against the pattern its tokens decode to. Each update's version and EMA
// baseline are compared with its checkpoint, and each trial's update reward
// is recomputed from the rule in study.ts (failed: the lowest done/pruned
// reward told before it, else 0; done/pruned: its reward).
//
// Zero mismatches means every stored sample is what the seed and the logged
// outcomes imply: nothing was lost, reordered, duplicated or edited.
// Replay needs the engine (rl rebuilds the controller) but only reads the file.
import { isDeepStrictEqual } from 'node:util';
import type { SlotDescriptor } from '../patterns/types.js';
import { getSpace, tokenPositions } from '../patterns/spaces.js';
import { modelSlots } from '../models/index.js';
import { createSampler, storedBatchPlace, type RlSampler, type SamplerState, type StatedDraw } from './samplers.js';
import { SearchStore, type CheckpointRecord, type TrialRecord } from './store.js';
import { checkSpaceFingerprint, patternForTokens } from './study.js';

export type ReplayField = 'tokens' | 'logProb' | 'policyVersion' | 'samplerState' | 'pattern' | 'updateReward' | 'update' | 'version' | 'baseline';

export interface ReplayMismatch {
  /** The trial concerned (null for a whole update). */
  trialId: number | null;
  askOrder: number | null;
  /** The controller update concerned (update, version, baseline). */
  version?: number;
  field: ReplayField;
  stored: unknown;
  replayed: unknown;
}

export interface ReplayResult {
  study: string;
  strategy: string;
  /** Trials whose draw was re-derived and compared. */
  checked: number;
  /** Controller updates re-applied. */
  updates: number;
  mismatches: ReplayMismatch[];
  /** Set when replay could not go on (an update the log cannot reproduce); later trials are unchecked. */
  stopped: string | null;
}

export interface ReplayOptions {
  /** The study (default: the only one in the file). */
  name?: string;
  /** Largest accepted |stored − replayed| of a log-prob or baseline (default 1e-5). */
  tolerance?: number;
  /** The child's slots (default: modelSlots of the stored model). */
  slots?: readonly SlotDescriptor[];
}

/** Re-derives every sample of a study from its seed and log; see the top of this file. */
export function replayStudy(db: SearchStore | string, options: ReplayOptions = {}): ReplayResult {
  const store = typeof db === 'string' ? SearchStore.open(db, { readonly: true }) : db;
  try {
    return run(store, options);
  } finally {
    if (typeof db === 'string') store.close();
  }
}

/** Same as replayStudy. */
export const replay = replayStudy;

function run(store: SearchStore, o: ReplayOptions): ReplayResult {
  const tol = o.tolerance ?? 1e-5;
  const rec = store.resolveStudy(o.name);
  const config = rec.config;
  checkSpaceFingerprint(store.path, config, 'replay');
  const space = getSpace(config.space);
  const slots = o.slots ?? modelSlots(config.child.model);
  const positions = config.strategy === 'fixed' ? [] : tokenPositions(space, slots);
  const trials = store.trials(rec.id);
  const byId = new Map(trials.map((t) => [t.id, t]));
  const mismatches: ReplayMismatch[] = [];
  const result: ReplayResult = { study: rec.name, strategy: config.strategy, checked: 0, updates: 0, mismatches, stopped: null };

  // Update rewards, in tell order.
  let min: number | null = null;
  for (const t of [...trials].filter((x) => x.tellOrder !== null).sort((a, b) => a.tellOrder! - b.tellOrder!)) {
    const want = t.state === 'failed' ? (min ?? 0) : t.reward;
    if (want === null || t.updateReward === null || Math.abs(want - t.updateReward) > tol) {
      mismatches.push({ trialId: t.id, askOrder: t.askOrder, field: 'updateReward', stored: t.updateReward, replayed: want });
    }
    if ((t.state === 'done' || t.state === 'pruned') && t.reward !== null) min = min === null ? t.reward : Math.min(min, t.reward);
  }

  const sampler = createSampler(config, positions);
  try {
    const updates = config.strategy === 'rl' ? store.checkpoints(rec.id).filter((c) => c.version > 0) : [];
    let next = 0;
    /** Re-applies the update of checkpoint c; false when the log cannot reproduce it. */
    const apply = (c: CheckpointRecord): boolean => {
      const rl = sampler as RlSampler;
      const used = c.consumed.map((id) => byId.get(id));
      const missing = c.consumed.filter((_, i) => !used[i] || used[i]!.updateReward === null);
      if (missing.length) {
        mismatches.push({ trialId: null, askOrder: null, version: c.version, field: 'update', stored: c.consumed, replayed: `trials ${missing.join(', ')} are missing or untold` });
        result.stopped = `update ${c.version} consumed trials the log does not hold as told`;
        return false;
      }
      let stats;
      try {
        stats = rl.controller.update(used.map((t) => ({ tokens: t!.tokens, logProbOld: t!.logProb, reward: t!.updateReward!, policyVersion: t!.policyVersion })));
      } catch (e) {
        mismatches.push({ trialId: null, askOrder: null, version: c.version, field: 'update', stored: c.consumed, replayed: (e as Error).message });
        result.stopped = `update ${c.version} failed on the logged samples: ${(e as Error).message}`;
        return false;
      }
      result.updates++;
      if (stats.version !== c.version) mismatches.push({ trialId: null, askOrder: null, version: c.version, field: 'version', stored: c.version, replayed: stats.version });
      const b = c.meta.baseline as number | null;
      if (b === null || Math.abs(b - stats.baseline) > tol) mismatches.push({ trialId: null, askOrder: null, version: c.version, field: 'baseline', stored: b, replayed: stats.baseline });
      return true;
    };
    const applyUpTo = (asked: number): boolean => {
      while (next < updates.length && updates[next].asked <= asked) if (!apply(updates[next++])) return false;
      return true;
    };

    /** The batch being replayed: a trial drawn in a batch is redrawn with its batch, as one (SamplerState). */
    let batch: StatedDraw[] | null = null;
    for (const t of trials) {
      const st = store.samplerState(rec.id, t.askOrder) as SamplerState | null;
      // A place no ask could have stored (a damaged log) is replayed as a single draw; the state comparison reports it.
      const place = storedBatchPlace(st, config.trials) ?? { index: 0, size: 1 };
      // A batch's draws that no stored trial took were dropped by an update (Study.askBatch); a log whose batches do not line up shows as samplerState mismatches.
      if (place.index === 0 || batch?.length !== place.size) {
        if (!applyUpTo(t.askOrder)) break;
        batch = sampler.drawMany(place.size);
      }
      const { draw: d, state } = batch[place.index];
      result.checked++;
      const add = (field: ReplayField, stored: unknown, replayed: unknown): void => void mismatches.push({ trialId: t.id, askOrder: t.askOrder, field, stored, replayed });
      const tokensMatch = isDeepStrictEqual(d.tokens, t.tokens);
      if (!tokensMatch) add('tokens', t.tokens, d.tokens);
      if (!(Math.abs(d.logProb - t.logProb) <= tol)) add('logProb', t.logProb, d.logProb);
      if (d.policyVersion !== t.policyVersion) add('policyVersion', t.policyVersion, d.policyVersion);
      if (!isDeepStrictEqual(st, state)) add('samplerState', st, state);
      checkPattern(t, add);
    }
    if (!result.stopped) applyUpTo(Number.POSITIVE_INFINITY);
  } finally {
    sampler.dispose();
  }
  return result;

  function checkPattern(t: TrialRecord, add: (f: ReplayField, s: unknown, r: unknown) => void): void {
    let want: unknown;
    try {
      want = patternForTokens(space, slots, t.tokens, rec.fixedPattern);
    } catch (e) {
      want = `(tokens do not decode: ${(e as Error).message})`;
    }
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(want)), t.pattern)) add('pattern', t.pattern, want);
  }
}
