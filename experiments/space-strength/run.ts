// `node dist/experiments/space-strength/run.js [--samples N] [--seed S] [--no-png]`
//
// How strongly the search spaces regularise: samples spaces/tile.json
// uniformly (seeded) at the map sizes the ConvNet children see (wrn-10-*/
// wrn-16-* on 28x28 Fashion-MNIST: stages 28, 14, 7; on 32x32 CIFAR: 32, 16,
// 8) and enumerates spaces/span.json exactly at the sequence lengths of the
// tlm children (32, 64, 128). For every point it reports the expected drop
// fraction *after* the all-zero guard (an example whose mask would be all
// zeros passes unmasked, so it counts as dropping nothing), the dead points
// (dropping nothing, or everything and so nothing), and for gaussian span
// noise the multipliers on the spans (fraction negative, fraction clipped).
// The vocabularies the spaces had before issue 11 are kept in before/ and
// measured the same way, so docs/patterns.md's before/after figures come from
// this one command. Writes results.json beside this script and
// docs/img/space-strength-{tile,span,gaussian}.png.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { canvasDropFraction, spanCanvas, tileCanvas, windowSums, type Canvas } from '../../src/patterns/canvas.js';
import { gaussianSpanMultiplier, gaussianSpanStd } from '../../src/patterns/masks.js';
import { decode, type SearchSpace } from '../../src/patterns/spaces.js';
import type { SpanPattern, TilePattern } from '../../src/patterns/types.js';
import { Rng } from '../../src/util/rng.js';
import { chartPng, type ChartSpec } from '../../src/report/chart.js';

/** Renders a Vega-Lite spec to a PNG file through the project's one chart renderer. */
async function writeChartPng(spec: ChartSpec, file: string): Promise<void> {
  writeFileSync(file, await chartPng(spec));
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HERE = `${ROOT}experiments/space-strength/`;

/** Map sides of each ConvNet child family's stages. */
const MAPS = { 'fashion-mnist (28x28)': [28, 14, 7], 'cifar (32x32)': [32, 16, 8] } as const;
/** Sequence lengths of the tlm children. */
const LENGTHS = [32, 64, 128] as const;
/** Channels assumed for the per-channel (shareC false) guard: the narrowest slot of wrn-10-1 and of tlm. */
const CONV_CHANNELS = 16;
const SEQ_CHANNELS = 64;
/** Histogram bin width of drop fractions. */
const BIN = 0.025;
/** Below this expected drop fraction a point counts as "drops (almost) nothing". */
const WEAK = 0.02;

const { values: args } = parseArgs({
  options: { samples: { type: 'string', default: '4000' }, seed: { type: 'string', default: '11' }, 'no-png': { type: 'boolean', default: false } },
});
const samples = Number(args.samples);
const seed = Number(args.seed);
if (!Number.isInteger(samples) || samples < 1) throw new Error(`--samples: expected an integer >= 1, got ${args.samples}`);

const loadSpace = (file: string): SearchSpace => JSON.parse(readFileSync(file, 'utf8')) as SearchSpace;
const SPACES = {
  before: { tile: loadSpace(`${HERE}before/tile.json`), span: loadSpace(`${HERE}before/span.json`) },
  now: { tile: loadSpace(`${ROOT}spaces/tile.json`), span: loadSpace(`${ROOT}spaces/span.json`) },
};
type Version = keyof typeof SPACES;

/**
 * Expected drop fraction of a canvas on an (h, w) map after the all-zero
 * guard, with the canvas's share of all-zero windows. shareC: one window per
 * example, so each all-zero window is an example left unmasked; otherwise the
 * guard needs all `channels` independent windows to be zero at once.
 */
function guardedDrop(cv: Canvas, h: number, w: number, shareC: boolean, channels: number): { drop: number; zeroWindows: number; raw: number } {
  const sums = windowSums(cv, h, w);
  const hw = h * w;
  let zero = 0;
  let dropped = 0;
  for (const s of sums) {
    if (s === 0) zero++;
    else dropped += (hw - s) / hw;
  }
  const raw = canvasDropFraction(cv);
  const zeroWindows = zero / sums.length;
  const drop = shareC ? dropped / sums.length : raw - zeroWindows ** channels;
  return { drop: Math.max(0, drop), zeroWindows, raw };
}

interface Summary {
  points: number;
  mean: number;
  quantiles: Record<'min' | 'p5' | 'p25' | 'median' | 'p75' | 'p95' | 'max', number>;
  /** Share of points below 2 % (after the guard). */
  weak: number;
  /** Share of points above 50 %. */
  strong: number;
  /** Points that drop nothing after the guard (drop exactly 0): dead. */
  dead: number;
  /** Of those, points whose every placement is all zeros (the guard turns them into the identity). */
  dropsEverything: number;
  /** Points where some, not all, placements are all zeros (those examples pass unmasked). */
  partlyGuarded: number;
  /** Share of points per BIN-wide bin of drop fraction, from 0. */
  histogram: number[];
}

const round = (x: number): number => Math.round(x * 1e5) / 1e5;

function summarise(points: { drop: number; zeroWindows: number }[]): Summary {
  const d = points.map((p) => p.drop).sort((a, b) => a - b);
  const q = (f: number): number => round(d[Math.min(d.length - 1, Math.floor(f * d.length))]);
  const bins = new Array<number>(Math.round(1 / BIN)).fill(0);
  for (const x of d) bins[Math.min(bins.length - 1, Math.floor(x / BIN))]++;
  return {
    points: d.length,
    mean: round(d.reduce((a, b) => a + b, 0) / d.length),
    quantiles: { min: q(0), p5: q(0.05), p25: q(0.25), median: q(0.5), p75: q(0.75), p95: q(0.95), max: round(d[d.length - 1]) },
    weak: round(d.filter((x) => x < WEAK).length / d.length),
    strong: round(d.filter((x) => x > 0.5).length / d.length),
    dead: points.filter((p) => p.drop === 0).length,
    dropsEverything: points.filter((p) => p.zeroWindows === 1).length,
    partlyGuarded: points.filter((p) => p.zeroWindows > 0 && p.zeroWindows < 1).length,
    histogram: bins.map((b) => round(b / d.length)),
  };
}

// ------------------------------------------------------------------ tile

/** `samples` uniform points of the tile space, the same token draws at every map size. */
function tileSamples(space: SearchSpace, version: Version): TilePattern[] {
  const rng = Rng.derive(seed, 'space-strength', 'tile', version);
  return Array.from({ length: samples }, () => decode(space, space.tokens.map((t) => rng.nextInt(t.values.length))) as TilePattern);
}

function measureTile(version: Version): Record<string, Summary> & { pooled: Summary } {
  const pats = tileSamples(SPACES[version].tile, version);
  const out: Record<string, Summary> = {};
  const all: { drop: number; zeroWindows: number }[] = [];
  for (const sizes of Object.values(MAPS)) {
    for (const s of sizes) {
      const pts = pats.map((p) => guardedDrop(tileCanvas(p, s, s), s, s, p.shareC, CONV_CHANNELS));
      out[`${s}x${s}`] = summarise(pts);
      all.push(...pts);
    }
  }
  return { ...out, pooled: summarise(all) };
}

// ------------------------------------------------------------------ span

/** Every (size, stride, repeat, shareC) combination of the span space: the tokens that set the drop fraction. */
function spanPoints(space: SearchSpace): SpanPattern[] {
  const tok = (name: string): readonly unknown[] => space.tokens.find((t) => t.name === name)!.values;
  const out: SpanPattern[] = [];
  for (const size of tok('size') as number[]) {
    for (const stride of tok('stride') as number[]) {
      for (const repeat of tok('repeat') as (number | 'all')[]) {
        for (const shareC of [false, true]) out.push({ kind: 'span', size, stride, repeat, shareC, noise: 'zero', sublayers: ['query'] });
      }
    }
  }
  return out;
}

/** Gaussian-noise strength of each version: before issue 11, sigma^2 = 1/(1 - f) unclipped; now the library's rule. */
const SIGMA: Record<Version, (f: number) => number> = {
  before: (f) => (f >= 1 ? 0 : Math.sqrt(1 / (1 - f))),
  now: gaussianSpanStd,
};
const MULTIPLIER: Record<Version, (sigma: number, z: number) => number> = {
  before: (sigma, z) => 1 + sigma * z,
  now: gaussianSpanMultiplier,
};

interface GaussianSummary {
  /** Share of the multipliers on the spans that are negative (a sign flip), over all points and lengths. */
  negativeOnSpans: number;
  /** Same, over every position of the sequence (off-span multipliers are 1). */
  negativeOverall: number;
  /** Share of the multipliers on the spans that are exactly 0 or 2 (clipped). */
  clippedOnSpans: number;
  sigma: { median: number; max: number };
  /** Share of span multipliers per 0.1-wide bin from -3 to 5 (values outside land in the end bins). */
  histogram: { from: number; width: number; shares: number[] };
}

function measureSpan(version: Version): { zero: Record<string, Summary> & { pooled: Summary }; gaussian: GaussianSummary; noneShare: number } {
  const space = SPACES[version].span;
  const pts = spanPoints(space);
  const zero: Record<string, Summary> = {};
  const all: { drop: number; zeroWindows: number }[] = [];
  const rng = Rng.derive(seed, 'space-strength', 'gaussian', version);
  const DRAWS = 400;
  const H = { from: -3, width: 0.1, shares: new Array<number>(80).fill(0) };
  let neg = 0;
  let negAll = 0;
  let clipped = 0;
  let n = 0;
  const sigmas: number[] = [];
  for (const T of LENGTHS) {
    const measured = pts.map((p) => guardedDrop(spanCanvas(p, T), T, 1, p.shareC, SEQ_CHANNELS));
    zero[`T=${T}`] = summarise(measured);
    all.push(...measured);
    for (const [i, p] of pts.entries()) {
      if (p.shareC) continue; // gaussian noise does not depend on shareC; count each combination once
      const f = measured[i].raw;
      const sigma = SIGMA[version](f);
      sigmas.push(sigma);
      let k = 0;
      for (let j = 0; j < DRAWS; j++) {
        const m = MULTIPLIER[version](sigma, rng.normal());
        if (m < 0) k++;
        if (m === 0 || m === 2) clipped++;
        H.shares[Math.max(0, Math.min(H.shares.length - 1, Math.floor((m - H.from) / H.width)))]++;
      }
      neg += k;
      negAll += (k / DRAWS) * f;
      n++;
    }
  }
  sigmas.sort((a, b) => a - b);
  const sublayers = space.tokens.filter((t) => t.name.startsWith('sublayer.')).length;
  return {
    zero: { ...zero, pooled: summarise(all) },
    gaussian: {
      negativeOnSpans: round(neg / (n * DRAWS)),
      negativeOverall: round(negAll / n),
      clippedOnSpans: round(clipped / (n * DRAWS)),
      sigma: { median: round(sigmas[Math.floor(sigmas.length / 2)]), max: round(sigmas[sigmas.length - 1]) },
      histogram: { ...H, shares: H.shares.map((s) => round(s / (n * DRAWS))) },
    },
    noneShare: round(1 / 2 ** sublayers),
  };
}

// ------------------------------------------------------------------ figures

type Row = Record<string, string | number>;

function histogramRows(version: Version, group: string, key: string, s: Summary): Row[] {
  return s.histogram.map((share, i) => ({ space: version, group, key, from: i * BIN * 100, to: (i + 1) * BIN * 100, share }));
}

async function figures(result: Record<Version, { tile: ReturnType<typeof measureTile>; span: ReturnType<typeof measureSpan> }>): Promise<void> {
  const versions: Version[] = ['before', 'now'];
  const tileRows: Row[] = [];
  for (const v of versions) {
    for (const [group, sizes] of Object.entries(MAPS)) for (const s of sizes) tileRows.push(...histogramRows(v, group, `${s}x${s}`, result[v].tile[`${s}x${s}`]));
  }
  const bars = (rows: Row[], title: string, colour: string, rowField: string | null): object => ({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    data: { values: rows },
    mark: { type: 'bar', stroke: null },
    encoding: {
      x: { field: 'from', type: 'quantitative', bin: { binned: true, step: BIN * 100 }, title: 'expected drop fraction after the all-zero guard (%)', scale: { domain: [0, 100] } },
      x2: { field: 'to' },
      y: { field: 'share', type: 'quantitative', stack: 'zero', title: 'share of points', axis: { format: '%' } },
      color: { field: 'key', type: 'nominal', title: colour },
      column: { field: 'space', type: 'nominal', title: null, sort: versions },
      ...(rowField ? { row: { field: rowField, type: 'nominal', title: null } } : {}),
    },
    width: 330,
    height: 150,
  });
  // Shares are per map size; dividing by the number of sizes stacks them into one distribution per panel.
  const perPanel = (rows: Row[], k: number): Row[] => rows.map((r) => ({ ...r, share: (r.share as number) / k }));
  await writeChartPng(
    bars(perPanel(tileRows, 3), 'tile space: uniform points, by map size of the slot', 'map', 'group') as never,
    `${ROOT}docs/img/space-strength-tile.png`,
  );
  const spanRows: Row[] = [];
  for (const v of versions) for (const T of LENGTHS) spanRows.push(...histogramRows(v, 'span', `T=${T}`, result[v].span.zero[`T=${T}`]));
  await writeChartPng(bars(perPanel(spanRows, LENGTHS.length), 'span space (zero noise): every point, by sequence length', 'length', null) as never, `${ROOT}docs/img/space-strength-span.png`);
  const gRows: Row[] = [];
  for (const v of versions) {
    const h = result[v].span.gaussian.histogram;
    h.shares.forEach((share, i) => gRows.push({ space: v, from: h.from + i * h.width, to: h.from + (i + 1) * h.width, share }));
  }
  await writeChartPng(
    {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: 'gaussian span noise: multipliers on the spans (every point, T = 32, 64, 128)',
      data: { values: gRows },
      mark: { type: 'bar', stroke: null, color: '#4c78a8' },
      encoding: {
        x: { field: 'from', type: 'quantitative', bin: { binned: true, step: 0.1 }, title: 'multiplier', scale: { domain: [-3, 5] } },
        x2: { field: 'to' },
        y: { field: 'share', type: 'quantitative', title: 'share of span positions', axis: { format: '%' } },
        column: { field: 'space', type: 'nominal', title: null, sort: versions },
      },
      width: 330,
      height: 150,
    } as never,
    `${ROOT}docs/img/space-strength-gaussian.png`,
  );
}

// ------------------------------------------------------------------ main

const versions: Version[] = ['before', 'now'];
const result = Object.fromEntries(versions.map((v) => [v, { tile: measureTile(v), span: measureSpan(v) }])) as Record<
  Version,
  { tile: ReturnType<typeof measureTile>; span: ReturnType<typeof measureSpan> }
>;
const report = {
  command: `node dist/experiments/space-strength/run.js --samples ${samples} --seed ${seed}`,
  setting: { tileSamples: samples, maps: MAPS, lengths: LENGTHS, convChannels: CONV_CHANNELS, seqChannels: SEQ_CHANNELS, weakBelow: WEAK, bin: BIN },
  ...result,
};
writeFileSync(`${HERE}results.json`, `${JSON.stringify(report, null, 2)}\n`);
if (!args['no-png']) await figures(result);
const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
for (const v of versions) {
  const t = result[v].tile.pooled;
  const s = result[v].span.zero.pooled;
  const g = result[v].span.gaussian;
  process.stdout.write(
    `${v}: tile median ${pct(t.quantiles.median)} mean ${pct(t.mean)} p5 ${pct(t.quantiles.p5)} p95 ${pct(t.quantiles.p95)} <2% ${pct(t.weak)} >50% ${pct(t.strong)} dead ${t.dead}/${t.points} (all-zero ${t.dropsEverything}, partly guarded ${t.partlyGuarded})\n` +
      `${' '.repeat(v.length)}  span median ${pct(s.quantiles.median)} mean ${pct(s.mean)} p5 ${pct(s.quantiles.p5)} p95 ${pct(s.quantiles.p95)} <2% ${pct(s.weak)} >50% ${pct(s.strong)} dead ${s.dead}/${s.points} (all-zero ${s.dropsEverything}, partly guarded ${s.partlyGuarded})\n` +
      `${' '.repeat(v.length)}  gaussian: negative ${pct(g.negativeOnSpans)} of span multipliers (${pct(g.negativeOverall)} of all), clipped ${pct(g.clippedOnSpans)}, sigma median ${g.sigma.median} max ${g.sigma.max}\n`,
  );
  for (const [k, sum] of Object.entries(result[v].tile)) if (k !== 'pooled') process.stdout.write(`    tile ${k}: median ${pct(sum.quantiles.median)} <2% ${pct(sum.weak)} >50% ${pct(sum.strong)} dead ${sum.dead}\n`);
  for (const [k, sum] of Object.entries(result[v].span.zero)) if (k !== 'pooled') process.stdout.write(`    span ${k}: median ${pct(sum.quantiles.median)} <2% ${pct(sum.weak)} >50% ${pct(sum.strong)} dead ${sum.dead}\n`);
}
