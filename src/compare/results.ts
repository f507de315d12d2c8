// A comparison's results, read from its database: every run (pattern, seed,
// per-epoch validation, test metric, seconds), every grid point, the summary
// per pattern (mean ± sample std over seeds), and each pattern against the
// best baseline (paired over seeds: differences, t-test, Wilcoxon); then the
// three files: results.json (all of it), results.md (the tables) and
// results.png (means with ±1 std error bars and every seed's value).
//
// Direction: image tasks report test accuracy (higher is better), language
// models test perplexity (lower is better). "Best" and "better" follow the
// metric everywhere; differences are pattern − baseline in the metric's units.
// The best baseline is the baseline (preset or tuned) with the best mean test
// metric: the hardest one for a candidate to beat.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PatternFile } from '../patterns/types.js';
import { rewardKind } from '../search/reward.js';
import { SearchStore, type TrialRecord } from '../search/store.js';
import { trialChildSeed, type ChildTrainConfig, type EpochReport, type TrialState } from '../search/types.js';
import type { ChartSpec } from '../report/chart.js';
import { gridPoints, parseGrid, type GridValue } from './grid.js';
import { presetNames } from '../patterns/presets.js';
import { GRID_STUDY_PREFIX, gridWinner, type CompareSetup } from './run.js';
import { pairedTest, summarize, type PairedTest } from './stats.js';
import type { ComparedPattern, PatternRole } from './patterns.js';

export const RESULTS_FORMAT = 'autodropout/compare-results@1';

export interface Metric {
  name: 'accuracy' | 'perplexity';
  better: 'higher' | 'lower';
}

export interface RunResult {
  pattern: string;
  seed: number;
  trialId: number;
  state: TrialState;
  /** Per epoch: training loss and the validation metrics. */
  epochs: { epoch: number; trainLoss: number; val: EpochReport['val']; seconds: number }[];
  /** The test-split metric (accuracy or perplexity); null unless the run finished. */
  test: number | null;
  testMetrics: EpochReport['val'] | null;
  /** Validation metric after the last epoch. */
  val: number | null;
  /** Seconds of training steps (the trainer's count: no data loading, no evaluation). */
  seconds: number | null;
  /** Wall seconds from the run's start on a worker to its end. */
  wallSeconds: number | null;
  error: string | null;
}

export interface PatternResult {
  label: string;
  role: PatternRole;
  /** preset:NAME, a file path, best:DB:STUDY, or the grid it won. */
  source: string;
  /** Set for a tuned baseline: the grid and the setting that won it. */
  tuned: { grid: string; setting: Record<string, GridValue> } | null;
  file: PatternFile;
  /** Test metric by seed (null: that run is missing or failed). */
  values: (number | null)[];
  n: number;
  mean: number | null;
  std: number | null;
  /** Mean validation metric after the last epoch, over the same runs. */
  valMean: number | null;
  /** Mean training seconds per run. */
  secondsMean: number | null;
}

export interface GridResult {
  grid: string;
  preset: string;
  points: { label: string; setting: Record<string, GridValue>; state: TrialState | 'missing'; val: number | null; seconds: number | null; wallSeconds: number | null; error: string | null }[];
  /** The point with the best validation metric (null until every point finished, or if all failed). */
  winner: string | null;
}

export interface Comparison extends PairedTest {
  pattern: string;
  baseline: string;
  /** Seeds on which the pattern's test metric is strictly better than the baseline's. */
  wins: number;
  seeds: number[];
}

export interface CompareResults {
  format: typeof RESULTS_FORMAT;
  task: ChildTrainConfig['task'];
  model: string;
  metric: Metric;
  child: ChildTrainConfig;
  seeds: number[];
  /** Every pattern × seed run has finished (done or failed). */
  complete: boolean;
  patterns: PatternResult[];
  grids: GridResult[];
  bestBaseline: string | null;
  comparisons: Comparison[];
  runs: RunResult[];
  /** Training seconds and wall seconds of every run and grid point, summed (one core each). */
  totalSeconds: number;
  totalWallSeconds: number;
}

/** The metric a task reports on the test split, and its direction. */
export function metricOf(task: ChildTrainConfig['task']): Metric {
  return rewardKind(task) === 'accuracy' ? { name: 'accuracy', better: 'higher' } : { name: 'perplexity', better: 'lower' };
}

function metricValue(m: Metric, v: EpochReport['val'] | null): number | null {
  if (!v) return null;
  return m.name === 'accuracy' ? (v.accuracy ?? null) : (v.perplexity ?? Math.exp(v.loss));
}

/** Whether a is better than b under the metric. */
export const isBetter = (m: Metric, a: number, b: number): boolean => (m.better === 'higher' ? a > b : a < b);

function runsOf(store: SearchStore, metric: Metric, name: string, seeds: number): RunResult[] {
  const s = store.getStudy(name);
  if (!s) return [];
  // The first `seeds` runs (ask order = seed index): a study may hold more from an earlier, larger --seeds.
  return store.trials(s.id).filter((t: TrialRecord) => t.askOrder < seeds).map((t: TrialRecord) => {
    const epochs = store.epochs(t.id).map((e) => ({ epoch: e.epoch, trainLoss: e.metrics.trainLoss, val: e.metrics.val, seconds: e.metrics.seconds }));
    const done = t.state === 'done';
    return {
      pattern: name,
      seed: trialChildSeed(s.config, t.askOrder),
      trialId: t.id,
      state: t.state,
      epochs,
      test: done ? metricValue(metric, t.test) : null,
      testMetrics: t.test,
      val: done ? metricValue(metric, t.val) : null,
      seconds: t.trainSeconds,
      wallSeconds: t.started !== null && t.finished !== null ? (t.finished - t.started) / 1000 : null,
      error: t.error,
    };
  });
}

/** collectResults over a comparison database, opened read-only for the call. */
export function readResults(db: string, setup: CompareSetup): CompareResults {
  const store = SearchStore.open(db, { readonly: true });
  try {
    return collectResults(store, setup);
  } finally {
    store.close();
  }
}

/** Everything a comparison has produced so far, from its database. */
export function collectResults(store: SearchStore, setup: CompareSetup): CompareResults {
  const metric = metricOf(setup.child.task);
  const seeds = Array.from({ length: setup.seeds }, (_, k) => trialChildSeed({ child: setup.child, seedPerTrial: true } as never, k));
  const grids: GridResult[] = [];
  const entries: { label: string; role: PatternRole; source: string; tuned: PatternResult['tuned']; file: PatternFile }[] = [];
  for (const p of setup.patterns.filter((x) => x.role === 'baseline')) entries.push({ label: p.label, role: p.role, source: p.source, tuned: null, file: p.file });
  for (const g of setup.grids) {
    const points = gridPoints(g);
    const rows = points.map((point) => {
      const [r] = runsOf(store, metric, `${GRID_STUDY_PREFIX}${point.label}`, 1);
      return {
        label: point.label,
        setting: point.setting,
        state: r?.state ?? ('missing' as const),
        val: r?.val ?? null,
        seconds: r?.seconds ?? null,
        wallSeconds: r?.wallSeconds ?? null,
        error: r?.error ?? null,
      };
    });
    const finished = rows.every((r) => r.state === 'done' || r.state === 'failed' || r.state === 'pruned');
    const w = finished ? gridWinner(store, points) : null;
    grids.push({ grid: g.text, preset: g.preset, points: rows, winner: w?.label ?? null });
    if (w) entries.push({ label: w.label, role: 'baseline', source: `--grid ${g.text}`, tuned: { grid: g.text, setting: w.setting }, file: w.file });
  }
  for (const p of setup.patterns.filter((x) => x.role === 'candidate')) entries.push({ label: p.label, role: p.role, source: p.source, tuned: null, file: p.file });

  const runs: RunResult[] = [];
  const patterns: PatternResult[] = entries.map((e) => {
    const own = runsOf(store, metric, e.label, setup.seeds);
    runs.push(...own);
    const bySeed = new Map(own.filter((r) => r.test !== null).map((r) => [r.seed, r]));
    const values = seeds.map((s) => bySeed.get(s)?.test ?? null);
    const present = [...bySeed.values()];
    const sum = summarize(present.map((r) => r.test!));
    return {
      ...e,
      values,
      n: sum.n,
      mean: sum.mean,
      std: sum.std,
      valMean: summarize(present.map((r) => r.val!)).mean,
      secondsMean: summarize(present.map((r) => r.seconds ?? 0)).mean,
    };
  });

  const baselines = patterns.filter((p) => p.role === 'baseline' && p.mean !== null);
  const best = baselines.reduce<PatternResult | null>((b, p) => (b === null || isBetter(metric, p.mean!, b.mean!) ? p : b), null);
  const comparisons: Comparison[] = [];
  if (best) {
    for (const p of patterns) {
      if (p === best || p.n === 0) continue;
      const paired = seeds.map((s, i) => ({ s, a: p.values[i], b: best.values[i] })).filter((x) => x.a !== null && x.b !== null);
      const a = paired.map((x) => x.a!);
      const b = paired.map((x) => x.b!);
      comparisons.push({
        pattern: p.label,
        baseline: best.label,
        seeds: paired.map((x) => x.s),
        wins: paired.filter((x) => isBetter(metric, x.a!, x.b!)).length,
        ...pairedTest(a, b),
      });
    }
  }
  const expected = entries.length * setup.seeds;
  const finishedRuns = runs.filter((r) => r.state === 'done' || r.state === 'failed' || r.state === 'pruned').length;
  const allGrids = grids.every((g) => g.winner !== null || g.points.every((p) => p.state === 'failed'));
  const gridRows = grids.flatMap((g) => g.points);
  const sum = (xs: (number | null)[]): number => xs.reduce<number>((a, x) => a + (x ?? 0), 0);
  return {
    format: RESULTS_FORMAT,
    task: setup.child.task,
    model: setup.child.model,
    metric,
    child: setup.child,
    seeds,
    complete: allGrids && finishedRuns === expected && entries.length === setup.patterns.length + setup.grids.length,
    patterns,
    grids,
    bestBaseline: best?.label ?? null,
    comparisons,
    runs,
    totalSeconds: sum([...runs, ...gridRows].map((x) => x.seconds)),
    totalWallSeconds: sum([...runs, ...gridRows].map((x) => x.wallSeconds)),
  };
}

/**
 * The comparison a compare database holds, read back from its studies alone
 * (for readers that have no compare command line, such as the dashboard):
 * every study is `fixed` with one trial per seed (seedPerTrial); the
 * `grid:LABEL` studies are the grid points, grouped by preset with their
 * values in the order the points were created (the first field varies
 * slowest, as gridPoints makes them); a study named after a grid point is
 * that grid's winner (collectResults finds it); the others are the
 * --patterns in the order given (presets: baselines; files: candidates).
 * Null when the file is not a compare database.
 */
export function storedCompareSetup(store: SearchStore): CompareSetup | null {
  const studies = store.listStudies();
  if (studies.length === 0 || studies.some((s) => s.config.strategy !== 'fixed' || !s.config.seedPerTrial || s.fixedPattern === null)) return null;
  const pointStudies = studies.filter((s) => s.name.startsWith(GRID_STUDY_PREFIX));
  const pointLabels = new Set(pointStudies.map((s) => s.name.slice(GRID_STUDY_PREFIX.length)));
  const byPreset = new Map<string, Map<string, string[]>>();
  for (const s of pointStudies) {
    // `dropblock[blockSize=3,keepProb=0.8]`: grid values never hold a comma (the flag splits on them).
    const m = /^([^[]+)\[(.*)\]$/.exec(s.name.slice(GRID_STUDY_PREFIX.length));
    if (!m) continue;
    const params = byPreset.get(m[1]) ?? new Map<string, string[]>();
    byPreset.set(m[1], params);
    for (const kv of m[2].split(',')) {
      const eq = kv.indexOf('=');
      const [k, v] = [kv.slice(0, eq), kv.slice(eq + 1)];
      const values = params.get(k) ?? [];
      if (!values.includes(v)) values.push(v);
      params.set(k, values);
    }
  }
  const grids = [...byPreset].map(([preset, params]) => parseGrid(`${preset}:${[...params].map(([k, vs]) => `${k}=${vs.join(',')}`).join(';')}`));
  const finals = studies.filter((s) => !s.name.startsWith(GRID_STUDY_PREFIX) && !pointLabels.has(s.name));
  const presets = presetNames();
  const patterns: ComparedPattern[] = finals.map((s) => {
    const fixed = s.config.fixed ?? s.name;
    const baseline = presets.includes(fixed);
    return { label: s.name, role: baseline ? 'baseline' : 'candidate', fixed, file: s.fixedPattern!, source: baseline ? `preset:${fixed}` : s.name.startsWith('best:') ? s.name : fixed };
  });
  const seeded = studies.filter((s) => !s.name.startsWith(GRID_STUDY_PREFIX));
  return {
    child: studies[0].config.child,
    patterns,
    grids,
    seeds: seeded.length ? Math.max(...seeded.map((s) => s.config.trials)) : 1,
    codeVersion: studies[0].config.codeVersion,
  };
}

// ------------------------------------------------------------------ writing

/** A metric value as the tables print it: accuracy in %, perplexity as is. */
export function formatMetric(m: Metric, v: number | null): string {
  if (v === null) return '–';
  return m.name === 'accuracy' ? `${(v * 100).toFixed(2)}%` : v.toFixed(2);
}

/** A paired difference as the tables print it: signed, in points for accuracy, in perplexity as is. */
export function formatDiff(m: Metric, v: number | null): string {
  if (v === null) return '–';
  const sign = v > 0 ? '+' : v < 0 ? '−' : '±';
  return m.name === 'accuracy' ? `${sign}${Math.abs(v * 100).toFixed(2)} pp` : `${sign}${Math.abs(v).toFixed(2)}`;
}

/** A standard deviation as the tables print it after a value (' ± s'), in the value's units. */
export function formatSpread(m: Metric, v: number | null): string {
  if (v === null) return '';
  return m.name === 'accuracy' ? ` ± ${(v * 100).toFixed(2)}` : ` ± ${v.toFixed(2)}`;
}

/** A p-value with four decimals, or in scientific notation below 1e-4. */
export function formatP(p: number | null): string {
  if (p === null) return '–';
  return p < 1e-4 ? p.toExponential(2) : p.toFixed(4);
}

const table = (head: string[], rows: string[][]): string =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`)].join('\n');

/** The child settings in one line (what every run shares). */
function childLine(c: ChildTrainConfig): string {
  const { childSeed: _s, task: _t, model: _m, ...rest } = c;
  return Object.entries(rest)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ');
}

export function resultsMarkdown(r: CompareResults): string {
  const m = r.metric;
  const what = `test ${m.name} (${m.better} is better)`;
  const out: string[] = [
    `# Comparison: ${r.model} on ${r.task}, ${r.seeds.length} seed${r.seeds.length === 1 ? '' : 's'}`,
    '',
    `Every pattern trained with child seeds ${r.seeds.join(', ')} under the same settings (${childLine(r.child)}); ` +
      `the ${what} is measured once, after the last epoch. Mean ± sample standard deviation over seeds.` +
      (r.complete ? '' : ' **Incomplete: some runs have not finished; rerun the same command to continue.**'),
    '',
    table(
      ['pattern', 'role', 'n', `${what}`, ...r.seeds.map((s) => `seed ${s}`), `val ${m.name}`, 's/run'],
      r.patterns.map((p) => [
        p.label === r.bestBaseline ? `**${p.label}**` : p.label,
        p.tuned ? 'baseline (tuned)' : p.role,
        String(p.n),
        `${formatMetric(m, p.mean)}${formatSpread(m, p.std)}`,
        ...p.values.map((v) => formatMetric(m, v)),
        formatMetric(m, p.valMean),
        p.secondsMean === null ? '–' : p.secondsMean.toFixed(1),
      ]),
    ),
    '',
  ];
  if (r.bestBaseline) {
    out.push(
      `## Against the best baseline: ${r.bestBaseline}`,
      '',
      `The best baseline is the baseline with the best mean ${what}. Differences are pattern − baseline, seed by seed ` +
        `(${m.name === 'accuracy' ? 'percentage points; positive is better' : 'perplexity; negative is better'}); ` +
        'p-values are two-sided: a paired t-test across seeds and a Wilcoxon signed-rank test (exact up to 50 pairs without ties or zero differences).',
      '',
      table(
        ['pattern', 'role', 'difference (mean ± std)', 'better on', 't', 'p (paired t)', 'p (Wilcoxon)'],
        r.comparisons.map((c) => {
          const p = r.patterns.find((x) => x.label === c.pattern)!;
          return [
            c.pattern,
            p.tuned ? 'baseline (tuned)' : p.role,
            `${formatDiff(m, c.meanDiff)}${formatSpread(m, c.stdDiff === null ? null : Math.abs(c.stdDiff))}`,
            `${c.wins}/${c.n} seeds`,
            c.t === null ? '–' : c.t.toFixed(3),
            formatP(c.pValue),
            formatP(c.wilcoxonP) + (c.note ? ` (${c.note})` : ''),
          ];
        }),
      ),
      '',
    );
  } else out.push('No baseline finished a run, so nothing is compared pairwise.', '');
  for (const g of r.grids) {
    out.push(
      `## Tuned baseline: --grid '${g.grid}'`,
      '',
      `Each setting trained once at seed ${r.seeds[0] ?? 0} and scored on the validation split (never the test split); ` +
        (g.winner ? `**${g.winner}** won and ran with every seed above.` : 'no winner yet.'),
      '',
      table(
        ['setting', 'state', `val ${m.name}`, 's'],
        g.points.map((p) => [p.label === g.winner ? `**${p.label}**` : p.label, p.state, formatMetric(m, p.val), p.seconds === null ? '–' : p.seconds.toFixed(1)]),
      ),
      '',
    );
  }
  const failed = r.runs.filter((x) => x.state === 'failed');
  if (failed.length) out.push('## Failed runs', '', ...failed.map((f) => `- ${f.pattern}, seed ${f.seed}: ${f.error ?? 'failed'}`), '');
  const n = r.runs.length + r.grids.reduce((a, g) => a + g.points.length, 0);
  out.push(
    `Compute: ${n} runs (every seed and grid point, one core each): ${(r.totalWallSeconds / 60).toFixed(1)} min of worker time, ` +
      `${(r.totalSeconds / 60).toFixed(1)} min of it in training steps (the rest: data loading, validation, test). Per-run details: results.json.`,
    '',
  );
  return out.join('\n');
}

/** Means with ±1 std error bars and every seed's value, one row per pattern. */
export function resultsChart(r: CompareResults): ChartSpec {
  const m = r.metric;
  const scale = m.name === 'accuracy' ? 100 : 1;
  const unit = m.name === 'accuracy' ? 'test accuracy (%)' : 'test perplexity';
  const order = r.patterns.map((p) => p.label);
  const roleOf = (p: PatternResult): string => (p.tuned ? 'baseline (tuned)' : p.role);
  const points = r.patterns.flatMap((p) => p.values.flatMap((v, i) => (v === null ? [] : [{ pattern: p.label, role: roleOf(p), seed: r.seeds[i], value: v * scale }])));
  const means = r.patterns
    .filter((p) => p.mean !== null)
    .map((p) => ({ pattern: p.label, role: roleOf(p), mean: p.mean! * scale, lo: (p.mean! - (p.std ?? 0)) * scale, hi: (p.mean! + (p.std ?? 0)) * scale }));
  const y = { field: 'pattern', type: 'nominal', sort: order, title: null, axis: { labelLimit: 360 } } as const;
  const x = (field: string) => ({ field, type: 'quantitative', scale: { zero: false }, title: unit }) as const;
  const color = { field: 'role', type: 'nominal', title: 'role', scale: { domain: ['baseline', 'baseline (tuned)', 'candidate'], range: ['#7f7f7f', '#1f77b4', '#d62728'] } } as const;
  return {
    title: { text: `${r.model} on ${r.task}: ${unit}, mean ± std over ${r.seeds.length} seeds`, subtitle: `${m.better} is better; small dots: one seed each` },
    width: 480,
    height: { step: 28 },
    layer: [
      {
        data: { values: points },
        mark: { type: 'point', opacity: 0.55, size: 30 },
        encoding: { y, x: x('value'), color },
      },
      { data: { values: means }, mark: { type: 'errorbar', ticks: true }, encoding: { y, x: x('lo'), x2: { field: 'hi' }, color } },
      { data: { values: means }, mark: { type: 'point', filled: true, size: 90, shape: 'diamond' }, encoding: { y, x: x('mean'), color } },
    ],
  } as ChartSpec;
}

/** Writes results.json, results.md and results.png into `dir`; returns their paths. */
export async function writeResults(dir: string, r: CompareResults): Promise<{ json: string; md: string; png: string }> {
  mkdirSync(dir, { recursive: true });
  const paths = { json: join(dir, 'results.json'), md: join(dir, 'results.md'), png: join(dir, 'results.png') };
  writeFileSync(paths.json, `${JSON.stringify(r, null, 1)}\n`);
  writeFileSync(paths.md, resultsMarkdown(r));
  const { chartPng } = await import('../report/chart.js');
  writeFileSync(paths.png, await chartPng(resultsChart(r)));
  return paths;
}
