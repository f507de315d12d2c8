// The mask engine (src/layers/patterns.ts) against the reference semantics of
// src/patterns/masks.ts: the same expected drop fractions (exact where the
// distribution is known), the same sharing, exactly the same canvases, the
// rescaling and its guard, schedules, determinism and flat memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, backward, grad, liveTensorCount, ops, requiresGrad, setNumThreads, tensor, tidy, zeroGrad, type Tensor } from '../../src/engine/index.js';
import { CanvasTensorCache, PatternDropout, clearCanvasCache, maskShapeOf, maskTensor, multiplierTensor, patternDropout } from '../../src/layers/patterns.js';
import { DropoutSlots, createModel, type SlotInfo } from '../../src/models/index.js';
import { canvasDropFraction, canvasWindow, spanCanvas, tileCanvas, windowSums } from '../../src/patterns/canvas.js';
import { dropBlockParams, gaussianSpanStd, sampleMasks } from '../../src/patterns/masks.js';
import { scheduleFactor } from '../../src/patterns/schedule.js';
import type { DropBlockPattern, MaskShape, Pattern, Schedule, SpanPattern, TilePattern } from '../../src/patterns/types.js';
import { Rng } from '../../src/util/rng.js';
import { clippedNoiseVariance, span, tile } from '../patterns/fixtures.js';

setNumThreads(1);

const conv: SlotInfo = { name: 'stage1.block1.bn1', kind: 'conv', depth: 0, channels: 8 };
const seqSlot: SlotInfo = { name: 'layer0.ffn-output', kind: 'sequence', depth: 0, channels: 8 };
function near(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Number.isFinite(actual), `${what}: ${actual} is not finite`);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs expected ${expected} (tolerance ${tol})`);
}
const zerosOf = (a: ArrayLike<number>): number => {
  let z = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === 0) z++;
  return z;
};
/** Multipliers of a pattern at full shape (n, c, h, w), as a flat array. */
function multipliers(p: Pattern, shape: MaskShape, gen: Generator, opts: { strength?: number; probability?: number; cache?: CanvasTensorCache } = {}): Float32Array {
  return tidy(() => {
    const m = multiplierTensor(p, shape, gen, opts);
    const full = m ? ops.expand(m, [shape.n, shape.c, shape.h, shape.w]) : ops.ones([shape.n, shape.c, shape.h, shape.w]);
    return ops.contiguous(full).data() as Float32Array;
  });
}
function masks(p: Pattern, shape: MaskShape, gen: Generator, cache?: CanvasTensorCache): Float32Array {
  return tidy(() => ops.contiguous(ops.expand(maskTensor(p, shape, gen, { cache }), [shape.n, shape.c, shape.h, shape.w])).data() as Float32Array);
}
/** A cache that holds one canvas: each other pattern or map size evicts it, so windows come from tables rebuilt after a free. */
const oneCanvas = new CanvasTensorCache(1);
/**
 * The reference windows (canvasWindow()) at the placements the engine draws
 * first from gen: one per example, or per (example, channel) unless shareC.
 */
function referenceWindows(p: TilePattern, shape: MaskShape, gen: Generator): Float32Array {
  const { n, c, h, w } = shape;
  const cv = tileCanvas(p, h, w);
  const perExample = p.shareC ? 1 : c;
  const r = tidy(() => ops.randint(0, cv.height * cv.width, [n * perExample], gen).toArray());
  const out = new Float32Array(n * c * h * w);
  for (let e = 0; e < n; e++) {
    for (let ch = 0; ch < c; ch++) {
      const k = r[e * perExample + (p.shareC ? 0 : ch)];
      out.set(canvasWindow(cv, Math.floor(k / cv.width), k % cv.width, h, w), (e * c + ch) * h * w);
    }
  }
  return out;
}
/** The fused path's multipliers: the layer applied to ones. */
function fusedMultipliers(p: Pattern, shape: MaskShape, gen: Generator, cache: CanvasTensorCache): Float32Array {
  return tidy(() => patternDropout(p, undefined, { cache }).apply(ops.ones([shape.n, shape.c, shape.h, shape.w]), { generator: gen, progress: 1 }, conv).data() as Float32Array);
}
/** Exact mean and sd of the drop fraction of one placement of a canvas. */
function windowStats(p: TilePattern | SpanPattern, h: number, w: number): { mean: number; sd: number } {
  const c = p.kind === 'tile' ? tileCanvas(p, h, w) : spanCanvas(p, h);
  const s = windowSums(c, h, w);
  let m = 0;
  let m2 = 0;
  for (const v of s) {
    m += 1 - v / (h * w);
    m2 += (1 - v / (h * w)) ** 2;
  }
  m /= s.length;
  return { mean: m, sd: Math.sqrt(Math.max(0, m2 / s.length - m * m)) };
}
function dropBlockExpected(p: DropBlockPattern, h: number, w: number): number {
  const { bh, bw, gamma } = dropBlockParams(p, h, w);
  let e = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const ky = Math.min(y, h - bh) - Math.max(0, y - bh + 1) + 1;
      const kx = Math.min(x, w - bw) - Math.max(0, x - bw + 1) + 1;
      e += 1 - (1 - gamma) ** (ky * kx);
    }
  }
  return e / (h * w);
}
/** Drop fractions of every (n, c) channel. */
function channelFractions(m: Float32Array, shape: MaskShape): number[] {
  const per = shape.h * shape.w;
  const out: number[] = [];
  for (let k = 0; k < shape.n * shape.c; k++) out.push(zerosOf(m.subarray(k * per, (k + 1) * per)) / per);
  return out;
}
const meanSd = (v: number[]): { mean: number; se: number } => {
  const mean = v.reduce((a, x) => a + x, 0) / v.length;
  const sd = Math.sqrt(v.reduce((a, x) => a + (x - mean) ** 2, 0) / (v.length - 1));
  return { mean, se: sd / Math.sqrt(v.length) };
};

test('every kind: the engine drop fraction matches the expected one and the pure-TS sampler', () => {
  const shape: MaskShape = { n: 64, c: 12, h: 14, w: 11 };
  const gen = new Generator(1);
  const rng = new Rng(1);
  const cases: [Pattern, number][] = [
    [{ kind: 'dropout', rate: 0.3 }, 0.3],
    [{ kind: 'spatial', rate: 0.25 }, 0.25],
    [{ kind: 'variational', rate: 0.4 }, 0.4],
    [{ kind: 'droppath', rate: 0.2 }, 0.2],
    [{ kind: 'dropblock', blockSize: 3, keepProb: 0.85 }, NaN],
    [{ kind: 'dropblock', blockSize: 4, keepProb: 0.8 }, NaN],
    [tile({ size: [2, 3], stride: [4, 5], shareC: false }), NaN],
    [tile({ size: [2, 2], stride: [5, 4], rotate: 30, shearX: 0.2, shearY: -0.1, shareC: false }), NaN],
    [tile({ size: [3, 2], stride: [4, 4], repeat: [2, 2], rotate: 45, shareC: true }), NaN],
    [tile({ size: [5, 5], repeat: [1, 1], shareC: false }), NaN],
  ];
  for (const [p, rate] of cases) {
    let expected = rate;
    if (p.kind === 'dropblock') expected = dropBlockExpected(p, shape.h, shape.w);
    if (p.kind === 'tile') expected = canvasDropFraction(tileCanvas(p, shape.h, shape.w));
    const engine: number[] = [];
    const ref: number[] = [];
    for (let d = 0; d < 4; d++) {
      engine.push(...channelFractions(masks(p, shape, gen), shape));
      ref.push(...channelFractions(sampleMasks(p, shape, rng), shape));
    }
    const e = meanSd(engine);
    const r = meanSd(ref);
    // Correlated channels (shared draws) make the per-channel standard error an
    // underestimate; the bound uses the number of independent draws.
    const indep = p.kind === 'droppath' || (p.kind === 'tile' && p.shareC) ? 4 * shape.n : p.kind === 'dropout' ? 4 * shape.n * shape.c * shape.h * shape.w : 4 * shape.n * shape.c;
    let sd: number;
    if (p.kind === 'tile') sd = windowStats(p, shape.h, shape.w).sd / Math.sqrt(indep);
    else if (p.kind === 'dropblock') sd = e.se;
    else sd = Math.sqrt((expected * (1 - expected)) / indep);
    near(e.mean, expected, 5 * sd + 1e-12, `${p.kind} ${JSON.stringify(p)} engine`);
    near(r.mean, expected, 5 * sd + 1e-12, `${p.kind} reference`);
  }
});

test('tile: every engine channel is exactly one placement of the canvas; shareC shares it, !shareC does not', () => {
  for (const [p, h, w] of [
    [tile({ size: [2, 3], stride: [4, 5], rotate: 20, shearY: 0.3 }), 9, 13],
    [tile({ size: [3, 3], stride: [2, 4], repeat: [2, 2], rotate: 60, shearX: -0.3 }), 10, 7],
    [tile({ size: [1, 2], stride: [3, 3], repeat: [3, 1] }), 6, 6],
  ] as const) {
    const c = tileCanvas(p, h, w);
    const windows = new Set<string>();
    for (let oy = 0; oy < c.height; oy++) for (let ox = 0; ox < c.width; ox++) windows.add(canvasWindow(c, oy, ox, h, w).join(''));
    for (const [shareC, cache] of [
      [true, undefined],
      [false, undefined],
      [true, oneCanvas],
      [false, oneCanvas],
    ] as const) {
      const shape = { n: 16, c: 5, h, w };
      const m = masks({ ...p, shareC }, shape, new Generator(4), cache);
      const per = h * w;
      let sharedExamples = 0;
      for (let e = 0; e < shape.n; e++) {
        const chans = Array.from({ length: 5 }, (_, ch) => Array.from(m.subarray((e * 5 + ch) * per, (e * 5 + ch + 1) * per)).join(''));
        for (const s of chans) assert.ok(windows.has(s), 'engine channel is a canvas window');
        if (chans.every((s) => s === chans[0])) sharedExamples++;
      }
      if (shareC) assert.equal(sharedExamples, shape.n);
      else assert.ok(sharedExamples <= 2, `!shareC: ${sharedExamples} examples with identical channels`);
    }
  }
});

test('tile placement is uniform over the canvas: every position has the canvas drop rate, corners included', () => {
  const p = tile({ size: [4, 3], repeat: [1, 1], shareC: false });
  const shape = { n: 256, c: 16, h: 8, w: 10 };
  const gen = new Generator(9);
  const counts = new Float64Array(80);
  const draws = 3;
  for (let d = 0; d < draws; d++) {
    const m = masks(p, shape, gen);
    for (let k = 0; k < shape.n * shape.c; k++) for (let i = 0; i < 80; i++) counts[i] += m[k * 80 + i] === 0 ? 1 : 0;
  }
  const f = canvasDropFraction(tileCanvas(p, 8, 10));
  near(f, 12 / ((8 + 3) * (10 + 2)), 1e-12, 'canvas fraction = block / placements');
  const total = draws * shape.n * shape.c;
  for (const i of [0, 9, 35, 70, 79]) near(counts[i] / total, f, 5 * Math.sqrt((f * (1 - f)) / total), `position ${i}`);
});

test('dropblock: union of whole valid blocks (odd and even), H != W, block >= map without NaN', () => {
  for (const b of [2, 3, 4]) {
    const h = 9;
    const w = 7;
    const m = masks({ kind: 'dropblock', blockSize: b, keepProb: 0.97 }, { n: 64, c: 8, h, w }, new Generator(b));
    let singles = 0;
    for (let k = 0; k < 512; k++) {
      const ch = m.subarray(k * h * w, (k + 1) * h * w);
      if (zerosOf(ch) !== b * b) continue;
      const first = ch.indexOf(0);
      const top = Math.floor(first / w);
      let left = w;
      for (let i = 0; i < ch.length; i++) if (ch[i] === 0) left = Math.min(left, i % w);
      assert.ok(top + b <= h && left + b <= w, 'block fits');
      for (let y = top; y < top + b; y++) for (let x = left; x < left + b; x++) assert.equal(ch[y * w + x], 0);
      singles++;
    }
    assert.ok(singles > 20, `${singles} single blocks for b=${b}`);
  }
  for (const [b, h, w] of [
    [7, 7, 7],
    [10, 4, 6],
    [8, 8, 3],
  ]) {
    const p: DropBlockPattern = { kind: 'dropblock', blockSize: b, keepProb: 0.6 };
    const shape = { n: 64, c: 6, h, w };
    const out = multipliers(p, shape, new Generator(b));
    assert.ok(out.every((v) => Number.isFinite(v)), 'finite');
    const m = masks(p, shape, new Generator(b));
    const fr = channelFractions(m, shape);
    near(meanSd(fr).mean, dropBlockExpected(p, h, w), 5 * meanSd(fr).se + 1e-9, `dropblock b=${b} on ${h}x${w}`);
    if (b >= h && b >= w) assert.ok(fr.every((f) => f === 0 || f === 1), 'whole channels');
  }
});

test('rescaling: per-example mean multiplier is exactly 1; the output mean matches the input mean', () => {
  const shape: MaskShape = { n: 32, c: 8, h: 12, w: 12 };
  const gen = new Generator(5);
  const patterns: Pattern[] = [
    { kind: 'dropout', rate: 0.5 },
    { kind: 'spatial', rate: 0.5 },
    { kind: 'dropblock', blockSize: 5, keepProb: 0.7 },
    tile({ size: [3, 3], stride: [5, 5], rotate: 25, shareC: false }),
    tile({ size: [6, 6], repeat: [1, 1] }),
  ];
  const x = tidy(() => ops.add(ops.randn([32, 8, 12, 12], new Generator(0)), 0.5)).keep();
  const meanX = tidy(() => ops.mean(x).item());
  const per = 8 * 144;
  for (const p of patterns) {
    for (const cache of [undefined, oneCanvas]) {
      const m = multipliers(p, shape, gen, { cache });
      for (let e = 0; e < shape.n; e++) near(m.subarray(e * per, (e + 1) * per).reduce((a, v) => a + v, 0) / per, 1, 1e-4, `${p.kind}: example ${e}`);
    }
    const d = patternDropout(p);
    let acc = 0;
    for (let k = 0; k < 40; k++) acc += tidy(() => ops.mean(d.apply(x, { generator: gen, progress: 1 }, conv)).item());
    near(acc / 40, meanX, 0.02, `${p.kind}: output mean`);
    d.dispose();
  }
  x.dispose();
});

test('the all-zero guard: an example whose mask drops everything passes unmasked', () => {
  const gen = new Generator(3);
  tidy(() => {
    const x = ops.randn([6, 3, 8, 8], gen);
    // A lattice with size >= stride drops everything: the layer is the identity.
    for (const shareC of [false, true]) {
      const all = patternDropout(tile({ size: [4, 4], stride: [3, 3], shareC })).apply(x, { generator: gen, progress: 1 }, conv);
      assert.deepEqual(all.toArray(), x.toArray());
    }
    // One channel and a block covering the map: dropped channels are all-zero examples.
    const one = ops.randn([50, 1, 5, 5], gen);
    const y = patternDropout({ kind: 'dropblock', blockSize: 6, keepProb: 0.5 }).apply(one, { generator: gen, progress: 1 }, conv);
    assert.deepEqual(y.toArray(), one.toArray());
    const s = patternDropout({ kind: 'spatial', rate: 0.5 }).apply(one, { generator: gen, progress: 1 }, conv);
    assert.deepEqual(s.toArray(), one.toArray());
    // A block as large as the map: only the window fully inside the block is all zeros.
    for (const [shareC, cache] of [
      [true, undefined],
      [false, undefined],
      [true, oneCanvas],
      [false, oneCanvas],
    ] as const) {
      const big = multipliers(tile({ size: [5, 5], repeat: [1, 1], shareC }), { n: 400, c: 1, h: 5, w: 5 }, gen, { cache });
      assert.ok(big.every((v) => Number.isFinite(v) && v >= 0));
      let guarded = 0;
      for (let e = 0; e < 400; e++) {
        const ex = big.subarray(e * 25, (e + 1) * 25);
        near(ex.reduce((a, v) => a + v, 0), 25, 1e-3, 'sum');
        guarded += ex.every((v) => v === 1) ? 1 : 0;
      }
      // 1 placement of 81 covers the whole map.
      near(guarded / 400, 1 / 81, 5 * Math.sqrt(1 / 81 / 400), 'guarded examples');
    }
  });
});

test('droppath drops whole examples and scales the others by 1/(1-rate)', () => {
  tidy(() => {
    const gen = new Generator(8);
    const x = ops.add(ops.rand([400, 2, 3, 3], gen), 1);
    const y = patternDropout({ kind: 'droppath', rate: 0.25 }).apply(x, { generator: gen, progress: 1 }, conv).toArray();
    const xs = x.toArray();
    let dropped = 0;
    for (let e = 0; e < 400; e++) {
      const ex = y.slice(e * 18, (e + 1) * 18);
      if (ex.every((v) => v === 0)) dropped++;
      else ex.forEach((v, i) => near(v, xs[e * 18 + i] / 0.75, 1e-5, 'scaled'));
    }
    near(dropped / 400, 0.25, 5 * Math.sqrt((0.25 * 0.75) / 400), 'dropped examples');
  });
});

test('sequence slots (N, T, C): span along T shared or per channel, variational constant along T', () => {
  const gen = new Generator(11);
  tidy(() => {
    const n = 64;
    const T = 24;
    const C = 6;
    const x = ops.ones([n, T, C]);
    assert.deepEqual(maskShapeOf(x), { n, c: C, h: T, w: 1 });
    for (const shareC of [true, false]) {
      const p = span({ size: 3, stride: 7, shareC });
      const y = patternDropout(p).apply(x, { generator: gen, progress: 1 }, seqSlot);
      assert.deepEqual(y.shape, [n, T, C]);
      const v = y.toArray();
      const cv = spanCanvas(p, T);
      const windows = new Set<string>();
      for (let o = 0; o < cv.height; o++) windows.add(canvasWindow(cv, o, 0, T, 1).join(''));
      let shared = 0;
      let zeros = 0;
      for (let e = 0; e < n; e++) {
        const cols = Array.from({ length: C }, (_, c) => Array.from({ length: T }, (_, t) => (v[(e * T + t) * C + c] === 0 ? 0 : 1)).join(''));
        for (const s of cols) assert.ok(windows.has(s), 'a channel along T is a span placement');
        if (cols.every((s) => s === cols[0])) shared++;
        zeros += cols.join('').split('').filter((ch) => ch === '0').length;
      }
      if (shareC) assert.equal(shared, n);
      else assert.ok(shared <= 2, `!shareC: ${shared} shared`);
      const { mean, sd } = windowStats(p, T, 1);
      near(zeros / (n * T * C), mean, 5 * (sd / Math.sqrt(shareC ? n : n * C)), 'span drop fraction');
    }
    const v = patternDropout({ kind: 'variational', rate: 0.5 }).apply(x, { generator: gen, progress: 1 }, seqSlot).toArray();
    for (let e = 0; e < n; e++) for (let c = 0; c < C; c++) for (let t = 1; t < T; t++) assert.equal(v[(e * T + t) * C + c], v[e * T * C + c], 'constant along T');
  });
});

test('gaussian span noise on the engine: 1 off the spans, N(1, sigma^2) clipped to [0, 2] on them, never rescaled', () => {
  const p = span({ size: 3, stride: 8, noise: 'gaussian', shareC: false });
  const shape = { n: 128, c: 16, h: 32, w: 1 };
  const m = multipliers(p, shape, new Generator(12));
  const sigma = gaussianSpanStd(canvasDropFraction(spanCanvas(p, 32)));
  const noisy = Array.from(m).filter((v) => v !== 1);
  near(noisy.length / m.length, 3 / 8, 0.01, 'noisy fraction');
  const { mean } = meanSd(noisy);
  const variance = noisy.reduce((a, v) => a + (v - mean) ** 2, 0) / (noisy.length - 1);
  const want = clippedNoiseVariance(sigma);
  near(mean, 1, 5 * sigma / Math.sqrt(noisy.length), 'mean');
  near(variance, want, 5 * want * Math.sqrt(2 / noisy.length), 'variance');
  assert.ok(Math.min(...noisy) === 0 && Math.max(...noisy) === 2, 'clipped at both ends, never negative');
});

test('same generator seed, same masks; successive steps differ; none and rate 0 are the identity', () => {
  const patterns: Pattern[] = [
    { kind: 'dropout', rate: 0.3 },
    { kind: 'spatial', rate: 0.3 },
    { kind: 'variational', rate: 0.3 },
    { kind: 'droppath', rate: 0.3 },
    { kind: 'dropblock', blockSize: 3, keepProb: 0.8 },
    tile({ rotate: 10, shareC: false }),
    span({ noise: 'gaussian' }),
  ];
  tidy(() => {
    const x = ops.randn([8, 4, 10, 10], new Generator(0));
    for (const p of patterns) {
      const d = patternDropout(p);
      const g1 = new Generator(5);
      const a = d.apply(x, { generator: g1, progress: 1 }, conv).toArray();
      const b = d.apply(x, { generator: new Generator(5), progress: 1 }, conv).toArray();
      assert.deepEqual(a, b, `${p.kind}: same seed`);
      assert.notDeepEqual(d.apply(x, { generator: g1, progress: 1 }, conv).toArray(), a, `${p.kind}: next step`);
    }
    for (const p of [{ kind: 'none' }, { kind: 'dropout', rate: 0 }, { kind: 'dropblock', blockSize: 3, keepProb: 1 }] as Pattern[]) {
      assert.equal(patternDropout(p).apply(x, { generator: new Generator(1), progress: 1 }, conv), x, `${p.kind} is the identity`);
    }
  });
});

test('schedules: a strength ramp scales the pattern, a probability ramp masks each example with that probability', () => {
  const rampS: Schedule = { kind: 'linear-ramp', until: 0.5 };
  const rampP: Schedule = { kind: 'linear-ramp', until: 0.5, applies: 'probability' };
  tidy(() => {
    const x = ops.ones([256, 4, 8, 8]);
    const frac = (t: Tensor): number => zerosOf(t.data() as Float32Array) / t.size;
    const d = patternDropout({ kind: 'dropout', rate: 0.4 }, rampS);
    assert.equal(d.apply(x, { generator: new Generator(1), progress: 0 }, conv), x, 'strength 0 at the start');
    const f = scheduleFactor(rampS, 0.25, 'dropout');
    near(f.strength, 0.5, 1e-12, 'half way up the ramp');
    near(frac(d.apply(x, { generator: new Generator(1), progress: 0.25 }, conv)), 0.2, 0.005, 'rate 0.4 at strength 0.5');
    near(frac(d.apply(x, { generator: new Generator(1), progress: 0.9 }, conv)), 0.4, 0.005, 'full rate after the ramp');
    // Tile has no rate: its ramp is a probability per example.
    const t = patternDropout(tile({ size: [3, 3], stride: [4, 4] }), rampS);
    assert.deepEqual(scheduleFactor(rampS, 0.25, 'tile'), { strength: 1, probability: 0.5 });
    const y = t.apply(x, { generator: new Generator(2), progress: 0.25 }, conv).toArray();
    let masked = 0;
    for (let e = 0; e < 256; e++) masked += y.slice(e * 256, (e + 1) * 256).some((v) => v === 0) ? 1 : 0;
    near(masked / 256, 0.5, 5 * Math.sqrt(0.25 / 256), 'examples masked');
    for (let e = 0; e < 256; e++) {
      const ex = y.slice(e * 256, (e + 1) * 256);
      if (!ex.some((v) => v === 0)) assert.ok(ex.every((v) => v === 1), 'unmasked examples are unchanged');
    }
    const q = patternDropout({ kind: 'dropout', rate: 0.4 }, rampP);
    const z = q.apply(x, { generator: new Generator(3), progress: 0.1 }, conv).toArray();
    let hit = 0;
    for (let e = 0; e < 256; e++) hit += z.slice(e * 256, (e + 1) * 256).some((v) => v === 0) ? 1 : 0;
    near(hit / 256, 0.2, 5 * Math.sqrt(0.16 / 256), 'probability ramp for dropout');
    t.dispose();
  });
});

test('the fused path (tile, zero spans on (N, C, H, W)) and the forced fallback give the reference multipliers from the same draws, with ReLU and residual add', () => {
  const ramp: Schedule = { kind: 'linear-ramp', until: 1 };
  const cases: { p: TilePattern | SpanPattern; schedule?: Schedule; progress: number; shape: MaskShape }[] = [
    { p: tile({ size: [2, 2], stride: [4, 4], rotate: 30, shearX: 0.2, shearY: -0.1, shareC: false }), progress: 1, shape: { n: 6, c: 3, h: 9, w: 7 } },
    { p: tile({ size: [3, 2], stride: [5, 4], rotate: 45, shareC: true }), progress: 1, shape: { n: 6, c: 3, h: 8, w: 8 } },
    // Windows that can be all zeros: the guard sends those examples to the ones window.
    { p: tile({ size: [5, 5], repeat: [1, 1], shareC: false }), progress: 1, shape: { n: 40, c: 1, h: 5, w: 5 } },
    { p: tile({ size: [5, 5], repeat: [1, 1], shareC: true }), progress: 1, shape: { n: 40, c: 2, h: 5, w: 5 } },
    // A probability ramp: examples that lose the coin are left unmasked.
    { p: tile({ size: [2, 3], stride: [4, 5], shareC: false }), schedule: ramp, progress: 0.5, shape: { n: 12, c: 2, h: 6, w: 10 } },
    { p: span({ size: 2, stride: 4, shareC: false }), progress: 1, shape: { n: 4, c: 3, h: 9, w: 4 } },
  ];
  for (const [k, { p, schedule, progress, shape }] of cases.entries()) {
    const { n, c, h, w } = shape;
    const d = patternDropout(p, schedule);
    const unfused = patternDropout(p, schedule, { fused: false });
    for (const mode of ['plain', 'relu', 'add'] as const) {
      tidy(() => {
        const x = requiresGrad(ops.randn([n, c, h, w], new Generator(100 + k)));
        const base = ops.randn([n, c, h, w], new Generator(200 + k));
        const { probability } = scheduleFactor(schedule, progress, p.kind);
        const m = multiplierTensor(p, shape, new Generator(k), { probability }) as Tensor;
        const masked = ops.mul(x, m);
        const expected = mode === 'relu' ? ops.relu(masked) : mode === 'add' ? ops.add(base, masked) : masked;
        const ctx = { generator: new Generator(k), progress };
        const actual = mode === 'relu' ? d.applyRelu(x, ctx, conv) : mode === 'add' ? d.applyAdd(x, base, ctx, conv) : d.apply(x, ctx, conv);
        // Within a float32 rounding: the kernel's x * window * factor and a
        // separate multiply by the multipliers may round differently.
        const same = (a: number[], b: number[], what: string): void => {
          assert.equal(a.length, b.length);
          for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-6 * (1 + Math.abs(b[i])), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
        };
        same(actual.toArray(), expected.toArray(), `case ${k} (${p.kind}, shareC ${String(p.shareC)}) ${mode}: values`);
        const upstream = ops.randn([n, c, h, w], new Generator(300 + k));
        const gradOf = (y: Tensor): number[] => {
          backward(y, upstream);
          const g = (grad(x) as Tensor).toArray();
          zeroGrad([x]);
          return g;
        };
        const expectedGrad = gradOf(expected);
        same(gradOf(actual), expectedGrad, `case ${k} ${mode}: gradients`);
        const ctx2 = { generator: new Generator(k), progress };
        const fallback = mode === 'relu' ? unfused.applyRelu(x, ctx2, conv) : mode === 'add' ? unfused.applyAdd(x, base, ctx2, conv) : unfused.apply(x, ctx2, conv);
        same(fallback.toArray(), expected.toArray(), `case ${k} ${mode}: fused: false, values`);
        same(gradOf(fallback), expectedGrad, `case ${k} ${mode}: fused: false, gradients`);
      });
    }
  }
});

test('a bfloat16 activation (autocast) gets the float32 multipliers: the float32 result on the widened activation (rounded once where the fused kernel runs)', () => {
  const patterns: Pattern[] = [
    { kind: 'dropout', rate: 0.3 },
    { kind: 'spatial', rate: 0.3 },
    { kind: 'dropblock', blockSize: 3, keepProb: 0.8 },
    tile({ rotate: 10, shareC: false }),
    tile({ shareC: true }),
    span({ noise: 'gaussian' }),
    span({}),
  ];
  tidy(() => {
    for (const [shape, slot] of [[[4, 3, 10, 10], conv], [[4, 12, 8], seqSlot]] as const) {
      const x = ops.to(ops.randn([...shape], new Generator(0)), 'bfloat16');
      const wide = ops.to(x, 'float32');
      for (const p of patterns) {
        const d = patternDropout(p);
        const half = d.apply(x, { generator: new Generator(5), progress: 1 }, slot);
        const full = d.apply(wide, { generator: new Generator(5), progress: 1 }, slot);
        // The fused kernel (tile and zero-noise spans on 4-D maps) keeps bfloat16; the other paths return the float32 product.
        const fused = shape.length === 4 && (p.kind === 'tile' || (p.kind === 'span' && p.noise !== 'gaussian'));
        assert.equal(half.dtype, fused ? 'bfloat16' : 'float32', `${p.kind} on ${slot.kind}: dtype`);
        assert.deepEqual(half.toArray(), (fused ? ops.to(full, 'bfloat16') : full).toArray(), `${p.kind} on ${slot.kind}`);
      }
    }
  });
});

test('identity at inference: the model never calls the pattern outside training', () => {
  const slots = new DropoutSlots([{ name: 'a', kind: 'conv', channels: 2 }]);
  slots.assign('a', patternDropout({ kind: 'dropout', rate: 0.5 }));
  slots.setContext({ generator: new Generator(0), progress: 1 });
  tidy(() => {
    const x = ops.ones([2, 2, 3, 3]);
    assert.equal(slots.apply('a', x, false), x);
    assert.notDeepEqual(slots.apply('a', x, true).toArray(), x.toArray());
  });
});

test('a tile pattern at every slot of wrn-10-1 (conv and skip) trains: finite loss and gradients', () => {
  const gen = new Generator(0);
  const model = createModel('wrn-10-1', { inChannels: 1, numClasses: 10 }, gen);
  const d = patternDropout(tile({ size: [2, 2], stride: [3, 3], rotate: 30, shearX: 0.2, shareC: false, residual: true }));
  model.slots.assignAll(() => d);
  model.slots.setContext({ generator: gen, progress: 0.5 });
  model.train();
  tidy(() => {
    const x = ops.randn([4, 1, 12, 12], gen);
    const loss = ops.crossEntropy(model.forward(x), tensor([0, 1, 2, 3], [4], 'int64'));
    assert.ok(Number.isFinite(loss.item()));
  });
  d.dispose();
  model.dispose();
});

test('memory is flat: only the output escapes; canvases are cached once and freed with their cache', () => {
  oneCanvas.clear();
  clearCanvasCache();
  const before = liveTensorCount();
  const gen = new Generator(2);
  const patterns: Pattern[] = [
    { kind: 'dropout', rate: 0.3 },
    { kind: 'spatial', rate: 0.3 },
    { kind: 'droppath', rate: 0.3 },
    { kind: 'dropblock', blockSize: 4, keepProb: 0.8 },
    tile({ size: [3, 3], stride: [5, 5], rotate: 30, shareC: false }),
    tile({ size: [8, 8], repeat: [1, 1] }), // guard path
    span({ noise: 'gaussian', shareC: false }),
  ];
  const own = new CanvasTensorCache();
  const ramp: Schedule = { kind: 'linear-ramp', until: 0.5, applies: 'probability' };
  // Half the layers on the shared cache, half on their own.
  const layers = patterns.map((p, i) => new PatternDropout(p, ramp, i % 2 ? { cache: own } : {}));
  const x = ops.randn([8, 4, 8, 8], gen).keep();
  const s = ops.randn([8, 16, 4], gen).keep();
  const step = (): void => {
    for (const l of layers) {
      const y = l.apply(l.pattern.kind === 'span' ? s : x, { generator: gen, progress: 0.3 }, l.pattern.kind === 'span' ? seqSlot : conv);
      y.dispose();
    }
  };
  step();
  const warm = liveTensorCount();
  for (let i = 0; i < 50; i++) step();
  assert.equal(liveTensorCount(), warm, 'no tensor left behind by 50 steps');
  for (const l of layers) l.dispose();
  x.dispose();
  s.dispose();
  assert.ok(own.size === 0 && liveTensorCount() > before, 'dispose() frees a private cache, not the shared one');
  clearCanvasCache();
  assert.equal(liveTensorCount(), before, 'clearCanvasCache() frees the rest');
  // A bounded cache frees what it evicts.
  const cache = new CanvasTensorCache(2);
  for (const size of [8, 9, 10, 11]) maskTensor(tile({}), { n: 1, c: 1, h: size, w: size }, gen, { cache }).dispose();
  assert.equal(cache.size, 2);
  cache.clear();
  assert.equal(liveTensorCount(), before);
  // The one table gives the reference's canvas windows for the same draws, and the fallback's multipliers are the fused path's, draw for draw.
  const small = new CanvasTensorCache(8);
  for (const p of [tile({ rotate: 20, shareC: false }), tile({ rotate: 20, shareC: false, size: [1, 1] })]) {
    const shape = { n: 4, c: 3, h: 8, w: 8 };
    assert.deepEqual(masks(p, shape, new Generator(1), small), referenceWindows(p, shape, new Generator(1)), 'the table: the canvas windows of the same draws');
    assert.deepEqual(multipliers(p, shape, new Generator(1), { cache: small }), fusedMultipliers(p, shape, new Generator(1), small));
  }
  small.clear();
  oneCanvas.clear();
  assert.equal(liveTensorCount(), before);
});

test('shapes: (N, C) activations are masked too; other ranks are rejected', () => {
  tidy(() => {
    const y = patternDropout({ kind: 'dropout', rate: 0.5 }).apply(ops.ones([4, 100]), { generator: new Generator(0), progress: 1 }, conv);
    assert.deepEqual(y.shape, [4, 100]);
    assert.throws(() => patternDropout({ kind: 'dropout', rate: 0.5 }).apply(ops.ones([2, 2, 2, 2, 2]), { generator: new Generator(0), progress: 1 }, conv), /expected an \(N, C, H, W\)/);
  });
});
