// The dashboard page's script (runs in the browser; served as /assets/app.js).
// It listens to the server's snapshots (server-sent events) and redraws: the
// study cards, uPlot charts (metric per trial and best so far vs trials and vs
// child-epochs, per-trial validation curves, the controller), ECharts'
// parallel coordinates over the tokens, the trial table (sortable,
// filterable) and a trial's detail. The chart libraries are the page's
// globals (loaded before this module); only their types are imported here.
import type uPlotNs from 'uplot';
import type * as EChartsNs from 'echarts';
import type { Snapshot, StudyView, TrialRow } from '../snapshot.js';
import type { TrialEvent, TrialRecord } from '../../search/store.js';

const uPlot = (globalThis as unknown as { uPlot: typeof uPlotNs }).uPlot;
const echarts = (globalThis as unknown as { echarts: typeof EChartsNs }).echarts;

/** The page's state, on window.dashboard for anyone (and the browser tests) to read. */
interface DashboardState {
  /** The snapshot the page shows (the last one drawn). */
  snapshot: Snapshot | null;
  /** Snapshots drawn so far. */
  updates: number;
  /** Snapshots received so far (more than drawn when they come faster than MIN_REDRAW_MS apart). */
  received: number;
  charts: Record<string, uPlotNs | null>;
  parallel: EChartsNs.ECharts | null;
  sort: { key: keyof TrialRow; dir: 1 | -1 };
  selected: number | null;
}
const state: DashboardState = { snapshot: null, updates: 0, received: 0, charts: {}, parallel: null, sort: { key: 'id', dir: 1 }, selected: null };
(globalThis as unknown as { dashboard: DashboardState }).dashboard = state;

const PALETTE = ['#2a6fdb', '#d6336c', '#2b8a3e', '#7048e8', '#e67700', '#0b7285', '#862e9c', '#5c940d'];
const colour = (i: number): string => PALETTE[i % PALETTE.length];

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] => {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
  return e;
};

const metricLabel = (s: StudyView | undefined): string => (s?.metric === 'perplexity' ? 'perplexity (lower is better)' : 'accuracy');
const fmt = (v: number | null | undefined, metric: string): string => (v === null || v === undefined ? '–' : metric === 'accuracy' ? `${(v * 100).toFixed(2)}%` : v.toFixed(2));
const num = (v: number | null | undefined, digits = 1): string => (v === null || v === undefined ? '–' : v.toFixed(digits));

function chartWidth(id: string): number {
  return Math.max(320, $(id).clientWidth || 560);
}

/** Replaces the uPlot chart in `id` (destroyed and drawn anew: series come and go with studies and trials). */
function draw(id: string, opts: Omit<uPlotNs.Options, 'width'>, data: uPlotNs.AlignedData): void {
  state.charts[id]?.destroy();
  const target = $(id);
  target.replaceChildren();
  state.charts[id] = new uPlot({ width: chartWidth(id), ...opts } as uPlotNs.Options, data, target);
}

const pointsOnly = (): null => null;
/** Tick steps of axes that count things (trials, epochs, updates): whole numbers only. */
const COUNT_TICKS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

// ------------------------------------------------------------------ cards

function renderCards(snap: Snapshot): void {
  const box = $('studies');
  if (snap.studies.length === 0) {
    box.replaceChildren(el('div', { className: 'empty', textContent: `${snap.db} holds no study yet; this page fills in as soon as a search starts.` }));
    return;
  }
  box.replaceChildren(
    ...snap.studies.map((v, i) => {
      const s = v.summary;
      const c = s.counts;
      const finished = c.done + c.pruned + c.failed;
      const lastStats = v.controller.at(-1);
      const rows: [string, string][] = [
        ['model', `${s.model} on ${s.task}`],
        ['trials', `${s.trials.asked} asked of ${s.trials.target}: ${c.done} done, ${c.pruned} pruned, ${c.failed} failed, ${c.running} running, ${c.queued} queued`],
        ['trials/hour', s.trialsPerHour === null ? '–' : s.trialsPerHour.toFixed(1)],
        ['best', v.row.best ? `${fmt(v.row.best.value, v.metric)} ${v.metric} (trial ${v.row.best.trialId})` : '–'],
        ['child-epochs', String(v.row.childEpochs)],
      ];
      if (s.controller) rows.push(['controller', `${s.controller.version} updates, baseline ${num(s.controller.baseline, 4)}${lastStats ? `, entropy ${lastStats.entropy.toFixed(2)}` : ''}`]);
      rows.push(['coordinator', s.lock ? `process ${s.lock.pid} on ${s.lock.host}` : 'none running']);
      const dl = el('dl');
      for (const [k, val] of rows) dl.append(el('dt', { textContent: k }), el('dd', { textContent: val }));
      const bar = el('progress', { max: s.trials.target, value: finished, title: `${finished} of ${s.trials.target} trials finished` });
      return el(
        'div',
        { className: 'panel card' },
        el('h2', {}, Object.assign(el('span', { textContent: v.name }), { style: `color:${colour(i)}` }), el('span', { className: 'kind', textContent: `${s.strategy}, ${s.space} space` })),
        bar,
        el('p', { className: 'note', textContent: `progress: ${finished} of ${s.trials.target} trials finished` }),
        dl,
      );
    }),
  );
}

// ------------------------------------------------------------------ charts

/** Metric per trial (dots) and best so far (steps) of every study against the trials finished. */
function renderTrialsChart(snap: Snapshot): void {
  const n = Math.max(0, ...snap.studies.map((v) => v.curve.length));
  const x = Array.from({ length: n }, (_, i) => i + 1);
  const data: (number | null)[][] = [x];
  const series: uPlotNs.Series[] = [{ label: 'trials finished' }];
  snap.studies.forEach((v, i) => {
    const byId = new Map(v.trials.map((t) => [t.id, t]));
    const per = x.map((k) => (k <= v.curve.length ? (byId.get(v.curve[k - 1].trialId)?.value ?? null) : null));
    const best = x.map((k) => (k <= v.curve.length ? v.curve[k - 1].best : null));
    data.push(per, best);
    series.push(
      { label: `${v.name}: per trial`, stroke: colour(i), paths: pointsOnly, points: { show: true, size: 7, fill: colour(i) } },
      { label: `${v.name}: best so far`, stroke: colour(i), width: 2, paths: uPlot.paths.stepped!({ align: 1 }), points: { show: false } },
    );
  });
  draw('chart-trials', { height: 280, series, scales: { x: { time: false } }, axes: [{ label: 'trials finished', incrs: COUNT_TICKS }, { label: metricLabel(snap.studies[0]), size: 60 }] }, data as uPlotNs.AlignedData);
}

/** The same against child-epochs: each study has its own x values, aligned by uPlot.join. */
function renderEpochsChart(snap: Snapshot): void {
  const tables: uPlotNs.AlignedData[] = [];
  const series: uPlotNs.Series[] = [{ label: 'child-epochs' }];
  snap.studies.forEach((v, i) => {
    const byId = new Map(v.trials.map((t) => [t.id, t]));
    // A failed child may have trained no epoch: its point shares x with the one before; keep one point per x.
    const at = new Map<number, { value: number | null; best: number | null }>();
    for (const p of v.curve) {
      const value = byId.get(p.trialId)?.value ?? null;
      const prev = at.get(p.childEpochs);
      at.set(p.childEpochs, { value: value ?? prev?.value ?? null, best: p.best });
    }
    const xs = [...at.keys()];
    tables.push([xs, xs.map((k) => at.get(k)!.value), xs.map((k) => at.get(k)!.best)] as uPlotNs.AlignedData);
    series.push(
      { label: `${v.name}: per trial`, stroke: colour(i), paths: pointsOnly, points: { show: true, size: 7, fill: colour(i) } },
      { label: `${v.name}: best so far`, stroke: colour(i), width: 2, paths: uPlot.paths.stepped!({ align: 1 }), points: { show: false }, spanGaps: true },
    );
  });
  const data = tables.length ? uPlot.join(tables) : ([[]] as unknown as uPlotNs.AlignedData);
  draw('chart-epochs', { height: 280, series, scales: { x: { time: false } }, axes: [{ label: 'child-epochs trained', incrs: COUNT_TICKS }, { label: metricLabel(snap.studies[0]), size: 60 }] }, data);
}

/** One line per trial of the chosen study: its validation metric after each epoch; pruned ones dashed, ending where they stopped. */
function renderCurves(snap: Snapshot): void {
  const v = snap.studies.find((s) => s.name === selectValue('curve-study', snap)) ?? snap.studies[0];
  const trials = v ? v.trials.filter((t) => t.epochs.length > 0) : [];
  const maxEpoch = Math.max(1, ...trials.flatMap((t) => t.epochs.map((e) => e.epoch)));
  const x = Array.from({ length: maxEpoch }, (_, i) => i + 1);
  const data: (number | null)[][] = [x];
  const series: uPlotNs.Series[] = [{ label: 'epoch' }];
  for (const t of trials) {
    const byEpoch = new Map(t.epochs.map((e) => [e.epoch, e.value]));
    data.push(x.map((e) => byEpoch.get(e) ?? null));
    const pruned = t.state === 'pruned';
    const stroke = pruned ? '#d9480f' : t.state === 'failed' ? '#adb5bd' : t.state === 'running' ? '#7048e8' : '#2a6fdb';
    series.push({
      label: `trial ${t.id}${pruned ? ` (pruned after epoch ${t.prunedAtEpoch ?? t.epochs.length})` : ''}`,
      stroke,
      width: pruned ? 2 : 1.5,
      dash: pruned ? [6, 4] : undefined,
      points: { show: true, size: pruned ? 8 : 5, stroke, fill: pruned ? '#fff' : stroke },
    });
  }
  draw('chart-curves', { height: 300, series, legend: { show: false }, scales: { x: { time: false } }, axes: [{ label: 'epoch', incrs: COUNT_TICKS }, { label: metricLabel(v), size: 60 }] }, data as uPlotNs.AlignedData);
}

/** The controller's entropy, and its baseline next to each update's mean reward, over its updates (rl studies). */
function renderController(snap: Snapshot): void {
  const rl = snap.studies.map((v, i) => ({ v, i })).filter(({ v }) => v.controller.length > 0);
  $('controller-note').textContent = rl.length ? 'From the statistics stored with every controller checkpoint.' : 'No rl study with a controller update yet.';
  const entropyTables: uPlotNs.AlignedData[] = rl.map(({ v }) => [v.controller.map((p) => p.version), v.controller.map((p) => p.entropy)] as uPlotNs.AlignedData);
  const baseTables: uPlotNs.AlignedData[] = rl.map(({ v }) => [v.controller.map((p) => p.version), v.controller.map((p) => p.baseline), v.controller.map((p) => p.meanReward)] as uPlotNs.AlignedData);
  const empty = [[]] as unknown as uPlotNs.AlignedData;
  draw(
    'chart-entropy',
    {
      height: 170,
      series: [{ label: 'update' }, ...rl.map(({ v, i }) => ({ label: `${v.name}: entropy`, stroke: colour(i), width: 2, spanGaps: true }))],
      scales: { x: { time: false } },
      axes: [{ label: 'controller update', incrs: COUNT_TICKS }, { label: 'entropy (nats)', size: 70 }],
    },
    rl.length ? uPlot.join(entropyTables) : empty,
  );
  draw(
    'chart-baseline',
    {
      height: 170,
      series: [
        { label: 'update' },
        ...rl.flatMap(({ v, i }) => [
          { label: `${v.name}: baseline`, stroke: colour(i), width: 2, spanGaps: true },
          { label: `${v.name}: batch mean reward`, stroke: colour(i), dash: [4, 3], spanGaps: true },
        ]),
      ],
      scales: { x: { time: false } },
      axes: [{ label: 'controller update', incrs: COUNT_TICKS }, { label: 'reward', size: 60 }],
    },
    rl.length ? uPlot.join(baseTables) : empty,
  );
}

/** ECharts' parallel coordinates: one axis per token of the chosen group, the last one the metric; lines coloured by it. */
function renderParallel(snap: Snapshot): void {
  const withAxes = snap.studies.filter((v) => v.axes !== null);
  fillSelect('pc-study', withAxes.map((v) => v.name));
  const v = withAxes.find((s) => s.name === ($('pc-study') as HTMLSelectElement).value) ?? withAxes[0];
  const groups = v ? [...new Set(v.axes!.map((a) => a.group))] : [];
  fillSelect('pc-group', groups);
  const group = ($('pc-group') as HTMLSelectElement).value;
  const axes = v ? v.axes!.filter((a) => a.group === group) : [];
  const rows = v ? v.trials.filter((t) => t.value !== null && t.tokens.length > 0) : [];
  const values = rows.map((t) => t.value!) ;
  state.parallel ??= echarts.init($('chart-parallel'));
  state.parallel.setOption(
    {
      animation: false,
      parallelAxis: [
        ...axes.map((a, i) => ({ dim: i, name: a.type, type: 'category' as const, data: a.values })),
        { dim: axes.length, name: v ? `validation ${v.metric}` : 'metric', type: 'value' as const, scale: true },
      ],
      parallel: { left: 60, right: 130, top: 40, bottom: 30 },
      visualMap: {
        type: 'continuous',
        dimension: axes.length,
        min: values.length ? Math.min(...values) : 0,
        max: values.length ? Math.max(...values) : 1,
        inRange: { color: v?.metric === 'perplexity' ? ['#1a9850', '#fee08b', '#d73027'] : ['#d73027', '#fee08b', '#1a9850'] },
        calculable: true,
        precision: v?.metric === 'perplexity' ? 1 : 3,
        right: 10,
        top: 'center',
      },
      series: [{ type: 'parallel', lineStyle: { width: 2, opacity: 0.7 }, data: rows.map((t) => [...axes.map((a) => a.values[t.tokens[a.position]]), t.value!]) }],
    },
    true,
  );
}

// ------------------------------------------------------------------ table and detail

function selectValue(id: string, snap: Snapshot): string {
  fillSelect(id, snap.studies.map((v) => v.name));
  return ($(id) as HTMLSelectElement).value;
}

/** Sets a select's options, keeping the current choice when it is still offered. */
function fillSelect(id: string, options: string[]): void {
  const sel = $(id) as HTMLSelectElement;
  const keep = sel.value;
  if ([...sel.options].map((o) => o.value).join('\n') !== options.join('\n')) sel.replaceChildren(...options.map((o) => el('option', { value: o, textContent: o })));
  if (options.includes(keep)) sel.value = keep;
}

function allTrials(snap: Snapshot): TrialRow[] {
  return snap.studies.flatMap((v) => v.trials);
}

function compareRows(a: TrialRow, b: TrialRow): number {
  const { key, dir } = state.sort;
  const x = a[key];
  const y = b[key];
  // Missing values sort last either way.
  if (x === null || x === undefined) return y === null || y === undefined ? a.id - b.id : 1;
  if (y === null || y === undefined) return -1;
  const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
  return c === 0 ? a.id - b.id : c * dir;
}

function renderTable(snap: Snapshot): void {
  const text = ($('filter') as HTMLInputElement).value.trim().toLowerCase();
  const st = ($('state-filter') as HTMLSelectElement).value;
  const metricOf = new Map(snap.studies.map((v) => [v.name, v.metric]));
  const all = allTrials(snap);
  const rows = all.filter((t) => (st === '' || t.state === st) && (text === '' || [t.study, t.id, t.state, t.worker ?? '', t.error ?? ''].join(' ').toLowerCase().includes(text))).sort(compareRows);
  $('table-count').textContent = `${rows.length} of ${all.length} trials`;
  for (const th of document.querySelectorAll<HTMLElement>('#trials th.sortable')) {
    th.setAttribute('aria-sort', th.dataset.key === state.sort.key ? (state.sort.dir === 1 ? 'ascending' : 'descending') : 'none');
  }
  const tbody = document.querySelector('#trials tbody')!;
  tbody.replaceChildren(
    ...rows.map((t) => {
      const tr = el(
        'tr',
        { className: t.id === state.selected ? 'selected' : '' },
        el('td', { textContent: t.study }),
        el('td', { className: 'num', textContent: String(t.id) }),
        el('td', {}, el('span', { className: `state state-${t.state}`, textContent: t.state })),
        el('td', { className: 'num', textContent: fmt(t.value, metricOf.get(t.study) ?? 'accuracy') }),
        el('td', { className: 'num', textContent: num(t.reward, 4) }),
        el('td', { textContent: t.worker ?? '–' }),
        el('td', { className: 'num', textContent: String(t.attempts) }),
        el('td', { className: 'num', textContent: num(t.seconds) }),
        el('td', { className: 'error', textContent: t.error ?? '' }),
      );
      tr.dataset.trial = String(t.id);
      tr.addEventListener('click', () => void showDetail(t.id));
      return tr;
    }),
  );
}

async function showDetail(id: number): Promise<void> {
  state.selected = id;
  if (state.snapshot) renderTable(state.snapshot);
  const r = (await (await fetch(`/api/trials/${id}`)).json()) as { study: string; trial: TrialRecord; patternLines: string[]; events: TrialEvent[] };
  const view = state.snapshot?.studies.find((v) => v.name === r.study);
  const row = view?.trials.find((t) => t.id === id);
  const t = r.trial;
  $('detail').hidden = false;
  $('detail-title').textContent = `Trial ${t.id} of ${r.study}: ${t.state}${row?.value != null ? `, validation ${fmt(row.value, view!.metric)}` : ''}${t.error ? ` (${t.error})` : ''}`;
  ($('detail-download') as HTMLAnchorElement).href = `/api/trials/${id}/pattern.json`;
  ($('detail-masks') as HTMLImageElement).src = `/api/trials/${id}/masks.png`;
  $('detail-pattern').textContent = r.patternLines.join('\n');
  const axes = view?.axes;
  $('detail-tokens').textContent = t.tokens.length === 0 ? '(no tokens: a fixed pattern)' : axes ? groupTokens(axes, t.tokens) : t.tokens.join(' ');
  $('detail-epochs').replaceChildren(
    el('tr', {}, el('th', { textContent: 'epoch' }), el('th', { textContent: `validation ${view?.metric ?? ''}` })),
    ...(row?.epochs ?? []).map((e) => el('tr', {}, el('td', { textContent: String(e.epoch) }), el('td', { className: 'num', textContent: fmt(e.value, view!.metric) }))),
  );
  $('detail-events').replaceChildren(
    el('tr', {}, el('th', { textContent: 'when' }), el('th', { textContent: 'event' }), el('th', { textContent: 'detail' })),
    ...(r.events.length ? r.events : []).map((e) => el('tr', {}, el('td', { textContent: new Date(e.at).toLocaleTimeString() }), el('td', { textContent: e.kind }), el('td', { textContent: e.detail ?? '' }))),
  );
  if (r.events.length === 0) $('detail-events').append(el('tr', {}, el('td', { colSpan: 3, className: 'note', textContent: 'no re-queue or failure event' })));
}

function groupTokens(axes: NonNullable<StudyView['axes']>, tokens: number[]): string {
  const lines = new Map<string, string[]>();
  for (const a of axes) {
    const list = lines.get(a.group) ?? [];
    list.push(`${a.type}=${a.values[tokens[a.position]] ?? tokens[a.position]}`);
    lines.set(a.group, list);
  }
  return [...lines].map(([g, l]) => `${g}: ${l.join(' ')}`).join('\n');
}

// ------------------------------------------------------------------ compare

function renderCompare(snap: Snapshot): void {
  const c = snap.compare;
  $('compare').hidden = c === null;
  if (!c) return;
  const m = c.metric.name;
  const head = el('tr', {}, ...['pattern', 'role', 'n', `test ${m} (${c.metric.better} is better)`, ...c.seeds.map((s) => `seed ${s}`)].map((h) => el('th', { textContent: h })));
  $('compare-table').replaceChildren(
    head,
    ...c.patterns.map((p) =>
      el(
        'tr',
        {},
        el('td', { textContent: p.label + (p.label === c.bestBaseline ? ' (best baseline)' : '') }),
        el('td', { textContent: p.tuned ? 'baseline (tuned)' : p.role }),
        el('td', { className: 'num', textContent: String(p.n) }),
        el('td', { className: 'num', textContent: `${fmt(p.mean, m)}${p.std === null ? '' : ` ± ${fmt(p.std, m)}`}` }),
        ...p.values.map((v) => el('td', { className: 'num', textContent: fmt(v, m) })),
      ),
    ),
  );
  ($('compare-chart') as HTMLImageElement).src = `/api/compare.svg?read=${snap.read}`;
}

// ------------------------------------------------------------------ wiring

function render(snap: Snapshot): void {
  state.snapshot = snap;
  for (const e of document.querySelectorAll('.metric')) e.textContent = snap.studies[0]?.metric ?? 'metric';
  renderCards(snap);
  renderCompare(snap);
  renderTrialsChart(snap);
  renderEpochsChart(snap);
  renderCurves(snap);
  renderController(snap);
  renderParallel(snap);
  renderTable(snap);
}

/**
 * Redraws cost the machine the search trains on whenever the page is open
 * there: the page draws at most one snapshot per MIN_REDRAW_MS (the newest;
 * the first at once) and none while it is hidden (a background tab draws the
 * newest when it is shown again).
 */
const MIN_REDRAW_MS = 2000;
let waiting: Snapshot | null = null;
let redrawTimer: ReturnType<typeof setTimeout> | null = null;
let lastRedraw = -Infinity;

function scheduleRedraw(snap: Snapshot): void {
  waiting = snap;
  if (redrawTimer !== null || document.hidden) return;
  const wait = lastRedraw + MIN_REDRAW_MS - performance.now();
  if (wait <= 0) redrawNow();
  else
    redrawTimer = setTimeout(() => {
      redrawTimer = null;
      if (!document.hidden) redrawNow();
    }, wait);
}

function redrawNow(): void {
  if (!waiting) return;
  const snap = waiting;
  waiting = null;
  lastRedraw = performance.now();
  state.updates++;
  render(snap);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && waiting) scheduleRedraw(waiting);
});

function connect(): void {
  const live = $('live');
  const readAt = (ms: number): void => {
    live.className = 'live ok';
    live.textContent = `live · read ${new Date(ms).toLocaleTimeString()}`;
  };
  const source = new EventSource('/api/events');
  source.addEventListener('snapshot', (e) => {
    const snap = JSON.parse((e as MessageEvent<string>).data) as Snapshot;
    state.received++;
    scheduleRedraw(snap);
    readAt(snap.read);
  });
  // The file changed in a way the page does not show (a heartbeat): nothing to redraw.
  source.addEventListener('read', (e) => readAt(Number((e as MessageEvent<string>).data)));
  source.addEventListener('error', () => {
    live.className = 'live down';
    live.textContent = 'connection lost; retrying…';
  });
}

for (const th of document.querySelectorAll<HTMLElement>('#trials th.sortable')) {
  th.addEventListener('click', () => {
    const key = th.dataset.key as keyof TrialRow;
    state.sort = { key, dir: state.sort.key === key ? (state.sort.dir === 1 ? -1 : 1) : 1 };
    if (state.snapshot) renderTable(state.snapshot);
  });
}
for (const id of ['filter', 'state-filter']) $(id).addEventListener('input', () => state.snapshot && renderTable(state.snapshot));
$('curve-study').addEventListener('change', () => state.snapshot && renderCurves(state.snapshot));
for (const id of ['pc-study', 'pc-group']) $(id).addEventListener('change', () => state.snapshot && renderParallel(state.snapshot));
window.addEventListener('resize', () => {
  for (const [id, u] of Object.entries(state.charts)) u?.setSize({ width: chartWidth(id), height: u.height });
  state.parallel?.resize();
});
connect();
