// What a study looks like from outside: a summary for `autodropout status`
// and the dashboard, and the export of its best pattern as a pattern file
// with provenance. Read-only and engine-free: safe to run next to a live
// coordinator (WAL readers never block the writer), and fast to start.
import { savePatternFile } from '../patterns/io.js';
import type { PatternFile } from '../patterns/types.js';
import { rewardKind } from './reward.js';
import { SearchStore, StoreError, type StudyLock, type StudyRecord, type TrialCounts, type TrialRecord } from './store.js';
import type { EpochReport, StudyConfig } from './types.js';

export interface StudySummary {
  db: string;
  name: string;
  strategy: StudyConfig['strategy'];
  space: StudyConfig['space'];
  task: StudyConfig['child']['task'];
  model: string;
  seed: number;
  /** What the reward measures: accuracy (images) or 80 / perplexity (language models). */
  reward: 'accuracy' | 'inverse-perplexity';
  codeVersion: string;
  /** ISO time the study was created. */
  created: string;
  trials: { target: number; asked: number };
  counts: TrialCounts;
  best: { trialId: number; reward: number; val: EpochReport['val'] | null; pattern: PatternFile } | null;
  /** Finished trials (done, failed, pruned) per hour from the first ask to the last finish; null before any finish. */
  trialsPerHour: number | null;
  /** rl: the controller's newest version, its EMA baseline and its last update's statistics; null for other strategies. */
  controller: { version: number; baseline: number | null; lastUpdate: Record<string, unknown> | null } | null;
  /** The coordinator holding the study, if any (a dead process's lock remains until the next resume). */
  lock: StudyLock | null;
  /** The newest failures, newest first (at most 5). */
  recentFailures: { trialId: number; error: string }[];
  /** The fingerprint of the data its children trained on (src/data/fingerprint.ts), null before the first finished. */
  data: string | null;
}

function withStore<T>(db: SearchStore | string, fn: (s: SearchStore) => T): T {
  const store = typeof db === 'string' ? SearchStore.open(db, { readonly: true }) : db;
  try {
    return fn(store);
  } finally {
    if (typeof db === 'string') store.close();
  }
}

/** A study's state at a glance; `name` may be omitted when the file holds one study. */
export function studySummary(db: SearchStore | string, name?: string): StudySummary {
  return withStore(db, (store) => {
    const s = store.resolveStudy(name);
    const c = s.config;
    const trials = store.trials(s.id);
    const best = store.bestTrial(s.id);
    const finished = trials.filter((t) => t.finished !== null);
    let perHour: number | null = null;
    if (finished.length > 0) {
      const start = Math.min(...trials.map((t) => t.created));
      const end = Math.max(...finished.map((t) => t.finished!));
      perHour = end > start ? finished.length / ((end - start) / 3.6e6) : null;
    }
    let controller: StudySummary['controller'] = null;
    if (c.strategy === 'rl') {
      const cks = store.checkpoints(s.id);
      const last = cks.at(-1);
      if (last) controller = { version: last.version, baseline: (last.meta.baseline as number | null) ?? null, lastUpdate: last.stats };
    }
    return {
      db: store.path,
      name: s.name,
      strategy: c.strategy,
      space: c.space,
      task: c.child.task,
      model: c.child.model,
      seed: s.seed,
      reward: rewardKind(c.child.task),
      codeVersion: s.codeVersion,
      created: new Date(s.created).toISOString(),
      trials: { target: c.trials, asked: trials.length },
      counts: store.counts(s.id),
      best: best ? { trialId: best.id, reward: best.reward!, val: best.val, pattern: best.pattern } : null,
      trialsPerHour: perHour,
      controller,
      lock: s.lock,
      recentFailures: trials
        .filter((t) => t.state === 'failed')
        .sort((a, b) => (b.tellOrder ?? 0) - (a.tellOrder ?? 0))
        .slice(0, 5)
        .map((t) => ({ trialId: t.id, error: t.error ?? '' })),
      data: store.dataFingerprint(s.id),
    };
  });
}

/**
 * A trial's pattern as a pattern file with provenance: task, model, search
 * (`<db path>#<study>`), reward (absent for a trial without one), seed (the
 * study's), created, trialId, strategy, space, childSeed. What `export` writes
 * and the dashboard's download serves.
 */
export function trialPatternFile(store: SearchStore, s: StudyRecord, t: TrialRecord, now: () => number = Date.now): PatternFile {
  return {
    ...t.pattern,
    provenance: {
      task: s.config.child.task,
      model: s.config.child.model,
      search: `${store.path}#${s.name}`,
      ...(t.reward !== null ? { reward: t.reward } : {}),
      seed: s.seed,
      created: new Date(now()).toISOString(),
      trialId: t.id,
      strategy: s.config.strategy,
      space: s.config.space,
      childSeed: s.config.child.childSeed,
    },
  };
}

export interface ExportResult {
  path: string;
  trialId: number;
  reward: number;
  file: PatternFile;
}

/**
 * Writes the best done trial's pattern to `path` (atomically, creating parent
 * directories) with provenance: task, model, search (`<db path>#<study>`),
 * reward, seed (the study's), created, trialId, strategy, space, childSeed.
 */
export function exportBest(db: SearchStore | string, path: string, options: { name?: string; now?: () => number } = {}): ExportResult {
  return withStore(db, (store) => {
    const s = store.resolveStudy(options.name);
    const best = store.bestTrial(s.id);
    if (!best) throw new StoreError(`study '${s.name}' in ${store.path} has no done trial to export yet`);
    const file = trialPatternFile(store, s, best, options.now);
    savePatternFile(path, file);
    return { path, trialId: best.id, reward: best.reward!, file };
  });
}
