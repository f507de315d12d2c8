// `npm run bench:masks [-- --json] [--threads N] [--steps N] [--rounds R] [--part conv|sequence|both]`
//
// What the mask engine costs a training step. The reference search child,
// wrn-10-1 on 64 x 1x28x28 images (SGD + Nesterov), trains with no dropout;
// with a bare `x * 1` at every slot (the floor: the multiply any mask layer
// needs, forward and backward); with a `tile` pattern (rotated and sheared,
// an independent placement per channel) at every slot (batch-norm outputs and
// skip paths); with the same tile shared over channels; with both tiles on
// the fallback path instead of the fused kernel (`fused: false`: multipliers
// from the same table by the same op applied to ones, then a multiply, the
// path sequence slots always take); and with plain `dropout` at the same
// slots. A second part does the same on sequence slots: tlm-2-128 on 32
// windows of 64 tokens (vocabulary 5000: the text experiments' child) with
// zero-noise spans (per channel and shared), gaussian spans, dropout and
// variational dropout at every slot; sequence slots always take the unfused
// path. Within a part all configurations run on one model, interleaved step
// by step with a rotating order; each step records wall time and the
// process's CPU time. Per round, each configuration's median step gives per-round ratios;
// the report takes medians over rounds. CPU time is the headline: with one
// engine thread it is the work done, while wall time on a shared, loaded
// machine mostly measures waiting for a core.
//
// Targets (the mask-engine issue): tile/none - 1 <= 5 %, tile/dropout <= 1.5.
import { cpus, loadavg } from 'node:os';
import { Generator, backward, ops, runtimeInfo, setNumThreads, sgd, tidy } from '../../src/engine/index.js';
import { clearCanvasCache, patternDropout } from '../../src/layers/patterns.js';
import type { SlotDropout } from '../../src/models/index.js';
import type { Pattern } from '../../src/patterns/types.js';
import { imageChild, sequenceChild, type BenchChild } from '../children.js';
import { BENCH_SPAN, BENCH_TILE } from '../patterns.js';
import { interleave, parseStepBenchArgs, roundRatio, type StepBenchArgs } from '../interleave.js';
import { median, signedPercent as pct } from '../stats.js';

type Args = StepBenchArgs<PartName>;

const parseArgsOf = (argv: string[]): Args => parseStepBenchArgs('bench:masks', argv, ['conv', 'sequence'] as const, { steps: 10, rounds: 12 });


const TILE = BENCH_TILE;
const SPAN = BENCH_SPAN;

/** A configuration: a pattern at every slot (fused: false forces the fallback), the bare multiply, or nothing. */
type Config = { pattern: Pattern; fused?: boolean; label: string } | { floor: true; label: string } | { none: true; label: string };

type PartName = 'conv' | 'sequence';

/** One model and its batch, the configurations to interleave, and the ratios worth naming (numerator / denominator). */
interface Part {
  model: string;
  describe: (slots: number, threads: number) => string;
  configs: Record<string, Config>;
  build: (gen: Generator) => BenchChild;
  ratios: Record<string, [string, string]>;
  /** The ratio the last line names, with its target. */
  headline: (q: PartSummary, wall: PartSummary) => string;
}

const PARTS: Record<PartName, Part> = {
  conv: {
    model: 'wrn-10-1',
    describe: (slots, threads) => `wrn-10-1, batch 64 x 1x28x28, ${slots} slots, ${threads} engine thread(s)`,
    configs: {
      none: { none: true, label: 'none' },
      // The least any mask layer can cost: one multiply at every slot (x * 1).
      floor: { floor: true, label: 'floor: x * 1 (the multiply any mask needs)' },
      tile: { pattern: TILE, label: 'tile (rotate 30, shear 0.2/-0.1, per channel)' },
      tileShared: { pattern: { ...TILE, shareC: true }, label: 'tile, shareC' },
      // The unfused path: the same masks as multipliers, then a multiply.
      tileFallback: { pattern: TILE, fused: false, label: 'tile, fallback (fused: false)' },
      tileSharedFallback: { pattern: { ...TILE, shareC: true }, fused: false, label: 'tile, shareC, fallback' },
      dropout: { pattern: { kind: 'dropout', rate: 0.1 }, label: 'dropout(0.1)' },
    },
    build: imageChild,
    ratios: {
      /** tileFallback / tile: what the fused kernel saves. */
      fallbackVsFused: ['tileFallback', 'tile'],
      /** tile / dropout (target <= 1.5). */
      tileVsDropout: ['tile', 'dropout'],
      /** tile / floor: what the tile's masks cost beyond the multiply itself. */
      tileVsFloor: ['tile', 'floor'],
    },
    headline: (q, w) =>
      `tile overhead ${pct(q.overhead.tile)} CPU / ${pct(w.overhead.tile)} wall (target <= +5%); ` +
      `tile / dropout ${q.ratios.tileVsDropout.toFixed(3)} CPU / ${w.ratios.tileVsDropout.toFixed(3)} wall (target <= 1.5); ` +
      `tile beyond the bare multiply ${pct(q.ratios.tileVsFloor - 1)} CPU; ` +
      `fallback / fused ${q.ratios.fallbackVsFused.toFixed(3)} CPU`,
  },
  sequence: {
    model: 'tlm-2-128',
    describe: (slots, threads) => `tlm-2-128, batch 32 x 64 tokens, vocabulary 5000, ${slots} slots, ${threads} engine thread(s)`,
    configs: {
      none: { none: true, label: 'none' },
      floor: { floor: true, label: 'floor: x * 1 (the multiply any mask needs)' },
      span: { pattern: SPAN, label: 'span 4 of 16 tokens, per channel' },
      spanShared: { pattern: { ...SPAN, shareC: true }, label: 'span, shareC' },
      spanGaussian: { pattern: { ...SPAN, noise: 'gaussian' }, label: 'span, gaussian noise' },
      dropout: { pattern: { kind: 'dropout', rate: 0.1 }, label: 'dropout(0.1)' },
      variational: { pattern: { kind: 'variational', rate: 0.1 }, label: 'variational(0.1)' },
    },
    build: (gen) => sequenceChild('tlm-2-128', 5000, gen),
    ratios: {
      spanVsDropout: ['span', 'dropout'],
      spanVsFloor: ['span', 'floor'],
      gaussianVsSpan: ['spanGaussian', 'span'],
    },
    headline: (q, w) =>
      `span overhead ${pct(q.overhead.span)} CPU / ${pct(w.overhead.span)} wall; gaussian span ${pct(q.overhead.spanGaussian)} CPU; ` +
      `span / dropout ${q.ratios.spanVsDropout.toFixed(3)} CPU; span beyond the bare multiply ${pct(q.ratios.spanVsFloor - 1)} CPU`,
  },
};

const FLOOR: SlotDropout = { description: 'x * 1', apply: (x) => ops.mul(x, 1) };

interface PartSummary {
  stepMs: Record<string, number>;
  /** config / none - 1 for every configuration but none. */
  overhead: Record<string, number>;
  ratios: Record<string, number>;
}

/** Trains one part's model with every configuration, interleaved step by step; per-round medians of CPU and wall ms per step. */
function measure(part: Part, a: Args): { slots: number; cpu: Record<string, number[]>; wall: Record<string, number[]> } {
  const gen = new Generator(0);
  const child = part.build(gen);
  const { model, loss } = child;
  const opt = sgd(model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  model.train();
  model.slots.setContext({ generator: new Generator(1), progress: 1 });
  const names = Object.keys(part.configs);
  const layer = (c: Extract<Config, { pattern: Pattern }>): SlotDropout => {
    // A variable, not a literal: bench/compare-revisions.mjs also builds this bench against
    // revisions older than the `fused` option, whose options type only has `cache`.
    const options = { cache: undefined, fused: c.fused };
    return patternDropout(c.pattern, undefined, options);
  };
  const layers = new Map<string, SlotDropout | null>(Object.entries(part.configs).map(([k, c]) => [k, 'floor' in c ? FLOOR : 'none' in c ? null : layer(c)]));
  const slots = model.slots.list().length;
  const step = (): void =>
    tidy(() => {
      opt.zeroGrad();
      backward(loss());
      opt.step();
    });
  const use = (name: string): void => {
    const d = layers.get(name) ?? null;
    model.slots.assignAll(() => d);
  };
  const onRound = (): void => {
    if (!a.json) process.stderr.write('.');
  };
  const { cpu, wall } = interleave(names, use, step, { ...a, onRound });
  clearCanvasCache();
  child.dispose();
  return { slots, cpu, wall };
}

/** Medians over rounds of the step times and of the per-round ratios. */
function summarize(part: Part, perRound: Record<string, number[]>): PartSummary {
  const ratio = (num: string, den: string): number => roundRatio(perRound, num, den);
  const names = Object.keys(part.configs);
  return {
    stepMs: Object.fromEntries(names.map((n) => [n, median(perRound[n])])),
    overhead: Object.fromEntries(names.filter((n) => n !== 'none').map((n) => [n, ratio(n, 'none') - 1])),
    ratios: Object.fromEntries(Object.entries(part.ratios).map(([k, [num, den]]) => [k, ratio(num, den)])),
  };
}

async function main(): Promise<void> {
  const a = parseArgsOf(process.argv.slice(2));
  setNumThreads(a.threads);
  const out: Record<string, unknown> = { libtorch: runtimeInfo().libtorchVersion, threads: a.threads, cpus: cpus().length, settings: { steps: a.steps, warmup: a.warmup, rounds: a.rounds } };
  const rows: string[] = [];
  for (const name of a.parts) {
    const part = PARTS[name];
    const m = measure(part, a);
    const cpuSummary = summarize(part, m.cpu);
    const wallSummary = summarize(part, m.wall);
    const load = loadavg()[0];
    out[name] = {
      model: part.model,
      slots: m.slots,
      /** The headline numbers: process CPU time per step. */
      ...cpuSummary,
      wall: wallSummary,
      loadAverage: load,
      perRoundCpuMs: m.cpu,
      perRoundWallMs: m.wall,
    };
    if (!a.json) process.stderr.write('\n');
    rows.push(
      `${part.describe(m.slots, a.threads)}, libtorch ${out.libtorch}, load average ${load.toFixed(1)} on ${out.cpus} CPUs;`,
      `configurations interleaved step by step, medians over ${a.rounds} rounds of ${a.steps} steps each`,
      '| at every slot | CPU ms/step | vs none | wall ms/step | vs none |',
      '|---|---|---|---|---|',
      ...Object.entries(part.configs).map(
        ([n, c]) =>
          `| ${c.label} | ${cpuSummary.stepMs[n].toFixed(1)} | ${n === 'none' ? '' : pct(cpuSummary.overhead[n])} | ${wallSummary.stepMs[n].toFixed(1)} | ${n === 'none' ? '' : pct(wallSummary.overhead[n])} |`,
      ),
      part.headline(cpuSummary, wallSummary),
      '',
    );
  }
  out.tile = TILE;
  out.span = SPAN;
  if (a.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else process.stdout.write(rows.join('\n'));
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 1;
});
