// `npm run bench:paper [-- --json] [--only NAME[,NAME]] [--batch N] [--steps N] [--threads N] [--mem-gib X]`
// `npm run bench:paper -- --from RESULT.json`   (the tables of a saved --json result)
//
// What the paper's runs (configs/paper/*.json) would cost on this machine:
// for each model of those runs, full training steps (forward, backward,
// optimizer step: SGD-Nesterov for images, AdamW for text) on synthetic
// tensors at the config's batch size and input shape, with every dropout slot
// carrying a pattern and with none; then each run's cost as per-step time x
// steps per epoch x epochs (x children, for a search), evaluation excluded.
//
// - Patterns: a tile at every ConvNet slot (2x2 holes on a 5x5 period over the
//   whole map, rotated 30 degrees, sheared 0.1, an independent placement per
//   channel, skip paths masked too: the costly corner of the tile space) and a
//   span at every sublayer of every Transformer-XL layer (2 tokens every 16,
//   one mask per channel group). Both are points of spaces/tile.json and
//   spaces/span.json.
// - Each model runs in a fresh process (its peak memory is its own), with all
//   cores unless --threads. One warm-up step per variant, then timed steps
//   alternating the variants (none, pattern, pattern, none, ...) so that a
//   slow phase of a shared machine hits both; medians of wall and CPU time
//   (CPU = user + system of the whole process: every libtorch thread).
//   Steps: --steps, else 5, 3 when a warm-up step took over 3 s, 2 over 10 s
//   (the large models), to keep the default run short; the batch is never cut
//   for time. The fastest step is reported next to the median: on a shared
//   machine it is the one least slowed by other work.
// - Memory: a step at 4 and one at 8 examples give the memory per example
//   (growth of the peak RSS); when the config's batch would not fit in
//   --mem-gib (default: half the memory free at start), the largest power of
//   two that fits is measured and the time is scaled per example to the
//   config's batch; the table says so.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { availableParallelism, cpus, freemem, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs as parseCliArgs } from 'node:util';
import { imageBatchCount, lmBatchCount } from '../../src/data/batches.js';
import { Generator, adamw, backward, clipGradNorm, ops, setNumThreads, sgd, tidy, type Optimizer, type Tensor } from '../../src/engine/index.js';
import { createModel, efficientNetResolution, parseEfficientNetName, type ChildModel } from '../../src/models/index.js';
import { PATTERN_FORMAT, type PatternFile } from '../../src/patterns/types.js';
import { dropoutForPatternFile } from '../../src/layers/pattern-file.js';
import { median } from '../stats.js';

const configDir = new URL('../../../configs/paper/', import.meta.url);

// Dataset sizes the runs' steps per epoch follow from (the data need not be here).
const CIFAR10_TRAIN = 50_000;
const IMAGENET_TRAIN = 1_281_167;
/** PTB's ptb.train.txt: 887,521 words + 42,068 line ends (<eos>). */
const PTB_TRAIN_TOKENS = 929_589;
/** The CLI's default held-out validation images (--val-size). */
const DEFAULT_VAL_SIZE = 5000;

const GIB = 1024 ** 3;

/** One paper run (a configs/paper file). */
interface PaperRun {
  file: string;
  command: 'train' | 'search';
  task: string;
  model: string;
  epochs: number;
  batchSize: number;
  /** Search: children trained (one after another on this machine). */
  trials?: number;
  stepsPerEpoch: number;
  /** Images: side of the square input; text: segment length. */
  imageSize?: number;
  seqLen?: number;
  memLen?: number;
  gradClip: number;
  trainExamples: string;
}

/** One measured model (several runs may share it). */
interface Setup {
  name: string;
  model: string;
  family: 'image' | 'language';
  batch: number;
  imageSize?: number;
  numClasses?: number;
  seqLen?: number;
  memLen?: number;
  vocab?: number;
  gradClip: number;
}

interface Measurement {
  name: string;
  model: string;
  input: string;
  parameters: number;
  patternSlots: number;
  slots: number;
  paperBatch: number;
  batch: number;
  /** The paper batch did not fit in the memory budget: times are scaled per example. */
  scaled: boolean;
  steps: number;
  threads: number;
  /** Median seconds per step at the measured batch (and the fastest step: the least disturbed by other work). */
  wall: { none: number; pattern: number };
  wallMin: { none: number; pattern: number };
  cpu: { none: number; pattern: number };
  /** 1-minute load average as the model started (a busy machine inflates every time). */
  loadBefore: number;
  /** Memory per example (MiB) from the 4- and 8-example steps; peak RSS (GiB) of the process. */
  perExampleMiB: number | null;
  peakGiB: number;
  budgetGiB: number;
}

interface Args {
  json: boolean;
  only: string[] | null;
  batch: number | null;
  steps: number | null;
  threads: number;
  memGiB: number;
  child: string | null;
  from: string | null;
}

/** What --json prints (and --from reads). */
interface Result {
  cpu: string;
  threads: number;
  totalGiB: number;
  memGiB: number;
  loadAverage: number[];
  measured: Measurement[];
  costs: RunCost[];
}

function parseArgs(argv: string[]): Args {
  const { values } = parseCliArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
      batch: { type: 'string' },
      steps: { type: 'string' },
      threads: { type: 'string', default: String(availableParallelism()) },
      'mem-gib': { type: 'string', default: (freemem() / GIB / 2).toFixed(1) },
      child: { type: 'string' },
      from: { type: 'string' },
    },
  });
  const int = (name: string, v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < 1) throw new Error(`bench:paper: --${name} must be a positive integer, got '${v}'`);
    return n;
  };
  const memGiB = Number(values['mem-gib']);
  if (!(memGiB > 0)) throw new Error(`bench:paper: --mem-gib must be a positive number, got '${values['mem-gib']}'`);
  return {
    json: values.json,
    only: values.only !== undefined ? values.only.split(',') : null,
    batch: values.batch !== undefined ? int('batch', values.batch) : null,
    steps: values.steps !== undefined ? int('steps', values.steps) : null,
    threads: int('threads', values.threads),
    memGiB,
    child: values.child ?? null,
    from: values.from ?? null,
  };
}


function readPaperRuns(): PaperRun[] {
  const files = readdirSync(configDir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  return files.map((file) => {
    const c = JSON.parse(readFileSync(new URL(file, configDir), 'utf8')) as Record<string, unknown>;
    const num = (k: string): number | undefined => (typeof c[k] === 'number' ? (c[k] as number) : undefined);
    const task = String(c.task);
    const model = String(c.model);
    const batchSize = num('batchSize') as number;
    const command = file.includes('-search-') ? 'search' : 'train';
    const valSize = num('valSize') ?? DEFAULT_VAL_SIZE;
    let stepsPerEpoch: number;
    let trainExamples: string;
    const base = { file, command, task, model, epochs: num('epochs') as number, batchSize, trials: command === 'search' ? num('trials') : undefined, gradClip: num('gradClip') ?? 0 } as const;
    if (task === 'ptb') {
      const seqLen = num('seqLen') as number;
      stepsPerEpoch = lmBatchCount(PTB_TRAIN_TOKENS, { batchSize, seqLen });
      trainExamples = `${PTB_TRAIN_TOKENS.toLocaleString('en-US')} tokens`;
      return { ...base, stepsPerEpoch, seqLen, memLen: num('memLen') ?? seqLen, trainExamples };
    }
    const total = task === 'cifar10' ? CIFAR10_TRAIN : IMAGENET_TRAIN;
    const n = num('trainLimit') ?? total - valSize;
    stepsPerEpoch = imageBatchCount(n, batchSize);
    trainExamples = `${n.toLocaleString('en-US')} images`;
    const imageSize = task === 'cifar10' ? 32 : (num('imageSize') ?? (parseEfficientNetName(model) ? efficientNetResolution(model) : 224));
    return { ...base, stepsPerEpoch, imageSize, trainExamples };
  });
}

/** The models to measure: one per (model, batch, input) of the paper runs. */
function setupsOf(runs: PaperRun[]): Setup[] {
  const out = new Map<string, Setup>();
  for (const r of runs) {
    const key = JSON.stringify([r.model, r.batchSize, r.imageSize, r.seqLen, r.memLen]);
    if (out.has(key)) continue;
    const image = r.task !== 'ptb';
    out.set(key, {
      name: r.model,
      model: r.model,
      family: image ? 'image' : 'language',
      batch: r.batchSize,
      ...(image ? { imageSize: r.imageSize, numClasses: r.task === 'cifar10' ? 10 : 1000 } : { seqLen: r.seqLen, memLen: r.memLen, vocab: 10_000 }),
      gradClip: r.gradClip,
    });
  }
  return [...out.values()];
}

const F = PATTERN_FORMAT;
const TILE_EVERYWHERE: PatternFile = {
  format: F,
  space: 'tile',
  slots: { '*': { kind: 'tile', size: [2, 2], stride: [5, 5], repeat: 'all', rotate: 30, shearX: 0.1, shearY: 0, shareC: false, residual: true } },
};
const SPAN_EVERYWHERE: PatternFile = {
  format: F,
  space: 'span',
  slots: {
    '*': { kind: 'span', size: 2, stride: 16, repeat: 'all', shareC: false, noise: 'zero', sublayers: ['embedding', 'query', 'key', 'value', 'attention-output', 'ffn-hidden', 'ffn-output'] },
  },
};

const maxRssGiB = (): number => (process.resourceUsage().maxRSS * 1024) / GIB;

/** In the child process: measures one setup and prints its Measurement as JSON. */
function measure(s: Setup, a: Args): Measurement {
  const loadBefore = loadavg()[0];
  setNumThreads(a.threads);
  const paperBatch = a.batch ?? s.batch;
  const image = s.family === 'image';
  const init = new Generator(0);
  const model: ChildModel = createModel(
    s.model,
    image ? { inChannels: 3, numClasses: s.numClasses, imageSize: s.imageSize } : { vocabSize: s.vocab, maxLen: s.seqLen, memLen: s.memLen },
    init,
  );
  model.train();
  const params = model.parameters();
  // The trainers' optimizers (src/train/trainer.ts) with the paper configs' settings.
  const opt: Optimizer = image ? sgd(params, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }) : adamw(params, { lr: 2.5e-4, weightDecay: 0, beta1: 0.9, beta2: 0.98 });
  const slots = model.slots.list();
  const hook = dropoutForPatternFile(image ? TILE_EVERYWHERE : SPAN_EVERYWHERE, slots, { source: 'bench:paper pattern' });
  const patternSlots = slots.filter((slot) => hook(slot) !== null).length;
  const maskGen = new Generator(1);
  model.slots.setContext({ generator: maskGen, progress: 0.5 });
  const dataGen = new Generator(2);

  let inputs: Tensor[] = [];
  let inputBatch = 0;
  const setBatch = (b: number): void => {
    if (b === inputBatch) return;
    for (const t of inputs) t.dispose();
    inputs = image
      ? [ops.randn([b, 3, s.imageSize as number, s.imageSize as number], dataGen).keep(), ops.randint(0, s.numClasses as number, [b], dataGen).keep()]
      : [ops.randint(0, s.vocab as number, [b, s.seqLen as number], dataGen).keep(), ops.randint(0, s.vocab as number, [b * (s.seqLen as number)], dataGen).keep()];
    inputBatch = b;
  };
  const usePattern = (on: boolean): void => model.slots.assignAll(on ? hook : () => null);
  const step = (): { wall: number; cpu: number } => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    tidy(() => {
      opt.zeroGrad();
      const [x, y] = inputs;
      const logits = model.forward(x);
      const loss = image ? ops.crossEntropy(logits, y) : ops.crossEntropy(ops.reshape(logits, [y.shape[0], s.vocab as number]), y);
      backward(loss);
      if (s.gradClip > 0) clipGradNorm(params, s.gradClip);
      opt.step();
      loss.item();
    });
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    return { wall, cpu: (c.user + c.system) / 1e6 };
  };

  try {
    // Memory per example, with the pattern on (masks add to the activations).
    usePattern(true);
    let perExample: number | null = null;
    let batch = paperBatch;
    if (paperBatch > 8) {
      setBatch(4);
      step();
      const at4 = maxRssGiB();
      setBatch(8);
      step();
      const at8 = maxRssGiB();
      perExample = Math.max(0, (at8 - at4) / 4);
      // 25% margin: allocator slack grows with the batch.
      const fits = (b: number): boolean => at8 + perExample! * (b - 8) * 1.25 <= a.memGiB;
      if (!fits(paperBatch)) {
        batch = 8;
        while (batch * 2 < paperBatch && fits(batch * 2)) batch *= 2;
      }
    }
    setBatch(batch);
    usePattern(false);
    const warmNone = step().wall;
    usePattern(true);
    const warmPattern = step().wall;
    const warm = Math.max(warmNone, warmPattern);
    const steps = a.steps ?? (warm > 10 ? 2 : warm > 3 ? 3 : 5);
    const times = { none: [] as number[], pattern: [] as number[] };
    const cpu = { none: [] as number[], pattern: [] as number[] };
    for (let i = 0; i < steps; i++) {
      for (const on of i % 2 === 0 ? [false, true] : [true, false]) {
        usePattern(on);
        const r = step();
        times[on ? 'pattern' : 'none'].push(r.wall);
        cpu[on ? 'pattern' : 'none'].push(r.cpu);
      }
    }
    return {
      name: s.name,
      model: s.model,
      input: image ? `3x${s.imageSize}x${s.imageSize}` : `${s.seqLen} tokens + ${s.memLen} memory`,
      parameters: model.parameterCount(),
      patternSlots,
      slots: slots.length,
      paperBatch,
      batch,
      scaled: batch !== paperBatch,
      steps,
      threads: a.threads,
      wall: { none: median(times.none), pattern: median(times.pattern) },
      wallMin: { none: Math.min(...times.none), pattern: Math.min(...times.pattern) },
      loadBefore,
      cpu: { none: median(cpu.none), pattern: median(cpu.pattern) },
      perExampleMiB: perExample !== null ? (perExample * GIB) / 1024 ** 2 : null,
      peakGiB: maxRssGiB(),
      budgetGiB: a.memGiB,
    };
  } finally {
    for (const t of inputs) t.dispose();
    hook.dispose();
    model.dispose();
  }
}

/** Per-step seconds at the config's batch (scaled per example when a smaller batch was measured). */
const atPaperBatch = (m: Measurement, which: 'none' | 'pattern', what: 'wall' | 'wallMin' | 'cpu' = 'wall'): number => (m[what][which] * m.paperBatch) / m.batch;

interface RunCost {
  file: string;
  model: string;
  batchSize: number;
  stepsPerEpoch: number;
  epochs: number;
  trials: number | null;
  trainExamples: string;
  /** Hours of one training run (one child for a search) with the pattern / without. */
  hoursPattern: number;
  hoursNone: number;
  /** Search: all children, one after another. */
  totalHoursPattern: number;
}

function costOf(run: PaperRun, m: Measurement): RunCost {
  const steps = run.stepsPerEpoch * run.epochs;
  const hoursPattern = (atPaperBatch(m, 'pattern') * steps) / 3600;
  return {
    file: run.file,
    model: run.model,
    batchSize: run.batchSize,
    stepsPerEpoch: run.stepsPerEpoch,
    epochs: run.epochs,
    trials: run.trials ?? null,
    trainExamples: run.trainExamples,
    hoursPattern,
    hoursNone: (atPaperBatch(m, 'none') * steps) / 3600,
    totalHoursPattern: hoursPattern * (run.trials ?? 1),
  };
}

const fmtS = (s: number): string => (s >= 10 ? s.toFixed(1) : s.toFixed(2));
const fmtH = (h: number): string => (h >= 1e4 ? `${(h / 1000).toFixed(0)}k` : h >= 100 ? h.toFixed(0) : h.toFixed(1));
const fmtYears = (h: number): string => (h >= 24 * 365 ? ` (${(h / 24 / 365).toFixed(1)} years)` : h >= 48 ? ` (${(h / 24).toFixed(0)} days)` : '');

function table(r: Result): string {
  const { measured: ms, costs } = r;
  const lines = [
    `Training-step cost of the paper's models on this machine (${r.cpu}, ${r.threads} thread(s), ${r.totalGiB.toFixed(0)} GiB; memory budget ${r.memGiB.toFixed(1)} GiB; ` +
      `load average ${r.loadAverage.map((l) => l.toFixed(1)).join(' ')} at the end). Synthetic inputs; forward + backward + optimizer step; medians.`,
    '',
    '| model | input | batch | measured at | params | pattern slots | s/step, no pattern (fastest) | s/step, pattern (fastest) | CPU s/step, pattern | pattern overhead | MiB/example | peak RSS | load before |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const m of ms) {
    const scaled = m.scaled ? ` (x${(m.paperBatch / m.batch).toFixed(0)} per example)` : '';
    lines.push(
      `| ${m.model} | ${m.input} | ${m.paperBatch} | ${m.batch}${scaled} | ${(m.parameters / 1e6).toFixed(1)}M | ${m.patternSlots}/${m.slots} | ` +
        `${fmtS(atPaperBatch(m, 'none'))} (${fmtS(atPaperBatch(m, 'none', 'wallMin'))}) | ${fmtS(atPaperBatch(m, 'pattern'))} (${fmtS(atPaperBatch(m, 'pattern', 'wallMin'))}) | ` +
        `${fmtS(atPaperBatch(m, 'pattern', 'cpu'))} | ${((m.wall.pattern / m.wall.none - 1) * 100).toFixed(0)}% | ${m.perExampleMiB !== null ? m.perExampleMiB.toFixed(0) : '-'} | ${m.peakGiB.toFixed(1)} GiB | ${m.loadBefore.toFixed(1)} |`,
    );
  }
  lines.push('', `Timed steps per variant, after one warm-up step each: ${ms.map((m) => `${m.model} ${m.steps}`).join(', ')}. Fastest step in parentheses.`);
  if (ms.some((m) => m.scaled)) lines.push('"measured at": the config batch did not fit in the memory budget; the largest power of two that did was timed and scaled per example to the config batch.');
  lines.push(
    '',
    "Extrapolated cost of each paper run (configs/paper) on this machine: median time per step x steps per epoch x epochs (for a search: of one child, and of all its children one after another); evaluation, data loading and image decoding not included.",
    '',
    '| run | model | batch | train set | steps/epoch | epochs | hours, no pattern | hours, pattern | children | search total, pattern |',
    '|---|---|---:|---|---:|---:|---:|---:|---:|---:|',
  );
  for (const c of costs) {
    const total = c.trials !== null ? `${fmtH(c.totalHoursPattern)} h${fmtYears(c.totalHoursPattern)}` : '-';
    lines.push(
      `| ${c.file.replace(/\.json$/, '')} | ${c.model} | ${c.batchSize} | ${c.trainExamples} | ${c.stepsPerEpoch} | ${c.epochs} | ${fmtH(c.hoursNone)} | ` +
        `${fmtH(c.hoursPattern)}${fmtYears(c.hoursPattern)} | ${c.trials ?? '-'} | ${total} |`,
    );
  }
  return lines.join('\n');
}

function main(): void {
  const a = parseArgs(process.argv.slice(2));
  if (a.from !== null) {
    process.stdout.write(`${table(JSON.parse(readFileSync(a.from, 'utf8')) as Result)}\n`);
    return;
  }
  if (a.child !== null) {
    process.stdout.write(`${JSON.stringify(measure(JSON.parse(a.child) as Setup, a))}\n`);
    return;
  }
  const runs = readPaperRuns();
  let setups = setupsOf(runs);
  if (a.only) {
    const unknown = a.only.filter((n) => !setups.some((s) => s.name === n));
    if (unknown.length) throw new Error(`bench:paper: --only ${unknown.join(',')}: not a model of configs/paper; choose from ${setups.map((s) => s.name).join(', ')}`);
    setups = setups.filter((s) => a.only?.includes(s.name));
  }
  const measured: Measurement[] = [];
  for (const s of setups) {
    process.stderr.write(`bench:paper: ${s.model}, batch ${a.batch ?? s.batch} ...\n`);
    const args = ['--child', JSON.stringify(s), '--threads', String(a.threads), '--mem-gib', String(a.memGiB)];
    if (a.batch !== null) args.push('--batch', String(a.batch));
    if (a.steps !== null) args.push('--steps', String(a.steps));
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
    if (r.status !== 0) throw new Error(`bench:paper: ${s.model} failed (exit ${r.status ?? r.signal}):\n${r.stderr}`);
    const m = JSON.parse(r.stdout.trim().split('\n').pop() as string) as Measurement;
    measured.push(m);
    process.stderr.write(`  ${fmtS(atPaperBatch(m, 'none'))} s/step without, ${fmtS(atPaperBatch(m, 'pattern'))} s/step with the pattern (batch ${m.batch}${m.scaled ? `, scaled to ${m.paperBatch}` : ''})\n`);
  }
  const costs: RunCost[] = [];
  for (const run of runs) {
    // With --batch, the run's own batch is reached by scaling per example.
    const m = measured.find((x) => x.model === run.model);
    if (m) costs.push(costOf(run, { ...m, paperBatch: run.batchSize }));
  }
  const result: Result = { cpu: cpus()[0]?.model ?? 'unknown CPU', threads: a.threads, totalGiB: totalmem() / GIB, memGiB: a.memGiB, loadAverage: loadavg(), measured, costs };
  process.stdout.write(a.json ? `${JSON.stringify(result, null, 1)}\n` : `${table(result)}\n`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exitCode = 1;
}
