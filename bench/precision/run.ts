// `npm run bench:precision [-- --json] [--threads N] [--steps N] [--rounds R] [--part conv|sequence|both]`
//
// What mixed precision buys the search's children on this CPU, and whether a
// pattern's cost holds in it: the image search child (wrn-10-1 on 64 x
// 1x28x28, SGD + Nesterov) and the text search child (tlm-2-64 on 32 windows
// of 64 tokens, vocabulary 2000, AdamW), each trained with no dropout and
// with a pattern at every slot (the tile of bench:masks; a span), in float32
// and under autocast to bfloat16 (--precision bf16), the four configurations
// interleaved step by step on one model (bench/interleave.ts). On a CPU
// without bfloat16 instructions (AVX512-BF16, AMX) oneDNN emulates them and
// bf16 is expected to be slower.
import { cpus, loadavg } from 'node:os';
import { Generator, adamw, autocast, backward, runtimeInfo, setNumThreads, sgd, tidy, type HalfDType, type Optimizer } from '../../src/engine/index.js';
import { clearCanvasCache, patternDropout } from '../../src/layers/patterns.js';
import type { SlotDropout } from '../../src/models/index.js';
import type { Pattern } from '../../src/patterns/types.js';
import { autocastDtypeOf } from '../../src/train/trainer.js';
import { imageChild, sequenceChild, type BenchChild } from '../children.js';
import { interleave, parseStepBenchArgs, roundRatio, type StepBenchArgs } from '../interleave.js';
import { BENCH_SPAN, BENCH_TILE } from '../patterns.js';
import { median, signedPercent as pct } from '../stats.js';

type PartName = 'conv' | 'sequence';

type Args = StepBenchArgs<PartName>;

const parseArgsOf = (argv: string[]): Args => parseStepBenchArgs('bench:precision', argv, ['conv', 'sequence'] as const, { steps: 6, rounds: 8 });

interface Part {
  describe: string;
  pattern: Pattern;
  patternLabel: string;
  build: (gen: Generator) => { child: BenchChild; optimizer: Optimizer };
}

const PARTS: Record<PartName, Part> = {
  conv: {
    describe: 'wrn-10-1, batch 64 x 1x28x28',
    pattern: BENCH_TILE,
    patternLabel: 'tile',
    build: (gen) => {
      const child = imageChild(gen);
      return { child, optimizer: sgd(child.model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 }) };
    },
  },
  sequence: {
    describe: 'tlm-2-64, batch 32 x 64 tokens, vocabulary 2000',
    pattern: BENCH_SPAN,
    patternLabel: 'span',
    build: (gen) => {
      const child = sequenceChild('tlm-2-64', 2000, gen);
      return { child, optimizer: adamw(child.model.parameters(), { lr: 2e-3, weightDecay: 0.01 }) };
    },
  },
};

/** The four configurations: precision x (no dropout | the part's pattern at every slot). */
const CONFIGS = {
  fp32: { precision: 'fp32', pattern: false },
  bf16: { precision: 'bf16', pattern: false },
  fp32Pattern: { precision: 'fp32', pattern: true },
  bf16Pattern: { precision: 'bf16', pattern: true },
} as const;
type ConfigName = keyof typeof CONFIGS;
const NAMES = Object.keys(CONFIGS) as ConfigName[];

function measure(part: Part, a: Args) {
  const gen = new Generator(0);
  const { child, optimizer } = part.build(gen);
  const { model, loss } = child;
  model.train();
  model.slots.setContext({ generator: new Generator(1), progress: 1 });
  const layer: SlotDropout = patternDropout(part.pattern);
  let half: HalfDType | null = null;
  const use = (name: string): void => {
    const c = CONFIGS[name as ConfigName];
    half = autocastDtypeOf(c.precision);
    model.slots.assignAll(() => (c.pattern ? layer : null));
  };
  const step = (): void =>
    tidy(() => {
      optimizer.zeroGrad();
      backward(autocast(half, loss));
      optimizer.step();
    });
  const onRound = (): void => {
    if (!a.json) process.stderr.write('.');
  };
  const perRound = interleave(NAMES, use, step, { ...a, onRound });
  clearCanvasCache();
  child.dispose();
  return perRound;
}

function summarize(perRound: Record<string, number[]>) {
  return {
    stepMs: Object.fromEntries(NAMES.map((n) => [n, median(perRound[n])])),
    /** bf16 / fp32 step time, without and with the pattern (< 1: bf16 is faster). */
    bf16VsFp32: roundRatio(perRound, 'bf16', 'fp32'),
    bf16VsFp32Pattern: roundRatio(perRound, 'bf16Pattern', 'fp32Pattern'),
    /** pattern / none - 1 in each precision. */
    patternOverheadFp32: roundRatio(perRound, 'fp32Pattern', 'fp32') - 1,
    patternOverheadBf16: roundRatio(perRound, 'bf16Pattern', 'bf16') - 1,
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
    const cpu = summarize(m.cpu);
    const wall = summarize(m.wall);
    const load = loadavg()[0];
    out[name] = { describe: part.describe, pattern: part.pattern, ...cpu, wall, loadAverage: load, perRoundCpuMs: m.cpu, perRoundWallMs: m.wall };
    if (!a.json) process.stderr.write('\n');
    rows.push(
      `${part.describe}, ${a.threads} engine thread(s), libtorch ${out.libtorch}, load average ${load.toFixed(1)} on ${out.cpus} CPUs; medians over ${a.rounds} rounds of ${a.steps} interleaved steps`,
      `| precision | CPU ms/step, none | CPU ms/step, ${part.patternLabel} at every slot | ${part.patternLabel} overhead | wall ms/step, none | wall ms/step, ${part.patternLabel} |`,
      '|---|---|---|---|---|---|',
      `| fp32 | ${cpu.stepMs.fp32.toFixed(1)} | ${cpu.stepMs.fp32Pattern.toFixed(1)} | ${pct(cpu.patternOverheadFp32)} | ${wall.stepMs.fp32.toFixed(1)} | ${wall.stepMs.fp32Pattern.toFixed(1)} |`,
      `| bf16 | ${cpu.stepMs.bf16.toFixed(1)} | ${cpu.stepMs.bf16Pattern.toFixed(1)} | ${pct(cpu.patternOverheadBf16)} | ${wall.stepMs.bf16.toFixed(1)} | ${wall.stepMs.bf16Pattern.toFixed(1)} |`,
      `bf16 / fp32: ${cpu.bf16VsFp32.toFixed(3)} without dropout, ${cpu.bf16VsFp32Pattern.toFixed(3)} with the ${part.patternLabel} (CPU time)`,
      '',
    );
  }
  if (a.json) process.stdout.write(`${JSON.stringify(out)}\n`);
  else process.stdout.write(rows.join('\n'));
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 1;
});
