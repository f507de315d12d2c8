// What the dashboard shows, read from a search (or compare) database in one
// pass: every study's summary (search/status.ts), its best-so-far curve and
// controller statistics (report/report.ts, the same numbers `report` plots),
// every trial with its per-epoch validation metric, the token axes of its
// search space (for the parallel coordinates), and for a compare database
// its results (compare/results.ts). Read-only and JSON-ready: the server
// sends it to every open page whenever the file changes.
import type { CompareResults } from '../compare/results.js';
import { controllerCurve, metricName, studyCurve, type ControllerPoint, type CurvePoint, type MetricName, type StudyRow } from '../report/report.js';
import { metricFromReward } from '../search/reward.js';
import { studySummary, type StudySummary } from '../search/status.js';
import type { SearchStore, StudyRecord, TrialRecord } from '../search/store.js';
import type { TrialState } from '../search/types.js';
import type { SlotDescriptor } from '../patterns/types.js';

export interface TrialRow {
  id: number;
  study: string;
  askOrder: number;
  /** Position among the study's told trials (1-based), null until told. */
  told: number | null;
  state: TrialState;
  /** The validation metric of the reward (accuracy, or perplexity); null without a reward. */
  value: number | null;
  reward: number | null;
  worker: string | null;
  attempts: number;
  /** Wall seconds from start on a worker to finish (null until both happened). */
  seconds: number | null;
  finished: number | null;
  error: string | null;
  prunedAtEpoch: number | null;
  tokens: number[];
  /** Validation metric after each epoch the child reported. */
  epochs: { epoch: number; value: number }[];
}

/** One axis of the parallel coordinates: a token position of the study's sequence. */
export interface TokenAxis {
  /** Index into the trial's tokens. */
  position: number;
  /** Token type (`size`, `shareC`, `sublayer.ffn`, ...). */
  type: string;
  /** The slot (tile) or layer (span) the token's group governs. */
  group: string;
  /** The value each token index stands for, as text. */
  values: string[];
}

export interface StudyView {
  name: string;
  metric: MetricName;
  summary: StudySummary;
  row: StudyRow;
  curve: CurvePoint[];
  controller: ControllerPoint[];
  /** Null for a study without sampled tokens (fixed) or whose model's slots are unknown here. */
  axes: TokenAxis[] | null;
  trials: TrialRow[];
}

export interface Snapshot {
  db: string;
  /** Milliseconds since the epoch when it was read. */
  read: number;
  studies: StudyView[];
  /** A compare database's results (null for a search database). */
  compare: CompareResults | null;
}

const valueText = (v: unknown): string => (Array.isArray(v) ? v.join('×') : String(v));

/** The token axes of a study's sequence, from its space and its model's slots (one home: patterns/spaces.ts). */
async function tokenAxes(s: StudyRecord, slotsOf: (model: string) => Promise<readonly SlotDescriptor[]>): Promise<TokenAxis[] | null> {
  if (s.config.strategy === 'fixed') return null;
  const { getSpace, tokenGroups } = await import('../patterns/spaces.js');
  const space = getSpace(s.config.space);
  let groups;
  try {
    groups = tokenGroups(space, await slotsOf(s.config.child.model));
  } catch {
    return null;
  }
  const axes: TokenAxis[] = [];
  for (const g of groups) for (const k of g.tokens) axes.push({ position: axes.length, type: space.tokens[k].name, group: g.name, values: space.tokens[k].values.map(valueText) });
  return axes;
}

function trialRow(store: SearchStore, s: StudyRecord, t: TrialRecord, told: Map<number, number>): TrialRow {
  const task = s.config.child.task;
  return {
    id: t.id,
    study: s.name,
    askOrder: t.askOrder,
    told: told.get(t.id) ?? null,
    state: t.state,
    value: t.reward === null ? null : metricFromReward(task, t.reward).value,
    reward: t.reward,
    worker: t.worker,
    attempts: t.attempts,
    seconds: t.started !== null && t.finished !== null ? (t.finished - t.started) / 1000 : null,
    finished: t.finished,
    error: t.error,
    prunedAtEpoch: t.prunedAtEpoch,
    tokens: t.tokens,
    epochs: store.epochs(t.id).map((e) => ({ epoch: e.epoch, value: metricFromReward(task, e.value).value })),
  };
}

/** A model's dropout slots, loaded once per model (models/index.ts loads the engine's module graph: slow the first time). */
export function slotCache(): (model: string) => Promise<readonly SlotDescriptor[]> {
  const cache = new Map<string, readonly SlotDescriptor[]>();
  return async (model) => {
    let slots = cache.get(model);
    if (!slots) {
      const { modelSlots } = await import('../models/index.js');
      slots = modelSlots(model);
      cache.set(model, slots);
    }
    return slots;
  };
}

/** Everything the page shows, read now. */
export async function readSnapshot(store: SearchStore, o: { slotsOf?: (model: string) => Promise<readonly SlotDescriptor[]>; now?: () => number } = {}): Promise<Snapshot> {
  const slotsOf = o.slotsOf ?? slotCache();
  const studies: StudyView[] = [];
  for (const s of store.listStudies()) {
    const { row, curve } = studyCurve(store, s);
    const told = new Map(curve.map((p) => [p.trialId, p.trials]));
    studies.push({
      name: s.name,
      metric: metricName(s.config.child.task),
      summary: studySummary(store, s.name),
      row,
      curve,
      controller: controllerCurve(store, s),
      axes: await tokenAxes(s, slotsOf),
      trials: store.trials(s.id).map((t) => trialRow(store, s, t, told)),
    });
  }
  let compare: CompareResults | null = null;
  if (studies.length && studies.every((v) => v.summary.strategy === 'fixed')) {
    const { storedCompareSetup, collectResults } = await import('../compare/results.js');
    const setup = storedCompareSetup(store);
    if (setup) compare = collectResults(store, setup);
  }
  return { db: store.path, read: (o.now ?? Date.now)(), studies, compare };
}
