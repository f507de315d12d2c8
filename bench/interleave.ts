// The measurement loop the step benchmarks share: configurations interleaved
// step by step, the order rotating every step, so that drift and other
// processes on a shared machine hit all of them alike. Each step records wall
// time and this process's CPU time (user + system): with one engine thread
// the CPU time is the work done, unaffected by waiting for a core, the robust
// measure when the machine is loaded.
import { median } from './stats.js';

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
