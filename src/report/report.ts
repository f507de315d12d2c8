// `autodropout report`: what a search database says, as pictures and one
// page. Read-only (safe next to a live coordinator) and engine-free.
//
//  - best-so-far vs trials and vs child-epochs: every study of the file on one
//    chart, so rl and random searches of the same budget overlay. Trials count
//    in the order they were told; a child-epoch is one epoch of one child
//    (done children: all their epochs; pruned and failed ones: the epochs they
//    recorded). The curve is the best validation metric of the done trials so
//    far (accuracy: highest; perplexity: lowest), as `status` and `export`
//    pick the best.
//  - the controller over its updates (rl studies): the entropy of its policy
//    and the EMA reward baseline next to the batch's mean reward, from the
//    statistics stored with every controller checkpoint;
//  - the top-k patterns by validation reward (distinct patterns only: a
//    compare database trains each pattern several times), drawn with
//    patterns/render.ts, one block per slot address of the file.
// report.md links them all; report.json holds the plotted numbers.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatPattern } from '../patterns/io.js';
import { describePattern, renderGallery, type GalleryItem } from '../patterns/render.js';
import type { PatternFile } from '../patterns/types.js';
import { metricFromReward, rewardKind } from '../search/reward.js';
import { SearchStore, type StudyRecord } from '../search/store.js';
import type { ChartSpec } from './chart.js';

export type MetricName = 'accuracy' | 'perplexity';

export interface CurvePoint {
  study: string;
  /** The trial told at this point. */
  trialId: number;
  /** Finished trials so far (tell order). */
  trials: number;
  childEpochs: number;
  /** Best validation metric among done trials so far (null before the first done trial). */
  best: number | null;
}

export interface ControllerPoint {
  study: string;
  version: number;
  entropy: number;
  baseline: number;
  meanReward: number;
}

export interface StudyRow {
  name: string;
  strategy: string;
  task: string;
  model: string;
  metric: MetricName;
  done: number;
  pruned: number;
  failed: number;
  childEpochs: number;
  best: { trialId: number; value: number } | null;
  controllerVersion: number | null;
}

export interface TopPattern {
  rank: number;
  study: string;
  trialId: number;
  metric: MetricName;
  value: number;
  reward: number;
  pattern: PatternFile;
  picture: string;
}

export interface Report {
  db: string;
  studies: StudyRow[];
  curves: CurvePoint[];
  controller: ControllerPoint[];
  top: TopPattern[];
  files: string[];
}

export const metricName = (task: StudyRecord['config']['child']['task']): MetricName => (rewardKind(task) === 'accuracy' ? 'accuracy' : 'perplexity');

/** A study's best-so-far curve and its row of the table (also the dashboard's). */
export function studyCurve(store: SearchStore, s: StudyRecord): { row: StudyRow; curve: CurvePoint[] } {
  const task = s.config.child.task;
  const metric = metricName(task);
  const told = store.trials(s.id).filter((t) => t.tellOrder !== null);
  told.sort((a, b) => a.tellOrder! - b.tellOrder!);
  const curve: CurvePoint[] = [];
  let epochs = 0;
  let bestReward: { trialId: number; reward: number } | null = null;
  told.forEach((t, i) => {
    epochs += store.epochs(t.id).length;
    if (t.state === 'done' && t.reward !== null && (!bestReward || t.reward > bestReward.reward)) bestReward = { trialId: t.id, reward: t.reward };
    const b = bestReward as { trialId: number; reward: number } | null;
    curve.push({ study: s.name, trialId: t.id, trials: i + 1, childEpochs: epochs, best: b ? metricFromReward(task, b.reward).value : null });
  });
  const c = store.counts(s.id);
  const b = bestReward as { trialId: number; reward: number } | null;
  return {
    curve,
    row: {
      name: s.name,
      strategy: s.config.strategy,
      task,
      model: s.config.child.model,
      metric,
      done: c.done,
      pruned: c.pruned,
      failed: c.failed,
      childEpochs: epochs,
      best: b ? { trialId: b.trialId, value: metricFromReward(task, b.reward).value } : null,
      controllerVersion: s.config.strategy === 'rl' ? store.controllerVersion(s.id) : null,
    },
  };
}

/** An rl study's controller statistics over its updates (empty for other strategies). */
export function controllerCurve(store: SearchStore, s: StudyRecord): ControllerPoint[] {
  if (s.config.strategy !== 'rl') return [];
  return store
    .checkpoints(s.id)
    .filter((ck) => ck.stats !== null)
    .map((ck) => {
      const st = ck.stats as { entropy: number; baseline: number; meanReward: number };
      return { study: s.name, version: ck.version, entropy: st.entropy, baseline: st.baseline, meanReward: st.meanReward };
    });
}

const axisTitle = (m: MetricName): string => (m === 'accuracy' ? 'best validation accuracy so far' : 'best validation perplexity so far (lower is better)');

/** Best-so-far curves of every study against `x` (trials or childEpochs). */
export function curveChart(points: readonly CurvePoint[], metric: MetricName, x: 'trials' | 'childEpochs'): ChartSpec {
  return {
    title: `Best so far vs ${x === 'trials' ? 'trials' : 'child-epochs'}`,
    width: 520,
    height: 300,
    data: { values: points.filter((p) => p.best !== null) as unknown as Record<string, unknown>[] },
    mark: { type: 'line', interpolate: 'step-after', point: { size: 18 } },
    encoding: {
      x: { field: x, type: 'quantitative', title: x === 'trials' ? 'trials finished' : 'child-epochs trained', axis: { tickMinStep: 1, format: 'd' } },
      y: { field: 'best', type: 'quantitative', scale: { zero: false }, title: axisTitle(metric) },
      color: { field: 'study', type: 'nominal', title: 'study' },
    },
  } as ChartSpec;
}

/** The controller's entropy, and its baseline against the batches' mean rewards, over updates. */
export function controllerChart(points: readonly ControllerPoint[]): ChartSpec {
  const values = points as unknown as Record<string, unknown>[];
  const x = { field: 'version', type: 'quantitative', title: 'controller update', axis: { tickMinStep: 1, format: 'd' } } as const;
  return {
    title: 'Controller over its updates',
    vconcat: [
      {
        width: 520,
        height: 180,
        data: { values },
        mark: { type: 'line', point: { size: 18 } },
        encoding: { x, y: { field: 'entropy', type: 'quantitative', scale: { zero: false }, title: 'policy entropy (nats, summed over tokens)' }, color: { field: 'study', type: 'nominal' } },
      },
      {
        width: 520,
        height: 180,
        data: { values },
        transform: [{ fold: ['baseline', 'meanReward'], as: ['series', 'reward'] }],
        mark: { type: 'line', point: { size: 18 } },
        encoding: {
          x,
          y: { field: 'reward', type: 'quantitative', scale: { zero: false }, title: ['reward', 'solid: EMA baseline, dashed: batch mean'] },
          color: { field: 'study', type: 'nominal' },
          strokeDash: {
            field: 'series',
            type: 'nominal',
            title: 'series',
            scale: { domain: ['baseline', 'meanReward'], range: [[1, 0], [4, 3]] },
            legend: null,
          },
        },
      },
    ],
  } as ChartSpec;
}

/** The k best done trials of the file by reward, one per distinct pattern (ties: the earlier study, then trial). */
function topTrials(store: SearchStore, studies: readonly StudyRecord[], k: number) {
  const all = studies.flatMap((s) => store.trials(s.id, ['done']).map((t) => ({ s, t })));
  all.sort((a, b) => b.t.reward! - a.t.reward! || a.s.id - b.s.id || a.t.id - b.t.id);
  const seen = new Set<string>();
  const out: typeof all = [];
  for (const x of all) {
    const key = JSON.stringify([x.t.pattern.slots, x.t.pattern.schedule ?? null]);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(x);
    if (out.length === k) break;
  }
  return out;
}

/** How a pattern's picture is drawn (report's top patterns, the dashboard's trial detail): two sampled examples per slot, two slots a row. */
export const PICTURE_OPTIONS = { samples: 2, columns: 2 } as const;

/** One gallery block per slot address that is not `none` (a file of nothing but none gets one block). */
export function galleryItems(file: PatternFile): GalleryItem[] {
  const entries = Object.entries(file.slots);
  const shown = entries.filter(([, p]) => p.kind !== 'none');
  return (shown.length ? shown : entries.slice(0, 1)).map(([address, pattern]) => ({ pattern, caption: [address, describePattern(pattern)] }));
}

/** A study name as a file-name part. */
export const slug = (s: string): string => s.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^_+|_+$/g, '') || 'study';

const fmtMetric = (m: MetricName, v: number): string => (m === 'accuracy' ? `${(v * 100).toFixed(2)}%` : v.toFixed(2));

function reportMarkdown(r: Report, charts: { trials: string[]; epochs: string[]; controller: string | null }): string {
  const out = [`# Search report: ${r.db}`, ''];
  out.push('| study | strategy | model on task | done | pruned | failed | child-epochs | best validation | controller updates |', '|---|---|---|---|---|---|---|---|---|');
  for (const s of r.studies) {
    out.push(
      `| ${s.name} | ${s.strategy} | ${s.model} on ${s.task} | ${s.done} | ${s.pruned} | ${s.failed} | ${s.childEpochs} | ` +
        `${s.best ? `${fmtMetric(s.metric, s.best.value)} ${s.metric} (trial ${s.best.trialId})` : '–'} | ${s.controllerVersion ?? '–'} |`,
    );
  }
  out.push('', '## Best so far', '', 'The best validation metric among the done trials so far, per study, against the trials finished and against the child-epochs trained.', '');
  for (const f of [...charts.trials, ...charts.epochs]) out.push(`![${f}](${f})`, '');
  out.push('## Controller', '');
  if (charts.controller) {
    out.push("The controller's policy entropy (summed over the tokens of a sample) and its EMA reward baseline next to each update's mean reward, from the stored controller checkpoints.", '', `![${charts.controller}](${charts.controller})`, '');
  } else out.push('No rl study with a controller update in this file.', '');
  out.push('## Top patterns', '');
  if (r.top.length === 0) out.push('No done trial yet.', '');
  for (const t of r.top) {
    out.push(`### ${t.rank}. ${t.study}, trial ${t.trialId}: validation ${t.metric} ${fmtMetric(t.metric, t.value)}`, '', '```');
    for (const [a, p] of Object.entries(t.pattern.slots)) out.push(`${a}: ${formatPattern(p)}`);
    if (t.pattern.schedule && t.pattern.schedule.kind !== 'constant') out.push(`schedule: ${JSON.stringify(t.pattern.schedule)}`);
    out.push('```', '', `![${t.picture}](${t.picture})`, '');
  }
  return out.join('\n');
}

/** Writes the charts, the top-k pictures, report.md and report.json into `out`; returns what it found. */
export async function writeReport(db: string, out: string, o: { top?: number } = {}): Promise<Report> {
  const k = o.top ?? 4;
  const store = SearchStore.open(db, { readonly: true });
  try {
    const studies = store.listStudies();
    if (studies.length === 0) throw new Error(`${db} holds no study yet`);
    mkdirSync(out, { recursive: true });
    const { chartPng } = await import('./chart.js');
    const files: string[] = [];
    const write = (name: string, bytes: Buffer | string): string => {
      writeFileSync(join(out, name), bytes);
      files.push(name);
      return name;
    };
    const parts = studies.map((s) => studyCurve(store, s));
    const curves = parts.flatMap((p) => p.curve);
    const controller = studies.flatMap((s) => controllerCurve(store, s));
    const metrics = [...new Set(parts.map((p) => p.row.metric))];
    const suffix = (m: MetricName): string => (metrics.length > 1 ? `-${m}` : '');
    const charts = { trials: [] as string[], epochs: [] as string[], controller: null as string | null };
    for (const m of metrics) {
      const pts = curves.filter((c) => parts.find((p) => p.row.name === c.study)!.row.metric === m);
      charts.trials.push(write(`best-vs-trials${suffix(m)}.png`, await chartPng(curveChart(pts, m, 'trials'))));
      charts.epochs.push(write(`best-vs-child-epochs${suffix(m)}.png`, await chartPng(curveChart(pts, m, 'childEpochs'))));
    }
    if (controller.length) charts.controller = write('controller.png', await chartPng(controllerChart(controller)));
    const top: TopPattern[] = topTrials(store, studies, k).map(({ s, t }, i) => {
      const m = metricFromReward(s.config.child.task, t.reward!);
      const picture = write(`top-${i + 1}-${slug(s.name)}-trial-${t.id}.png`, renderGallery(galleryItems(t.pattern), PICTURE_OPTIONS));
      return { rank: i + 1, study: s.name, trialId: t.id, metric: m.name, value: m.value, reward: t.reward!, pattern: t.pattern, picture };
    });
    const report: Report = { db, studies: parts.map((p) => p.row), curves, controller, top, files };
    write('report.md', reportMarkdown(report, charts));
    files.push('report.json');
    writeFileSync(join(out, 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
    return report;
  } finally {
    store.close();
  }
}
