/**
 * Seeded pseudo-random numbers for everything the project randomises on the JS side (data splits,
 * epoch order, augmentation, controller sampling).
 *
 * Math.random cannot be seeded, so runs could never be repeated; and a search spreads trials over
 * several processes, which must all see the same data order for a given seed. A tiny generator
 * whose whole state is four 32-bit words gives both: same seed → same stream on every machine and
 * Node version, and getState()/setState() let a checkpoint resume mid-stream.
 *
 * Algorithm: xoshiro128** (Blackman & Vigna), seeded through splitmix32 so that nearby seeds
 * (0, 1, 2, …) still start from unrelated states. It is not cryptographic.
 */

const TWO_POW_32 = 4294967296;

/** One step of splitmix32: returns the next output and the advanced counter. */
function splitmix32(counter: number): [out: number, next: number] {
  const next = (counter + 0x9e3779b9) >>> 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [z >>> 0, next];
}

/** FNV-1a over UTF-16 code units; labels are short, so this is never hot. */
function hashLabel(label: string | number): number {
  const s = typeof label === 'number' ? `#${label}` : label;
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`Rng seed must be a safe integer, got ${seed}`);
  }
}

/** Expands up to two 32-bit words into a full, never all-zero xoshiro state. */
function stateFrom(a: number, b: number): Uint32Array {
  const st = new Uint32Array(4);
  let c = a >>> 0;
  for (let i = 0; i < 4; i++) {
    let out: number;
    [out, c] = splitmix32(c);
    // Folding the second word into every output keeps seeds that differ only above 2^32 apart.
    st[i] = (out ^ Math.imul(b ^ (b >>> 15), 0x2c1b3c6d ^ (i * 0x297a2d39))) >>> 0;
  }
  if ((st[0] | st[1] | st[2] | st[3]) === 0) st[0] = 1;
  return st;
}

export type RngState = [number, number, number, number];

export class Rng {
  private readonly s: Uint32Array;

  /** `seed`: any safe integer (negative and > 2^32 values are distinct seeds). */
  constructor(seed: number) {
    checkSeed(seed);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    this.s = stateFrom(lo, hi);
  }

  /**
   * A stream named by a path under a root seed, e.g. `Rng.derive(seed, 'data', 'epoch', 3)`.
   * Unlike fork() it does not depend on how much of any other stream was consumed, so separate
   * processes that agree on the seed and the path get the same numbers.
   */
  static derive(seed: number, ...labels: (string | number)[]): Rng {
    let r = new Rng(seed);
    for (const l of labels) r = r.fork(l);
    return r;
  }

  /** Restores a generator from getState(). */
  static fromState(state: readonly number[]): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  /** Next raw output, uniform over [0, 2^32). */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) on a 2^-32 grid; enough resolution for sampling and shuffling. */
  nextFloat(): number {
    return this.nextUint32() / TWO_POW_32;
  }

  /** Uniform integer in [0, n), without modulo bias. 1 ≤ n ≤ 2^32. */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
      throw new RangeError(`Rng.nextInt: n must be an integer in [1, 2^32], got ${n}`);
    }
    // Rejecting the top partial block of 2^32 makes every residue equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % n);
    let x = this.nextUint32();
    while (x >= limit) x = this.nextUint32();
    return x % n;
  }

  /** Bernoulli(p). */
  chance(p: number): boolean {
    return this.nextFloat() < p;
  }

  /**
   * Standard normal via Box–Muller. The second variate is discarded on purpose: caching it would
   * add hidden state that getState() would have to carry.
   */
  normal(mean = 0, std = 1): number {
    const u1 = 1 - this.nextFloat(); // (0, 1]: log stays finite
    const u2 = this.nextFloat();
    return mean + std * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** In-place Fisher–Yates shuffle; returns its argument. */
  shuffle<A extends { length: number; [i: number]: unknown }>(array: A): A {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    return this.shuffle(p);
  }

  /**
   * An independent child stream, determined by this generator's current state and `label`.
   * The parent is not advanced, so forking is free of side effects and the same label at the
   * same point always gives the same child.
   */
  fork(label: string | number): Rng {
    const h = hashLabel(label);
    const s = this.s;
    let a = h;
    let b = 0x6a09e667;
    for (let i = 0; i < 4; i++) {
      let out: number;
      [out, a] = splitmix32((a ^ s[i]) >>> 0);
      b = (Math.imul(b ^ out, 0x9e3779b1) + i) >>> 0;
    }
    const child = new Rng(0);
    child.s.set(stateFrom(a, b));
    return child;
  }

  /** Snapshot for checkpoints; JSON-serialisable. */
  getState(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }

  setState(state: readonly number[]): void {
    if (
      state.length !== 4 ||
      !state.every((w) => Number.isInteger(w) && w >= 0 && w < TWO_POW_32)
    ) {
      throw new RangeError(`Rng.setState: expected four uint32 words, got ${JSON.stringify(state)}`);
    }
    if (state.every((w) => w === 0)) {
      throw new RangeError('Rng.setState: the all-zero state is invalid for xoshiro128**');
    }
    this.s.set(state);
  }

  clone(): Rng {
    return Rng.fromState(this.getState());
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
