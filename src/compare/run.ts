// `autodropout compare`: every pattern × seed trained on the search's
// executors, stored in one search database, resumable like a search.
//
// Layout of the compare database (an ordinary search database, so `status`
// and `report` read it too): one study per pattern on the `fixed` strategy
// whose trials are the seeds (seedPerTrial: trial k trains with child seed
// k) and which evaluate the test split once at the end (evaluateTest); for
// each --grid, one study per grid point with a single trial at seed 0 that
// never sees the test split. Once every point of a grid has finished, the
// point with the best validation reward is run with every seed as a study
// named by its label: that is the tuned baseline.
//
// Rerunning the same command continues whatever the database already holds
// (after a kill, even kill -9, the running trials are re-queued by the
// studies' resume); a different child setting is refused with the fields that
// differ, and a pattern whose content changed since its runs trained (an
// edited file, a search whose best moved on) is refused too.
import { isDeepStrictEqual } from 'node:util';
import { join } from 'node:path';
import { savePatternFile } from '../patterns/io.js';
import type { PatternFile } from '../patterns/types.js';
import { coordinate, createExecutor, type CoordinatorTiming } from '../search/coordinator.js';
import type { Executor } from '../search/executors/types.js';
import { createSearchProgress, type SearchProgress } from '../search/progress.js';
import { SearchStore, StoreError } from '../search/store.js';
import { Study } from '../search/study.js';
import type { ChildTrainConfig, StudyConfig } from '../search/types.js';
import { isImageTask } from '../train/task-names.js';
import { gridPoints, type GridPoint, type GridSpec } from './grid.js';
import { StudyGroup, type PendingStudy } from './group.js';
import { fileSlug, type ComparedPattern } from './patterns.js';

/** What a comparison trains; everything in it is stored with the studies. */
export interface CompareSetup {
  /** The children's settings; childSeed is the first seed (trial k of a pattern trains with childSeed + k). */
  child: ChildTrainConfig;
  patterns: readonly ComparedPattern[];
  grids: readonly GridSpec[];
  /** Seeds per pattern. */
  seeds: number;
  codeVersion: string;
}

export interface RunCompareOptions {
  /** The compare database (created if missing, continued if not). */
  db: string;
  /** Output folder: grid-point pattern files go to OUT/patterns. */
  out: string;
  workers: number;
  executor: 'inline' | 'local' | Executor;
  heartbeatTimeoutMs?: number;
  progress?: SearchProgress;
  handleSignals?: boolean;
  /** Attempts per run when workers die under it (default 2: one retry). */
  maxAttempts?: number;
}

export interface CompareRun {
  interrupted: NodeJS.Signals | null;
  timing: CoordinatorTiming;
  /** Trials finished in this session. */
  finished: number;
  /** Trials that were running when an earlier session stopped, queued again. */
  requeued: number[];
}

/** Grid points are named `grid:LABEL` in the database; a grid's winner is its label. */
export const GRID_STUDY_PREFIX = 'grid:';

/** The `fixed` study behind one pattern's runs (or one grid point's). */
export function compareStudyConfig(setup: CompareSetup, name: string, fixed: string, o: { trials: number; evaluateTest: boolean }): StudyConfig {
  return {
    name,
    strategy: 'fixed',
    // The fixed strategy samples no space; the field records the model family's.
    space: isImageTask(setup.child.task) ? 'tile' : 'span',
    trials: o.trials,
    seed: setup.child.childSeed,
    child: setup.child,
    updateEvery: 1,
    prune: 'none',
    fixed,
    seedPerTrial: true,
    ...(o.evaluateTest ? { evaluateTest: true } : {}),
    codeVersion: setup.codeVersion,
  };
}

/** A grid point's pattern file under OUT/patterns (what its study's `fixed` names). */
export function gridPointPath(out: string, point: GridPoint): string {
  return join(out, 'patterns', `${fileSlug(`${GRID_STUDY_PREFIX}${point.label}`)}.json`);
}

const withoutProvenance = (f: PatternFile): Omit<PatternFile, 'provenance'> => {
  const { provenance: _p, ...rest } = f;
  return rest;
};

/** Opens (creating or continuing) a compare study and checks that it trains the pattern it is meant to. */
function openStudy(store: SearchStore, config: StudyConfig, file: PatternFile, maxAttempts: number): Study {
  // A rerun with fewer --seeds keeps the runs already made (a study never
  // lowers its target); the results then report the first --seeds of them.
  const existing = store.getStudy(config.name);
  const asked = existing ? store.askedCount(existing.id) : 0;
  // The `fixed` path only says where the pattern file was written or read;
  // what the runs trained is the stored pattern, checked below. Keeping the
  // stored path lets a moved output folder or a copied database continue.
  const fixed = existing?.config.fixed ?? config.fixed;
  const s = Study.open(store, { ...config, fixed, trials: Math.max(config.trials, asked) }, { resume: true, maxAttempts });
  if (!isDeepStrictEqual(withoutProvenance(s.record.fixedPattern!), withoutProvenance(file))) {
    s.close();
    throw new StoreError(
      `${store.path}: the runs of '${config.name}' trained another pattern than ${config.fixed} holds now (the file was edited, or the search's best moved on); restore it, or compare into a new --db`,
    );
  }
  return s;
}

/** The grid point with the best validation reward (ties: the earliest in grid order), or null when every point failed. */
export function gridWinner(store: SearchStore, points: readonly GridPoint[]): GridPoint | null {
  let best: { point: GridPoint; reward: number } | null = null;
  for (const point of points) {
    const s = store.getStudy(`${GRID_STUDY_PREFIX}${point.label}`);
    const t = s ? store.bestTrial(s.id) : null;
    if (t && t.reward !== null && (!best || t.reward > best.reward)) best = { point, reward: t.reward };
  }
  return best?.point ?? null;
}

/** Whether every trial of every grid point has been asked and told. */
function gridFinished(store: SearchStore, points: readonly GridPoint[]): boolean {
  return points.every((point) => {
    const s = store.getStudy(`${GRID_STUDY_PREFIX}${point.label}`);
    if (!s) return false;
    const c = store.counts(s.id);
    return store.askedCount(s.id) >= s.config.trials && c.queued === 0 && c.running === 0;
  });
}

/** Trains what is missing of the comparison; results are read from the database afterwards (results.ts). */
export async function runCompare(setup: CompareSetup, o: RunCompareOptions): Promise<CompareRun> {
  const maxAttempts = o.maxAttempts ?? 2;
  const progress = o.progress ?? createSearchProgress();
  const store = SearchStore.open(o.db);
  let group: StudyGroup | null = null;
  try {
    const members: Study[] = [];
    const pending: PendingStudy[] = [];
    try {
      // Grid points first: their winners gate the tuned baselines.
      const grids = setup.grids.map((g) => ({ spec: g, points: gridPoints(g) }));
      for (const g of grids) {
        for (const point of g.points) {
          const path = gridPointPath(o.out, point);
          savePatternFile(path, point.file);
          members.push(openStudy(store, compareStudyConfig(setup, `${GRID_STUDY_PREFIX}${point.label}`, path, { trials: 1, evaluateTest: false }), point.file, maxAttempts));
        }
      }
      for (const p of setup.patterns) members.push(openStudy(store, compareStudyConfig(setup, p.label, p.fixed, { trials: setup.seeds, evaluateTest: true }), p.file, maxAttempts));
      for (const g of grids) {
        pending.push({
          trials: setup.seeds,
          open: () => {
            if (!gridFinished(store, g.points)) return undefined;
            const w = gridWinner(store, g.points);
            if (!w) {
              progress.message(`grid ${g.spec.text}: every point failed; no tuned ${g.spec.preset} baseline`);
              return null;
            }
            progress.message(`grid ${g.spec.text}: ${w.label} has the best validation score; running it with ${setup.seeds} seed(s)`);
            return openStudy(store, compareStudyConfig(setup, w.label, gridPointPath(o.out, w), { trials: setup.seeds, evaluateTest: true }), w.file, maxAttempts);
          },
        });
      }
    } catch (e) {
      for (const s of members) s.close();
      throw e;
    }
    group = new StudyGroup(members, pending);
    const requeued = members.flatMap((s) => s.resumed?.requeued ?? []);
    if (requeued.length) progress.message(`continuing: run(s) ${requeued.join(', ')} were running when the last session stopped and are queued again`);
    const executor = await createExecutor({ executor: o.executor, workers: o.workers, heartbeatTimeoutMs: o.heartbeatTimeoutMs }, progress);
    const g = group;
    const labelled: SearchProgress = {
      ...progress,
      // "trial 7 done: ..." -> "trial 7 (dropblock, seed 3) done: ...".
      trial: (line, c) =>
        progress.trial(
          line.replace(/^trial (\d+)/, (m, id: string) => {
            const s = g.studyOf(Number(id));
            return s ? `${m} (${s.name}, seed ${s.childSeedOf(Number(id))})` : m;
          }),
          c,
        ),
    };
    const r = await coordinate(group, { executor, workers: o.workers, progress: labelled, handleSignals: o.handleSignals });
    return { interrupted: r.interrupted, timing: r.timing, finished: r.finished.length, requeued };
  } finally {
    group?.close();
    store.close();
  }
}
