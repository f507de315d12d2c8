// The measurement loop the step benchmarks share: configurations interleaved
// step by step, the order rotating every step, so that drift and other
// processes on a shared machine hit all of them alike. Each step records wall
// time and this process's CPU time (user + system): with one engine thread
// the CPU time is the work done, unaffected by waiting for a core, the robust
// measure when the machine is loaded.
import { parseArgs } from 'node:util';
import { median } from './stats.js';

/** The flags of a step benchmark: output, engine threads, the loop's sizes, and which parts to run. */
export interface StepBenchArgs<P extends string> {
  json: boolean;
  threads: number;
  steps: number;
  warmup: number;
  rounds: number;
  parts: P[];
}

/**
 * `[--json] [--threads N] [--steps N] [--warmup N] [--rounds R] [--part NAME|both]` for the bench
 * `name`, whose parts are `parts` (both: all of them, in order); an invalid value throws, naming the flag.
 */
export function parseStepBenchArgs<P extends string>(name: string, argv: string[], parts: readonly P[], defaults: { steps: number; rounds: number }): StepBenchArgs<P> {
  const { values } = parseArgs({
    args: argv,
    options: {
      json: { type: 'boolean', default: false },
      threads: { type: 'string', default: '1' },
      steps: { type: 'string', default: String(defaults.steps) },
      warmup: { type: 'string', default: '2' },
      rounds: { type: 'string', default: String(defaults.rounds) },
      part: { type: 'string', default: 'both' },
    },
  });
  const chosen = values.part === 'both' ? [...parts] : parts.filter((p) => p === values.part);
  if (chosen.length === 0) throw new Error(`${name}: --part must be ${parts.join(', ')} or both, got '${values.part}'`);
  const int = (flag: string, v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name}: --${flag} must be a positive integer, got '${v}'`);
    return n;
  };
  return {
    json: values.json,
    threads: int('threads', values.threads),
    steps: int('steps', values.steps),
    warmup: int('warmup', values.warmup),
    rounds: int('rounds', values.rounds),
    parts: chosen,
  };
}

export interface InterleaveOptions {
  steps: number;
  warmup: number;
  rounds: number;
  /** Called after each round (progress dots). */
  onRound?: () => void;
}

/** Per configuration, the median of each round's steps: CPU and wall milliseconds. */
export interface RoundMedians {
  cpu: Record<string, number[]>;
  wall: Record<string, number[]>;
}

/** Warms every configuration up, then runs `rounds` rounds of `steps` interleaved steps; `use(name)` switches configuration. */
export function interleave(names: readonly string[], use: (name: string) => void, step: () => void, o: InterleaveOptions): RoundMedians {
  for (const n of names) {
    use(n);
    for (let i = 0; i < o.warmup; i++) step();
  }
  const wall: Record<string, number[][]> = Object.fromEntries(names.map((n) => [n, []]));
  const cpu: Record<string, number[][]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < o.rounds; r++) {
    for (const n of names) {
      wall[n].push([]);
      cpu[n].push([]);
    }
    for (let i = 0; i < o.steps; i++) {
      const shift = r * o.steps + i;
      for (const n of names.map((_, j) => names[(j + shift) % names.length])) {
        use(n);
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        step();
        const t1 = performance.now();
        const c1 = process.cpuUsage(c0);
        wall[n][r].push(t1 - t0);
        cpu[n][r].push((c1.user + c1.system) / 1000);
      }
    }
    o.onRound?.();
  }
  const roundMedians = (t: Record<string, number[][]>): Record<string, number[]> => Object.fromEntries(names.map((n) => [n, t[n].map((steps) => median(steps))]));
  return { cpu: roundMedians(cpu), wall: roundMedians(wall) };
}

/** The median over rounds of num / den, each round's ratio taken first. */
export function roundRatio(perRound: Record<string, number[]>, num: string, den: string): number {
  return median(perRound[num].map((v, i) => v / perRound[den][i]));
}
