// `npm run bench:engine [-- --json] [--threads 1,2] [--steps N] [--rounds R] [--precision fp32|bf16]`
//
// Training-step and forward time of the two reference children built with
// this engine in TypeScript (src/models: wrn-16-2 on 64 x 3x32x32 images, SGD
// + Nesterov; tlm-2-128 with a 10000-word vocabulary on 32 x 64 tokens,
// AdamW), against the same models in PyTorch (bench/engine/torch_reference.py,
// Debian python3-torch: the same libtorch) at the same thread count, measured
// in one run, alternating engines (ABBA) to cancel drift on a shared machine.
// PyTorch runs twice: as shipped, and with glibc's allocator tuned through its
// environment variables to the values this engine sets with mallopt() at load
// (native/tensor.cc, tuneAllocator): any PyTorch user can have those, and they
// change PyTorch's step on this kind of machine more than anything else, so
// the fair ratio is against the tuned run (both are reported).
// --precision bf16 runs both engines' forward passes and losses under CPU
// autocast to bfloat16 (src/engine/autocast.ts; torch.autocast in PyTorch).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs as parseCliArgs } from 'node:util';
import { Generator, adamw, autocast, backward, noGrad, ops, runtimeInfo, setNumThreads, sgd, tidy, type HalfDType, type Optimizer, type Tensor } from '../../src/engine/index.js';
import { createModel, type ChildModel } from '../../src/models/index.js';
import { tlmForwardFlops, wrnForwardFlops } from './flops.js';
import { median } from '../stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const torchScript = join(here, '../../../bench/engine/torch_reference.py');

interface Args {
  json: boolean;
  threads: number[];
  steps: number;
  warmup: number;
  rounds: number;
  python: string;
  precision: 'fp32' | 'bf16';
}

function parseArgs(argv: string[]): Args {
  const { values } = parseCliArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      threads: { type: 'string', default: '1,2' },
      steps: { type: 'string', default: '8' },
      warmup: { type: 'string', default: '2' },
      rounds: { type: 'string', default: '2' },
      python: { type: 'string', default: '/usr/bin/python3' },
      precision: { type: 'string', default: 'fp32' },
    },
  });
  if (values.precision !== 'fp32' && values.precision !== 'bf16') throw new Error(`bench:engine: --precision must be fp32 or bf16, got '${values.precision}'`);
  const int = (name: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`bench:engine: --${name} must be a positive integer, got '${v}'`);
    return n;
  };
  return {
    json: values.json,
    threads: values.threads.split(',').map((t) => int('threads', t)),
    steps: int('steps', values.steps),
    warmup: int('warmup', values.warmup),
    rounds: int('rounds', values.rounds),
    python: values.python,
    precision: values.precision,
  };
}


function time(fn: () => void, warmup: number, steps: number): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    fn();
    out.push(performance.now() - t0);
  }
  return out;
}

interface Bench {
  step: () => void;
  forward: () => void;
  dispose: () => void;
}

function convnetBench(half: HalfDType | null): Bench {
  const gen = new Generator(0);
  const model = createModel('wrn-16-2', { inChannels: 3, numClasses: 10 }, gen);
  const opt: Optimizer = sgd(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const x = ops.randn([64, 3, 32, 32], gen).keep();
  const y = ops.randint(0, 10, [64], gen).keep();
  return benchFor(model, opt, half, () => ops.crossEntropy(model.forward(x), y), () => model.forward(x), [x, y]);
}

function transformerBench(half: HalfDType | null): Bench {
  const gen = new Generator(0);
  const model = createModel('tlm-2-128', { vocabSize: 10000, maxLen: 64 }, gen);
  const opt = adamw(model.parameters(), { lr: 1e-3 });
  const tok = ops.randint(0, 10000, [32, 64], gen).keep();
  const tgt = ops.randint(0, 10000, [32 * 64], gen).keep();
  return benchFor(model, opt, half, () => ops.crossEntropy(ops.reshape(model.forward(tok), [32 * 64, 10000]), tgt), () => model.forward(tok), [tok, tgt]);
}

function benchFor(model: ChildModel, opt: Optimizer, half: HalfDType | null, loss: () => Tensor, forward: () => Tensor, inputs: Tensor[]): Bench {
  model.train();
  return {
    step: () =>
      tidy(() => {
        opt.zeroGrad();
        backward(autocast(half, loss));
        opt.step();
      }),
    forward: () => noGrad(() => tidy(() => void autocast(half, forward))),
    dispose: () => {
      model.dispose();
      for (const t of inputs) t.dispose();
    },
  };
}

interface Timing {
  stepMs: number[];
  forwardMs: number[];
}

function runTs(which: 'convnet' | 'transformer', a: Args): Timing {
  const half = a.precision === 'bf16' ? 'bfloat16' : null;
  const b = which === 'convnet' ? convnetBench(half) : transformerBench(half);
  try {
    return { stepMs: time(b.step, a.warmup, a.steps), forwardMs: time(b.forward, 1, a.steps) };
  } finally {
    b.dispose();
  }
}

/** glibc's allocator settings as environment variables: the values native/tensor.cc's tuneAllocator() passes to mallopt(). */
const TUNED_MALLOC_ENV = {
  MALLOC_MMAP_THRESHOLD_: String(256 * 1024 * 1024),
  MALLOC_TRIM_THRESHOLD_: String(1024 * 1024 * 1024),
  MALLOC_TOP_PAD_: String(64 * 1024 * 1024),
};

function runTorch(which: 'convnet' | 'transformer', threads: number, a: Args, malloc: 'shipped' | 'tuned'): { stepMs: number; forwardMs: number } {
  const env = { ...process.env };
  for (const k of Object.keys(TUNED_MALLOC_ENV)) delete env[k];
  const r = spawnSync(a.python, [torchScript, '--threads', String(threads), '--steps', String(a.steps), '--warmup', String(a.warmup), '--model', which, '--precision', a.precision], {
    encoding: 'utf8',
    env: malloc === 'tuned' ? { ...env, ...TUNED_MALLOC_ENV } : env,
  });
  if (r.status !== 0) {
    throw new Error(`bench:engine: the PyTorch reference failed (${a.python} ${torchScript}): ${r.stderr || r.error?.message}\nInstall Debian's python3-torch (./setup does).`);
  }
  return JSON.parse(r.stdout)[which];
}

function cpuMhz(): number {
  try {
    const m = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

interface ModelResult {
  stepMs: number;
  forwardMs: number;
  /** PyTorch as shipped. */
  torchStepMs: number;
  torchForwardMs: number;
  /** PyTorch with glibc's allocator tuned as this engine tunes it (TUNED_MALLOC_ENV). */
  tunedTorchStepMs: number;
  tunedTorchForwardMs: number;
  /** stepMs / torchStepMs: against PyTorch as shipped. */
  stepRatio: number;
  /** stepMs / tunedTorchStepMs: the binding's overhead against PyTorch at its best here (target <= 1.10). */
  tunedStepRatio: number;
  gflops: number;
  /** Of the float32 AVX2 peak; null in bf16 (its bfloat16 peak is another, unmeasured, figure). */
  peakFraction: number | null;
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const mhz = cpuMhz();
  // AVX2 with two 256-bit FMA pipes: 2 x 8 float32 lanes x 2 FLOPs = 32 per
  // cycle, times the clock read below. The engine issue's "16 per cycle"
  // counts one pipe; measured steps exceed it, so it is not the peak.
  const peakPerCore = (32 * mhz) / 1000;
  const flops = {
    convnet: 3 * wrnForwardFlops(16, 2, 64, 3, 32, 10),
    transformer: 3 * tlmForwardFlops(2, 128, 32, 64, 10000),
  };
  const byThreads: Record<string, { convnet: ModelResult; transformer: ModelResult }> = {};
  if (a.threads.length > 1) {
    // One fresh process per thread count: switching libtorch's OpenMP pool
    // from 1 to 2 threads inside a process was measured to slow the
    // Transformer's 2-thread steps ~2x (855 ms vs 397 ms in a fresh process).
    for (const t of a.threads) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--json', '--threads', String(t), '--steps', String(a.steps), '--warmup', String(a.warmup), '--rounds', String(a.rounds), '--python', a.python, '--precision', a.precision], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      if (r.status !== 0) throw new Error(`bench:engine: the ${t}-thread run failed`);
      byThreads[String(t)] = JSON.parse(r.stdout).byThreads[String(t)];
      if (!a.json) process.stderr.write(` ${t} thread(s) done\n`);
    }
  }
  for (const t of a.threads.length > 1 ? [] : a.threads) {
    setNumThreads(t);
    const entry = {} as { convnet: ModelResult; transformer: ModelResult };
    for (const which of ['convnet', 'transformer'] as const) {
      const ts: Timing = { stepMs: [], forwardMs: [] };
      const torch = { stepMs: [] as number[], forwardMs: [] as number[] };
      const tuned = { stepMs: [] as number[], forwardMs: [] as number[] };
      for (let r = 0; r < a.rounds; r++) {
        // Order reversed every round (TS, shipped, tuned, tuned, shipped, TS, ...).
        const order = r % 2 === 0 ? (['ts', 'torch', 'tuned'] as const) : (['tuned', 'torch', 'ts'] as const);
        for (const eng of order) {
          if (eng === 'ts') {
            const m = runTs(which, a);
            ts.stepMs.push(median(m.stepMs));
            ts.forwardMs.push(median(m.forwardMs));
          } else {
            const m = runTorch(which, t, a, eng === 'tuned' ? 'tuned' : 'shipped');
            const into = eng === 'tuned' ? tuned : torch;
            into.stepMs.push(m.stepMs);
            into.forwardMs.push(m.forwardMs);
          }
          if (!a.json) process.stderr.write('.');
        }
      }
      const stepMs = median(ts.stepMs);
      const gflops = flops[which] / (stepMs / 1000) / 1e9;
      entry[which] = {
        stepMs,
        forwardMs: median(ts.forwardMs),
        torchStepMs: median(torch.stepMs),
        torchForwardMs: median(torch.forwardMs),
        tunedTorchStepMs: median(tuned.stepMs),
        tunedTorchForwardMs: median(tuned.forwardMs),
        stepRatio: stepMs / median(torch.stepMs),
        tunedStepRatio: stepMs / median(tuned.stepMs),
        gflops,
        peakFraction: a.precision === 'fp32' ? gflops / (peakPerCore * t) : null,
      };
    }
    byThreads[String(t)] = entry;
  }
  const top = byThreads[String(Math.max(...a.threads))];
  const out = {
    libtorch: runtimeInfo().libtorchVersion,
    precision: a.precision,
    threads: Math.max(...a.threads),
    convnet: top.convnet,
    transformer: top.transformer,
    peakGflops: peakPerCore * Math.max(...a.threads),
    peakGflopsPerCore: peakPerCore,
    cpuMhz: mhz,
    stepGflop: { convnet: flops.convnet / 1e9, transformer: flops.transformer / 1e9 },
    byThreads,
    settings: { steps: a.steps, warmup: a.warmup, rounds: a.rounds },
  };
  if (a.json) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
    return;
  }
  process.stderr.write('\n');
  const rows = [
    '| model | threads | TS step ms | PyTorch step ms (shipped / tuned malloc) | ratio (shipped / tuned) | TS fwd ms | PyTorch fwd ms (shipped / tuned) | GFLOP/s | of peak |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [t, e] of Object.entries(byThreads)) {
    for (const which of ['convnet', 'transformer'] as const) {
      const m = e[which];
      rows.push(
        `| ${which === 'convnet' ? 'wrn-16-2, batch 64' : 'tlm-2-128, batch 32x64'} | ${t} | ${m.stepMs.toFixed(0)} | ${m.torchStepMs.toFixed(0)} / ${m.tunedTorchStepMs.toFixed(0)} | ${m.stepRatio.toFixed(2)} / ${m.tunedStepRatio.toFixed(2)} | ${m.forwardMs.toFixed(0)} | ${m.torchForwardMs.toFixed(0)} / ${m.tunedTorchForwardMs.toFixed(0)} | ${m.gflops.toFixed(1)} | ${m.peakFraction === null ? '—' : `${(m.peakFraction * 100).toFixed(0)}%`} |`,
      );
    }
  }
  process.stdout.write(`libtorch ${out.libtorch}, ${a.precision}, CPU ${mhz.toFixed(0)} MHz, peak ${peakPerCore.toFixed(1)} GFLOP/s per core\n${rows.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 1;
});
