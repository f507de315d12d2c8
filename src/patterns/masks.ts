// The reference semantics of every pattern kind: masks sampled in pure
// TypeScript, no engine (docs/architecture.md §4; docs/patterns.md "Mask semantics").
// The engine layer (src/layers/patterns.ts) builds the same masks with tensor
// ops and is tested against this file; the TF.js layers and `show` call it
// directly.
//
// Learned from: timm's drop.py (drop_block_2d, drop_path: a pure function per
// kind, thin modules on top), the DropBlock paper (Ghiasi, Lin & Le 2018) for
// its seed rate gamma, Srivastava et al. 2014 §10 for Gaussian dropout, and the
// AutoDropout paper (Pham & Le 2021) for the tile/span spaces and the
// Size(m)/Sum(m) rescaling. Every edge case timm leaves as a TODO (even block
// sizes, blocks larger than the map, gamma at the border) is decided below.
//
// Layout: masks are (n, c, h, w) row-major. Sequences (N, T, C) use h = T,
// w = 1, c = C, so a sequence mask is stored channel-major, (n, c, T): value
// [n][c][t] multiplies x[n][t][c] (transpose the last two axes to apply it).
import { canvasDropFraction, spanCanvas, tileCanvas, type Canvas } from './canvas.js';
import { scalePattern } from './schedule.js';
import type { DropBlockPattern, MaskShape, Pattern, SpanPattern, TilePattern } from './types.js';
import type { Rng } from '../util/rng.js';

export interface SampleOptions {
  /** Schedule strength in [0, 1] (default 1): the pattern is scaled with scalePattern() first. */
  strength?: number;
}

export interface MultiplierOptions extends SampleOptions {
  /**
   * Schedule probability in [0, 1] (default 1): each example gets its
   * multipliers with this probability and all ones otherwise (one draw per
   * example, after the masks; see scheduleFactor()).
   */
  probability?: number;
}

function checkShape(s: MaskShape): void {
  for (const k of ['n', 'c', 'h', 'w'] as const) {
    if (!Number.isInteger(s[k]) || s[k] < 1) throw new RangeError(`mask shape ${k} must be a positive integer, got ${s[k]}`);
  }
}

function checkRate(kind: string, rate: number): void {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`${kind} rate must be in [0, 1), got ${rate}`);
}

/** The pattern actually sampled at this strength (scalePattern for strength < 1). */
export function effectivePattern(pattern: Pattern, strength: number | undefined): Pattern {
  if (strength === undefined || strength === 1) return pattern;
  if (!(strength >= 0 && strength <= 1)) throw new RangeError(`strength must be in [0, 1], got ${strength}`);
  return scalePattern(pattern, strength);
}

/**
 * DropBlock's block and seed rate for an (h, w) map. The block is clamped to
 * the map per axis (a block larger than the map drops the whole channel: a
 * single valid seed at rate 1 - keepProb, i.e. SpatialDropout), seeds are the
 * top-left corners of blocks that fit entirely ((h - bh + 1) x (w - bw + 1)
 * valid positions, which is the paper's "valid centre" for odd and even sizes
 * alike), and gamma = (1 - keepProb) / (bh bw) * (h w) / ((h - bh + 1)(w - bw + 1)),
 * the paper's formula with H != W and a clamped block. gamma <= 1 - keepProb
 * always (b (H - b + 1) >= H for 1 <= b <= H), so it is a probability.
 */
export function dropBlockParams(p: DropBlockPattern, h: number, w: number): { bh: number; bw: number; gamma: number } {
  if (!Number.isInteger(p.blockSize) || p.blockSize < 1) throw new RangeError(`dropblock blockSize must be a positive integer, got ${p.blockSize}`);
  if (!(p.keepProb >= 0 && p.keepProb <= 1)) throw new RangeError(`dropblock keepProb must be in [0, 1], got ${p.keepProb}`);
  const bh = Math.min(p.blockSize, h);
  const bw = Math.min(p.blockSize, w);
  const gamma = ((1 - p.keepProb) / (bh * bw)) * ((h * w) / ((h - bh + 1) * (w - bw + 1)));
  return { bh, bw, gamma: Math.min(1, Math.max(0, gamma)) };
}

/** The canvas a tile or span pattern uses for masks of this shape (spans run along h). */
export function patternCanvas(p: TilePattern | SpanPattern, shape: MaskShape): Canvas {
  return p.kind === 'tile' ? tileCanvas(p, shape.h, shape.w) : spanCanvas(p, shape.h);
}

/**
 * Standard deviation of the multiplicative N(1, sigma^2) noise a gaussian span
 * pattern puts on its spans, given the pattern's drop fraction f (the canvas's
 * fraction of zeros): sigma^2 = f / (1 - f), Gaussian dropout at rate f
 * (Srivastava et al. 2014 §10: N(1, p / (1 - p)) has the mean and variance of
 * Bernoulli dropout at rate p, rescaled). So a span pattern that would drop a
 * fraction f of the tokens instead perturbs the tokens under its spans with
 * the noise of dropout at that same rate: weaker than the `zero` variant
 * (total variance f^2 / (1 - f) instead of f / (1 - f)); sigma <= 1 for
 * f <= 1/2 (the span space's median point has sigma 0.45). f = 1 (spans cover everything; no
 * space point does) gives 0: the multipliers are then all ones, as the zero
 * variant's all-zero guard makes them.
 */
export function gaussianSpanStd(dropFraction: number): number {
  return dropFraction >= 1 ? 0 : Math.sqrt(dropFraction / (1 - dropFraction));
}

/**
 * One multiplier on a span: 1 + sigma z clipped to [0, 2]. The clip is
 * symmetric about 1, so the mean stays exactly 1, and no multiplier is
 * negative: a sign flip would turn a feature into its opposite, which no
 * dropout does (at sigma = 1, unclipped, 16 % of them would). A clipped low
 * value is a dropped token; its mirror at 2 keeps the mean.
 */
export function gaussianSpanMultiplier(sigma: number, z: number): number {
  return Math.min(2, Math.max(0, 1 + sigma * z));
}

/**
 * Samples a batch of keep masks for `pattern`: n*c*h*w values, (n, c, h, w)
 * row-major, 1 = keep and 0 = drop (gaussian spans: N(1, sigma^2) values on
 * the spans, clipped to [0, 2]). No rescaling here: see maskMultipliers(). Deterministic in rng.
 */
export function sampleMasks(pattern: Pattern, shape: MaskShape, rng: Rng, opts: SampleOptions = {}): Float32Array {
  checkShape(shape);
  const p = effectivePattern(pattern, opts.strength);
  const { n, c, h, w } = shape;
  const hw = h * w;
  const out = new Float32Array(n * c * hw);
  switch (p.kind) {
    case 'none':
      out.fill(1);
      break;
    case 'dropout':
      checkRate('dropout', p.rate);
      for (let i = 0; i < out.length; i++) out[i] = rng.nextFloat() >= p.rate ? 1 : 0;
      break;
    case 'spatial':
    case 'variational':
      // One value per (example, channel), shared over the map (spatial) or
      // along time (variational: h = T); the two differ only in intent.
      checkRate(p.kind, p.rate);
      for (let k = 0; k < n * c; k++) out.fill(rng.nextFloat() >= p.rate ? 1 : 0, k * hw, (k + 1) * hw);
      break;
    case 'droppath':
      checkRate('droppath', p.rate);
      for (let k = 0; k < n; k++) out.fill(rng.nextFloat() >= p.rate ? 1 : 0, k * c * hw, (k + 1) * c * hw);
      break;
    case 'dropblock': {
      const { bh, bw, gamma } = dropBlockParams(p, h, w);
      out.fill(1);
      const vh = h - bh + 1;
      const vw = w - bw + 1;
      for (let k = 0; k < n * c; k++) {
        const base = k * hw;
        for (let i = 0; i < vh; i++) {
          for (let j = 0; j < vw; j++) {
            if (rng.nextFloat() >= gamma) continue;
            for (let y = i; y < i + bh; y++) out.fill(0, base + y * w + j, base + y * w + j + bw);
          }
        }
      }
      break;
    }
    case 'tile':
    case 'span': {
      const cv = patternCanvas(p, shape);
      const size = cv.height * cv.width;
      const perExample = p.shareC ? 1 : c;
      const sigma = p.kind === 'span' && p.noise === 'gaussian' ? gaussianSpanStd(canvasDropFraction(cv)) : -1;
      for (let e = 0; e < n; e++) {
        for (let g = 0; g < perExample; g++) {
          const r = rng.nextInt(size);
          const oy = Math.floor(r / cv.width);
          const ox = r % cv.width;
          const base = (e * c + g) * hw;
          for (let y = 0; y < h; y++) {
            const row = ((y + oy) % cv.height) * cv.width;
            for (let x = 0; x < w; x++) out[base + y * w + x] = cv.data[row + ((x + ox) % cv.width)];
          }
          if (sigma > 0) {
            for (let i = base; i < base + hw; i++) if (out[i] === 0) out[i] = gaussianSpanMultiplier(sigma, rng.normal());
          } else if (sigma === 0) {
            out.fill(1, base, base + hw);
          }
          // shareC: the other channels are copies of the first (noise included).
          if (p.shareC) for (let ch = 1; ch < c; ch++) out.copyWithin((e * c + ch) * hw, base, base + hw);
        }
      }
      break;
    }
    default: {
      const never: never = p;
      throw new Error(`unknown pattern kind ${JSON.stringify((never as { kind: unknown }).kind)}`);
    }
  }
  return out;
}

/**
 * Per-example inverted-dropout factors for binary masks: numel / sum(mask)
 * over each example's c*h*w values (the paper's Size(m)/Sum(m), per example).
 * An all-zero example gets 1: the all-zero guard leaves that example unmasked
 * (maskMultipliers replaces its mask by ones), which keeps the expected
 * multiplier, averaged over positions, exactly 1 for every pattern.
 */
export function rescaleFactors(masks: Float32Array, shape: MaskShape): Float32Array {
  checkShape(shape);
  const per = shape.c * shape.h * shape.w;
  if (masks.length !== shape.n * per) throw new RangeError(`masks hold ${masks.length} values, shape needs ${shape.n * per}`);
  const out = new Float32Array(shape.n);
  for (let e = 0; e < shape.n; e++) {
    let s = 0;
    for (let i = e * per; i < (e + 1) * per; i++) s += masks[i];
    out[e] = s > 0 ? per / s : 1;
  }
  return out;
}

/**
 * What a layer multiplies its input by in training, from masks sampled by
 * sampleMasks() with the same pattern and strength (a new array):
 * - binary kinds: mask * numel/sum(mask) per example; an all-zero example
 *   passes unmasked (all ones);
 * - droppath: mask / (1 - rate), the nominal keep probability, since a
 *   per-example Size/Sum would undo every drop (timm's scale_by_keep);
 * - gaussian spans: the mask as is (mean 1 by construction, never rescaled).
 */
export function maskMultipliers(pattern: Pattern, masks: Float32Array, shape: MaskShape, opts: SampleOptions = {}): Float32Array {
  const p = effectivePattern(pattern, opts.strength);
  const out = Float32Array.from(masks);
  if (p.kind === 'none' || (p.kind === 'span' && p.noise === 'gaussian')) return out;
  if (p.kind === 'droppath') {
    const f = 1 / (1 - p.rate);
    for (let i = 0; i < out.length; i++) out[i] *= f;
    return out;
  }
  const factors = rescaleFactors(masks, shape);
  const per = shape.c * shape.h * shape.w;
  for (let e = 0; e < shape.n; e++) {
    const guarded = factors[e] === 1 && isAllZero(masks, e * per, (e + 1) * per);
    for (let i = e * per; i < (e + 1) * per; i++) out[i] = guarded ? 1 : out[i] * factors[e];
  }
  return out;
}

function isAllZero(a: Float32Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a[i] !== 0) return false;
  return true;
}

/**
 * sampleMasks() then maskMultipliers(), then the schedule's per-example
 * probability: the values a training step multiplies by.
 */
export function sampleMultipliers(pattern: Pattern, shape: MaskShape, rng: Rng, opts: MultiplierOptions = {}): Float32Array {
  const q = opts.probability ?? 1;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`probability must be in [0, 1], got ${q}`);
  const out = maskMultipliers(pattern, sampleMasks(pattern, shape, rng, opts), shape, opts);
  if (q < 1) {
    const per = shape.c * shape.h * shape.w;
    for (let e = 0; e < shape.n; e++) if (!(rng.nextFloat() < q)) out.fill(1, e * per, (e + 1) * per);
  }
  return out;
}
