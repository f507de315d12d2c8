// Shared pieces of the controller tests: a synthetic task whose optimum is
// known (reward = fraction of tokens matching a hidden target), scoring
// helpers and plain-TS reference maths.
import { tidy } from '../../src/engine/index.js';
import { Controller, positionsFor, type ControllerPosition, type ControllerSample, type UpdateSample } from '../../src/controller/index.js';
import { Rng } from '../../src/util/rng.js';

/** Vocabulary sizes of a realistic group (the tile space's 8 tokens: 10, 10, 9, 6, 9, 9, 2, 2). */
export const TILE_LIKE = [10, 10, 9, 6, 9, 9, 2, 2].map((vocabSize, i) => ({ name: `t${i}`, vocabSize }));

/** A small sequence for the fast tests: 3 groups of 3 types (vocab 3, 5, 2). */
export const SMALL: ControllerPosition[] = positionsFor(
  [
    { name: 'a', vocabSize: 3 },
    { name: 'b', vocabSize: 5 },
    { name: 'c', vocabSize: 2 },
  ],
  3,
);

export interface Task {
  target: number[];
  /** Fraction of tokens equal to the target's (noise-free). */
  score(tokens: readonly number[]): number;
}

export function matchTask(positions: readonly ControllerPosition[], seed: number): Task {
  const r = new Rng(seed);
  const target = positions.map((p) => r.nextInt(p.vocabSize));
  return {
    target,
    score: (tokens) => tokens.reduce((n, v, i) => n + (v === target[i] ? 1 : 0), 0) / tokens.length,
  };
}

/** Scored samples for update(), with optional reward noise. */
export function scored(samples: readonly ControllerSample[], reward: (s: ControllerSample) => number): UpdateSample[] {
  return samples.map((s) => ({ tokens: s.tokens, logProbOld: s.logProb, reward: reward(s), policyVersion: s.policyVersion }));
}

/** log π of each sequence as plain numbers. */
export function logProbsOf(c: Controller, batch: readonly (readonly number[])[]): number[] {
  return tidy(() => c.logProbs(batch).toArray());
}

/** Reference log-softmax and entropy in double precision. */
export function logSoftmax(z: readonly number[]): number[] {
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
}
export function entropyOf(logp: readonly number[]): number {
  return -logp.reduce((s, l) => s + Math.exp(l) * l, 0);
}

export const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Moves a controller away from the uniform initial policy with a few large-lr updates on random rewards. */
export function perturbed(positions: readonly ControllerPosition[], options: Record<string, number>, seed: number): Controller {
  const c = new Controller(positions, { lr: 0.05, ...options }, seed);
  const r = new Rng(seed + 100);
  for (let i = 0; i < 3; i++) c.update(scored(c.sampleBatch(8), () => r.nextFloat()));
  return c;
}
