// The pure mask math: canvases (src/patterns/canvas.ts) and the reference
// sampler (src/patterns/masks.ts). Statistical checks use fixed seeds and
// bounds of a few standard deviations computed from the exact distribution
// where it is known (canvas windows, DropBlock coverage), so they are
// deterministic and fail on a wrong rate, not on noise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canvasDropFraction, canvasWindow, spanCanvas, tileCanvas, windowSums, type Canvas } from '../../src/patterns/canvas.js';
import {
  dropBlockParams,
  gaussianSpanMultiplier,
  gaussianSpanStd,
  maskMultipliers,
  rescaleFactors,
  sampleMasks,
  sampleMultipliers,
} from '../../src/patterns/masks.js';
import { scalePattern } from '../../src/patterns/schedule.js';
import type { DropBlockPattern, MaskShape, Pattern, TilePattern } from '../../src/patterns/types.js';
import { Rng } from '../../src/util/rng.js';
import { clippedNoiseVariance, span, tile } from './fixtures.js';


const at = (c: Canvas, y: number, x: number): number => c.data[y * c.width + x];
const dropped = (m: ArrayLike<number>): number => {
  let z = 0;
  for (let i = 0; i < m.length; i++) if (m[i] === 0) z++;
  return z;
};
/** Asserts |actual - expected| <= tol with a message that shows all three. */
function near(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Number.isFinite(actual), `${what}: ${actual} is not finite`);
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs expected ${expected} (tolerance ${tol})`);
}

// ------------------------------------------------------------------ canvases

test('rotate = shear = 0 gives exactly the axis-aligned lattice (repeat all), seamless over whole periods', () => {
  for (const [h, w, sy, sx, H, W] of [
    [2, 3, 4, 5, 16, 16],
    [1, 1, 3, 3, 10, 7],
    [3, 2, 3, 5, 8, 9], // h = sy: whole rows dropped
    [2, 2, 7, 7, 5, 5], // stride larger than the map
  ]) {
    const c = tileCanvas(tile({ size: [h, w], stride: [sy, sx] }), H, W);
    assert.equal(c.wrap, true);
    assert.equal(c.height, Math.ceil(H / sy) * sy, 'whole periods');
    assert.equal(c.width, Math.ceil(W / sx) * sx);
    for (let y = 0; y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        assert.equal(at(c, y, x), y % sy < h && x % sx < w ? 0 : 1, `(${y}, ${x}) of ${h}x${w}/${sy}x${sx}`);
      }
    }
    near(canvasDropFraction(c), (Math.min(h, sy) * Math.min(w, sx)) / (sy * sx), 1e-12, 'lattice drop fraction');
  }
});

test('rotate = shear = 0 with finite repeats: the tiled block at the origin of an (H + bh - 1) x (W + bw - 1) canvas of ones', () => {
  for (const [h, w, sy, sx, ry, rx, H, W] of [
    [2, 3, 4, 5, 2, 3, 16, 20],
    [3, 3, 2, 2, 2, 2, 9, 9], // stride < size: tiles merge
    [1, 2, 3, 3, 3, 1, 7, 11],
    [5, 4, 6, 6, 1, 1, 3, 3], // block larger than the map
  ]) {
    const c = tileCanvas(tile({ size: [h, w], stride: [sy, sx], repeat: [ry, rx] }), H, W);
    const bh = (ry - 1) * sy + h;
    const bw = (rx - 1) * sx + w;
    assert.equal(c.wrap, false);
    assert.deepEqual([c.height, c.width], [H + bh - 1, W + bw - 1]);
    for (let y = 0; y < c.height; y++) {
      for (let x = 0; x < c.width; x++) {
        let inTile = false;
        for (let i = 0; i < ry; i++) for (let j = 0; j < rx; j++) inTile ||= y >= i * sy && y < i * sy + h && x >= j * sx && x < j * sx + w;
        assert.equal(at(c, y, x), inTile ? 0 : 1, `(${y}, ${x})`);
      }
    }
  }
});

/** The map a block canvas places at (top, left), clipped: what a window must equal. */
function renderAt(block: { data: ArrayLike<number>; h: number; w: number }, top: number, left: number, H: number, W: number): Uint8Array {
  const out = new Uint8Array(H * W).fill(1);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const by = y - top;
      const bx = x - left;
      if (by >= 0 && by < block.h && bx >= 0 && bx < block.w) out[y * W + x] = block.data[by * block.w + bx];
    }
  }
  return out;
}
function blockOfCanvas(c: Canvas, H: number, W: number): { data: Uint8Array; h: number; w: number } {
  const h = c.height - H + 1;
  const w = c.width - W + 1;
  const data = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[y * w + x] = at(c, y, x);
  return { data, h, w };
}

test('uniform placement with clipping: the cyclic windows of a block canvas are each placement of the block exactly once', () => {
  // A solid block smaller than the map: a window determines the placement, so
  // count, for every window, the placements that render it.
  for (const [h, w, H, W] of [
    [3, 2, 7, 5],
    [2, 4, 6, 9],
    [1, 1, 4, 3],
  ]) {
    const c = tileCanvas(tile({ size: [h, w], repeat: [1, 1] }), H, W);
    const seen = new Map<string, number>();
    for (let top = -(h - 1); top < H; top++) for (let left = -(w - 1); left < W; left++) seen.set(`${top},${left}`, 0);
    const win = new Uint8Array(H * W);
    for (let oy = 0; oy < c.height; oy++) {
      for (let ox = 0; ox < c.width; ox++) {
        canvasWindow(c, oy, ox, H, W, win);
        assert.ok(dropped(win) > 0, `window (${oy}, ${ox}) shows none of the block`);
        const matches: string[] = [];
        for (let top = -h - 2; top < H + 2; top++) {
          for (let left = -w - 2; left < W + 2; left++) {
            if (renderAt({ data: new Uint8Array(h * w), h, w }, top, left, H, W).every((v, i) => v === win[i])) matches.push(`${top},${left}`);
          }
        }
        assert.equal(matches.length, 1, `window (${oy}, ${ox}) matches ${matches.length} placements`);
        assert.ok(seen.has(matches[0]), `placement ${matches[0]} is entirely off the map`);
        seen.set(matches[0], (seen.get(matches[0]) ?? 0) + 1);
      }
    }
    for (const [pos, k] of seen) assert.equal(k, 1, `placement ${pos} drawn ${k} times`);
  }
  // Any block (tiled, rotated, sheared): window (oy, ox) is the block placed at
  // top = oy < bh ? -oy : L - oy (likewise left), a bijection of the L offsets
  // onto the L = H + bh - 1 placements -(bh-1)..H-1.
  for (const p of [
    tile({ size: [2, 3], stride: [4, 4], repeat: [2, 2], rotate: 30, shearX: 0.2 }),
    tile({ size: [1, 5], stride: [3, 2], repeat: [3, 1], rotate: 75, shearY: -0.4 }),
    tile({ size: [4, 4], stride: [2, 2], repeat: [2, 3] }),
  ]) {
    const H = 9;
    const W = 6;
    const c = tileCanvas(p, H, W);
    const b = blockOfCanvas(c, H, W);
    const tops = new Set<number>();
    for (let oy = 0; oy < c.height; oy++) {
      const top = oy < b.h ? -oy : c.height - oy;
      tops.add(top);
      for (let ox = 0; ox < c.width; ox++) {
        const left = ox < b.w ? -ox : c.width - ox;
        assert.deepEqual(canvasWindow(c, oy, ox, H, W), renderAt(b, top, left, H, W), `offset (${oy}, ${ox})`);
      }
    }
    assert.equal(tops.size, H + b.h - 1);
    assert.equal(Math.min(...tops), -(b.h - 1));
    assert.equal(Math.max(...tops), H - 1);
  }
});

test('rotation and shear of a finite block: nearest neighbour, about its centre, nothing cut, cropped to its zeros', () => {
  const H = 10;
  const W = 10;
  // 90° turns a 1x4 bar into a 4x1 bar. A block of tiles is symmetric under
  // both axis mirrors, so quarter turns transpose it and half turns keep it.
  const bar = blockOfCanvas(tileCanvas(tile({ size: [1, 4], repeat: [1, 1], rotate: 90 }), H, W), H, W);
  assert.deepEqual([bar.h, bar.w], [4, 1]);
  assert.equal(dropped(bar.data), 4);
  const p = tile({ size: [1, 2], stride: [2, 4], repeat: [2, 2] });
  const b0 = blockOfCanvas(tileCanvas(p, H, W), H, W);
  assert.deepEqual([b0.h, b0.w], [3, 6]);
  const transposed = new Uint8Array(18);
  for (let y = 0; y < 3; y++) for (let x = 0; x < 6; x++) transposed[x * 3 + y] = b0.data[y * 6 + x];
  for (const deg of [90, -90, 270, 180, -180, 360]) {
    const b = blockOfCanvas(tileCanvas({ ...p, rotate: deg }, H, W), H, W);
    const quarter = Math.abs(deg) % 180 === 90;
    assert.deepEqual([b.h, b.w], quarter ? [6, 3] : [3, 6], `rotate ${deg}: box`);
    assert.deepEqual(b.data, quarter ? transposed : b0.data, `rotate ${deg}`);
  }
  // shearX = 1 on a 3x1 bar: x' = x + y, a diagonal of 3 pixels (3 rows, 3 columns).
  const diag = blockOfCanvas(tileCanvas(tile({ size: [3, 1], repeat: [1, 1], shearX: 1 }), H, W), H, W);
  assert.deepEqual([diag.h, diag.w], [3, 3]);
  assert.deepEqual(Array.from(diag.data), [0, 1, 1, 1, 0, 1, 1, 1, 0]);
  // shearY = 1 on a 1x3 bar: y' = y + x, the same diagonal.
  const diagY = blockOfCanvas(tileCanvas(tile({ size: [1, 3], repeat: [1, 1], shearY: 1 }), H, W), H, W);
  assert.deepEqual(Array.from(diagY.data), [0, 1, 1, 1, 0, 1, 1, 1, 0]);
  // A 45° square keeps about its area (nearest neighbour), stays one connected block, and nothing is cut.
  const sq = blockOfCanvas(tileCanvas(tile({ size: [6, 6], repeat: [1, 1], rotate: 45 }), 20, 20), 20, 20);
  near(dropped(sq.data), 36, 6, '45° square area');
  assert.ok(sq.h >= 8 && sq.h <= 10 && sq.w >= 8 && sq.w <= 10, `45° square bounding box ${sq.h}x${sq.w}`);
  // The result is binary.
  for (const v of tileCanvas(tile({ size: [3, 2], repeat: [2, 2], rotate: 33, shearX: 0.3, shearY: -0.2 }), 12, 12).data) assert.ok(v === 0 || v === 1);
});

test('a rotated periodic (repeat all) pattern covers the whole map, corners included', () => {
  const c = tileCanvas(tile({ size: [2, 2], stride: [5, 5], rotate: 30, shearX: 0.2 }), 30, 30);
  assert.equal(c.wrap, true);
  for (const [y0, x0] of [
    [0, 0],
    [0, 20],
    [20, 0],
    [20, 20],
    [10, 10],
  ]) {
    let z = 0;
    for (let y = y0; y < y0 + 10; y++) for (let x = x0; x < x0 + 10; x++) z += 1 - at(c, y, x);
    near(z / 100, 4 / 25, 0.08, `drop fraction of the 10x10 region at (${y0}, ${x0})`);
  }
});

test('span canvases: periodic and finite, exact', () => {
  const a = spanCanvas(span({ size: 2, stride: 5 }), 12);
  assert.deepEqual([a.height, a.width, a.wrap], [15, 1, true]);
  assert.deepEqual(Array.from(a.data), [0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1]);
  const f = spanCanvas(span({ size: 2, stride: 3, repeat: 3 }), 6);
  // block of 8: 0 0 1 0 0 1 0 0, then 5 ones: length 6 + 8 - 1.
  assert.deepEqual([f.height, f.wrap], [13, false]);
  assert.deepEqual(Array.from(f.data), [0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 1, 1]);
  assert.deepEqual(Array.from(spanCanvas(span({ size: 0 }), 4).data), [1, 1, 1, 1], 'size 0 drops nothing');
  assert.deepEqual(Array.from(spanCanvas(span({ size: 3, repeat: 0 }), 4).data), [1, 1, 1, 1], 'repeat 0 drops nothing');
});

test('canvases are cached by structure and map size; bad structures are rejected', () => {
  const p = tile({ size: [2, 3], rotate: 15 });
  assert.equal(tileCanvas(p, 8, 9), tileCanvas({ ...p, shareC: false, residual: true }, 8, 9), 'shareC/residual do not change the canvas');
  assert.notEqual(tileCanvas(p, 8, 9), tileCanvas(p, 9, 8));
  assert.equal(spanCanvas(span({}), 7), spanCanvas(span({ shareC: false, noise: 'gaussian' }), 7));
  assert.throws(() => tileCanvas(tile({ stride: [0, 2] }), 4, 4), /stride\[0\] must be an integer >= 1/);
  assert.throws(() => tileCanvas(tile({ size: [1.5, 2] }), 4, 4), /size\[0\]/);
  assert.throws(() => tileCanvas(tile({ rotate: NaN }), 4, 4), /rotate must be finite/);
  assert.throws(() => tileCanvas(tile({}), 0, 4), /height/);
  assert.throws(() => spanCanvas(span({ stride: 0 }), 4), /span stride/);
});

test('windowSums counts the ones of every cyclic window', () => {
  for (const [p, H, W] of [
    [tile({ size: [2, 3], stride: [3, 4], rotate: 20 }), 7, 9],
    [tile({ size: [2, 2], repeat: [2, 1], stride: [3, 3] }), 5, 6],
  ] as const) {
    const c = tileCanvas(p, H, W);
    const s = windowSums(c, H, W);
    for (let oy = 0; oy < c.height; oy++) {
      for (let ox = 0; ox < c.width; ox++) assert.equal(s[oy * c.width + ox], H * W - dropped(canvasWindow(c, oy, ox, H, W)), `(${oy}, ${ox})`);
    }
  }
});

// ------------------------------------------------------------------ sampleMasks

/** Mean and standard deviation of a window's drop fraction over all placements (the exact distribution). */
function windowFractionStats(c: Canvas, H: number, W: number): { mean: number; sd: number } {
  const s = windowSums(c, H, W);
  let m = 0;
  let m2 = 0;
  for (const v of s) {
    const f = 1 - v / (H * W);
    m += f;
    m2 += f * f;
  }
  m /= s.length;
  return { mean: m, sd: Math.sqrt(Math.max(0, m2 / s.length - m * m)) };
}

test('none is all ones; the shape is checked', () => {
  const m = sampleMasks({ kind: 'none' }, { n: 2, c: 3, h: 4, w: 5 }, new Rng(1));
  assert.equal(m.length, 120);
  assert.ok(m.every((v) => v === 1));
  assert.throws(() => sampleMasks({ kind: 'none' }, { n: 0, c: 1, h: 1, w: 1 }, new Rng(1)), /shape n/);
  assert.throws(() => sampleMasks({ kind: 'dropout', rate: 1 }, { n: 1, c: 1, h: 1, w: 1 }, new Rng(1)), /rate must be in \[0, 1\)/);
});

test('dropout drops each element with probability rate', () => {
  const shape = { n: 50, c: 8, h: 10, w: 10 };
  const m = sampleMasks({ kind: 'dropout', rate: 0.3 }, shape, new Rng(2));
  const sd = Math.sqrt((0.3 * 0.7) / m.length);
  near(dropped(m) / m.length, 0.3, 5 * sd, 'dropout fraction');
  assert.ok(m.every((v) => v === 0 || v === 1));
});

test('spatial, variational and droppath share one draw over the map, the sequence, the example', () => {
  const shape = { n: 200, c: 10, h: 3, w: 4 };
  for (const kind of ['spatial', 'variational'] as const) {
    const m = sampleMasks({ kind, rate: 0.25 }, shape, new Rng(3));
    for (let k = 0; k < shape.n * shape.c; k++) {
      const ch = m.subarray(k * 12, (k + 1) * 12);
      assert.ok(ch.every((v) => v === ch[0]), `${kind}: channel ${k} not constant`);
    }
    near(dropped(m) / m.length, 0.25, 5 * Math.sqrt((0.25 * 0.75) / 2000), `${kind} fraction`);
  }
  // Variational on a sequence (N, T, C) -> (n, C, T, 1): constant along T.
  const seq = { n: 4, c: 6, h: 20, w: 1 };
  const v = sampleMasks({ kind: 'variational', rate: 0.5 }, seq, new Rng(4));
  for (let k = 0; k < 24; k++) assert.ok(v.subarray(k * 20, (k + 1) * 20).every((x) => x === v[k * 20]));
  const d = sampleMasks({ kind: 'droppath', rate: 0.4 }, shape, new Rng(5));
  for (let e = 0; e < shape.n; e++) {
    const ex = d.subarray(e * 120, (e + 1) * 120);
    assert.ok(ex.every((x) => x === ex[0]), `droppath: example ${e} not constant`);
  }
  near(dropped(d) / d.length, 0.4, 5 * Math.sqrt((0.4 * 0.6) / 200), 'droppath fraction');
});

/** The exact expected drop fraction of DropBlock: 1 - (1 - gamma)^(number of valid seeds covering the pixel). */
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

test('dropblock: the paper gamma with H != W, odd and even blocks, and the exact expected drop fraction', () => {
  // gamma = (1 - keep) / b^2 * HW / ((H - b + 1)(W - b + 1))
  near(dropBlockParams({ kind: 'dropblock', blockSize: 3, keepProb: 0.9 }, 12, 7).gamma, (0.1 / 9) * (84 / (10 * 5)), 1e-15, 'gamma 12x7 b3');
  for (const [b, H, W, keep] of [
    [3, 12, 7, 0.9],
    [4, 12, 7, 0.8], // even
    [2, 9, 9, 0.85],
    [1, 6, 5, 0.7], // = dropout(0.3)
    [5, 16, 11, 0.9],
  ]) {
    const p: DropBlockPattern = { kind: 'dropblock', blockSize: b, keepProb: keep };
    const shape = { n: 100, c: 12, h: H, w: W };
    const m = sampleMasks(p, shape, new Rng(10 + b));
    const per = H * W;
    const fr: number[] = [];
    for (let k = 0; k < shape.n * shape.c; k++) fr.push(dropped(m.subarray(k * per, (k + 1) * per)) / per);
    const mean = fr.reduce((a, v) => a + v, 0) / fr.length;
    const sd = Math.sqrt(fr.reduce((a, v) => a + (v - mean) ** 2, 0) / (fr.length - 1));
    near(mean, dropBlockExpected(p, H, W), 5 * (sd / Math.sqrt(fr.length)) + 1e-9, `dropblock b=${b} ${H}x${W}`);
    if (b === 1) near(dropBlockExpected(p, H, W), 1 - keep, 1e-12, 'block 1 is dropout');
  }
});

test('dropblock: every dropped region is a union of whole blocks inside the map (odd and even sizes)', () => {
  for (const b of [2, 3, 4]) {
    const H = 9;
    const W = 8;
    // A low rate gives mostly single blocks: those must be exactly b x b, fully inside.
    const m = sampleMasks({ kind: 'dropblock', blockSize: b, keepProb: 0.98 }, { n: 200, c: 4, h: H, w: W }, new Rng(20 + b));
    let singles = 0;
    for (let k = 0; k < 800; k++) {
      const ch = m.subarray(k * H * W, (k + 1) * H * W);
      if (dropped(ch) !== b * b) continue;
      let top = H;
      let left = W;
      for (let i = 0; i < ch.length; i++) {
        if (ch[i] === 0) {
          top = Math.min(top, Math.floor(i / W));
          left = Math.min(left, i % W);
        }
      }
      for (let y = top; y < top + b; y++) for (let x = left; x < left + b; x++) assert.equal(ch[y * W + x], 0, `block ${b} at (${top}, ${left})`);
      assert.ok(top + b <= H && left + b <= W);
      singles++;
    }
    assert.ok(singles > 20, `only ${singles} single blocks for b=${b}`);
  }
});

test('dropblock with a block as large as the map or larger is SpatialDropout(1 - keepProb): no NaN, no partial channel', () => {
  for (const [b, H, W] of [
    [7, 7, 7],
    [9, 5, 7],
    [6, 6, 3], // larger than one side only: a 6x3 block, one column of seeds
  ]) {
    const p: DropBlockPattern = { kind: 'dropblock', blockSize: b, keepProb: 0.7 };
    const { bh, bw, gamma } = dropBlockParams(p, H, W);
    assert.deepEqual([bh, bw], [Math.min(b, H), Math.min(b, W)]);
    assert.ok(Number.isFinite(gamma) && gamma >= 0 && gamma <= 0.3 + 1e-12, `gamma ${gamma}`);
    const shape = { n: 300, c: 5, h: H, w: W };
    const m = sampleMasks(p, shape, new Rng(b));
    assert.ok(m.every((v) => v === 0 || v === 1));
    if (bh === H && bw === W) {
      near(gamma, 0.3, 1e-12, 'gamma is the drop rate');
      for (let k = 0; k < 1500; k++) {
        const ch = m.subarray(k * H * W, (k + 1) * H * W);
        assert.ok(ch.every((v) => v === ch[0]), 'whole channel');
      }
      near(dropped(m) / m.length, 0.3, 5 * Math.sqrt((0.3 * 0.7) / 1500), 'channel drop rate');
    }
    const mult = maskMultipliers(p, m, shape);
    assert.ok(mult.every((v) => Number.isFinite(v)));
  }
});

test('tile: drop fraction equals the canvas zero fraction at every position; shareC shares, !shareC does not', () => {
  const cases: [TilePattern, number, number][] = [
    [tile({ size: [2, 3], stride: [4, 5] }), 12, 10],
    [tile({ size: [2, 2], stride: [5, 5], rotate: 30, shearX: 0.2, shearY: -0.1 }), 14, 9],
    [tile({ size: [3, 2], stride: [4, 4], repeat: [2, 2], rotate: 45 }), 11, 13],
    [tile({ size: [4, 4], repeat: [1, 1] }), 8, 8], // clipped single block (Cutout-like)
    [tile({ size: [1, 2], stride: [2, 3], repeat: [3, 2], shearY: 0.5 }), 7, 16],
  ];
  for (const [p, H, W] of cases) {
    for (const shareC of [true, false]) {
      const shape = { n: 300, c: 4, h: H, w: W };
      const m = sampleMasks({ ...p, shareC }, shape, new Rng(H * 31 + W));
      const c = tileCanvas(p, H, W);
      const { mean, sd } = windowFractionStats(c, H, W);
      near(mean, canvasDropFraction(c), 1e-12, 'window mean = canvas fraction');
      const draws = shareC ? shape.n : shape.n * shape.c;
      near(dropped(m) / m.length, mean, 5 * (sd / Math.sqrt(draws)) + 1e-12, `tile ${JSON.stringify(p.size)} rot ${p.rotate} shareC ${shareC}`);
      // Per position: each pixel's drop rate is the canvas fraction (uniform placement).
      const per = H * W;
      const corner = [0, W - 1, (H - 1) * W, per - 1].map((i) => {
        let z = 0;
        for (let k = 0; k < shape.n * shape.c; k++) z += m[k * per + i] === 0 ? 1 : 0;
        return z / (shape.n * shape.c);
      });
      for (const f of corner) near(f, mean, 5 * Math.sqrt((mean * (1 - mean)) / (shareC ? shape.n : shape.n * shape.c)), 'corner drop rate');
      // Sharing.
      let identical = 0;
      for (let e = 0; e < shape.n; e++) {
        const a = m.subarray(e * 4 * per, e * 4 * per + per);
        let same = true;
        for (let ch = 1; ch < 4; ch++) same &&= m.subarray((e * 4 + ch) * per, (e * 4 + ch + 1) * per).every((v, i) => v === a[i]);
        identical += same ? 1 : 0;
      }
      if (shareC) assert.equal(identical, shape.n, 'shareC: every channel identical');
      else assert.ok(identical < shape.n * 0.2, `!shareC: ${identical} of ${shape.n} examples have identical channels`);
      // Every channel is one placement of the canvas.
      const windows = new Set<string>();
      for (let oy = 0; oy < c.height; oy++) for (let ox = 0; ox < c.width; ox++) windows.add(canvasWindow(c, oy, ox, H, W).join(''));
      for (let k = 0; k < 40; k++) assert.ok(windows.has(Array.from(m.subarray(k * per, (k + 1) * per)).join('')), `channel ${k} is not a canvas window`);
    }
  }
});

test('span: drop fraction from the canvas, shared or per channel along C, on (n, C, T, 1)', () => {
  for (const p of [span({ size: 2, stride: 5 }), span({ size: 3, stride: 4, repeat: 2 }), span({ size: 1, stride: 1, repeat: 4 })]) {
    for (const shareC of [true, false]) {
      const T = 17;
      const shape = { n: 400, c: 3, h: T, w: 1 };
      const m = sampleMasks({ ...p, shareC }, shape, new Rng(7));
      const c = spanCanvas(p, T);
      const { mean, sd } = windowFractionStats(c, T, 1);
      near(dropped(m) / m.length, mean, 5 * (sd / Math.sqrt(shareC ? 400 : 1200)) + 1e-12, `span ${p.size}/${p.stride}/${p.repeat} shareC ${shareC}`);
      let identical = 0;
      for (let e = 0; e < 400; e++) {
        const a = m.subarray(e * 3 * T, e * 3 * T + T).join('');
        identical += m.subarray((e * 3 + 1) * T, (e * 3 + 2) * T).join('') === a && m.subarray((e * 3 + 2) * T, (e * 3 + 3) * T).join('') === a ? 1 : 0;
      }
      if (shareC) assert.equal(identical, 400);
      else assert.ok(identical < 200, `!shareC: ${identical} identical`);
    }
  }
});

test('gaussian span noise: N(1, f/(1-f)) on the spans clipped to [0, 2], 1 elsewhere, mean 1, never negative', () => {
  const p = span({ size: 3, stride: 8, noise: 'gaussian', shareC: false });
  const T = 32;
  const shape = { n: 200, c: 16, h: T, w: 1 };
  const m = sampleMasks(p, shape, new Rng(8));
  const f = canvasDropFraction(spanCanvas(p, T));
  near(f, 3 / 8, 1e-12, 'f');
  const sigma = gaussianSpanStd(f);
  // Gaussian dropout at rate f (Srivastava et al. 2014): variance f/(1-f).
  near(sigma * sigma, f / (1 - f), 1e-12, 'sigma');
  assert.equal(gaussianSpanStd(1), 0, 'f = 1: no finite match, all ones');
  assert.equal(gaussianSpanMultiplier(0.5, -3), 0);
  assert.equal(gaussianSpanMultiplier(0.5, 3), 2);
  assert.equal(gaussianSpanMultiplier(0.5, 1), 1.5);
  // Where the mask is not exactly 1 is one placement of the canvas (a noise value of exactly 1 has probability 0).
  const canvas = spanCanvas(p, T);
  const windows = new Set<string>();
  for (let o = 0; o < canvas.height; o++) windows.add(canvasWindow(canvas, o, 0, T, 1).join(''));
  const noisy: number[] = [];
  for (let k = 0; k < shape.n * shape.c; k++) {
    const ch = m.subarray(k * T, (k + 1) * T);
    assert.ok(windows.has(Array.from(ch, (v) => (v === 1 ? 1 : 0)).join('')), `channel ${k}: spans are not a placement`);
    for (const v of ch) if (v !== 1) noisy.push(v);
  }
  const mean = noisy.reduce((a, v) => a + v, 0) / noisy.length;
  const variance = noisy.reduce((a, v) => a + (v - mean) ** 2, 0) / (noisy.length - 1);
  const want = clippedNoiseVariance(sigma);
  assert.ok(want < sigma * sigma && want > 0.5 * sigma * sigma, `clipping trims the variance: ${want} vs ${sigma * sigma}`);
  near(noisy.length / m.length, f, 0.02, 'noisy fraction');
  near(mean, 1, 5 * (sigma / Math.sqrt(noisy.length)), 'noise mean (the clip is symmetric about 1)');
  near(variance, want, 5 * want * Math.sqrt(2 / noisy.length), 'noise variance');
  assert.ok(Math.min(...noisy) === 0 && Math.max(...noisy) === 2, 'clipped at both ends, never negative');
  // Not rescaled.
  assert.deepEqual(maskMultipliers(p, m, shape), m);
});

test('same seed, same masks; the stream advances between calls', () => {
  const shape = { n: 4, c: 3, h: 9, w: 9 };
  const patterns: Pattern[] = [
    { kind: 'dropout', rate: 0.3 },
    { kind: 'spatial', rate: 0.3 },
    { kind: 'dropblock', blockSize: 3, keepProb: 0.8 },
    tile({ rotate: 15, shareC: false }),
    span({ noise: 'gaussian' }),
  ];
  for (const p of patterns) {
    const r1 = new Rng(99);
    const r2 = new Rng(99);
    const a = sampleMasks(p, shape, r1);
    assert.deepEqual(a, sampleMasks(p, shape, r2), `${p.kind}: same seed`);
    assert.notDeepEqual(sampleMasks(p, shape, r1), a, `${p.kind}: next step differs`);
  }
});

test('strength scales the pattern with scalePattern first', () => {
  const shape = { n: 6, c: 2, h: 8, w: 8 };
  for (const p of [{ kind: 'dropout', rate: 0.4 }, { kind: 'dropblock', blockSize: 3, keepProb: 0.7 }, tile({ size: [3, 3] })] as Pattern[]) {
    for (const s of [0, 0.3, 1]) {
      assert.deepEqual(sampleMasks(p, shape, new Rng(1), { strength: s }), sampleMasks(scalePattern(p, s), shape, new Rng(1)), `${p.kind} at ${s}`);
    }
  }
  assert.throws(() => sampleMasks({ kind: 'none' }, shape, new Rng(1), { strength: 1.5 }), /strength/);
});

// ------------------------------------------------------------------ rescaling

test('rescaleFactors: numel/sum per example; an all-zero example gets 1 and passes unmasked', () => {
  const shape: MaskShape = { n: 3, c: 1, h: 2, w: 2 };
  const masks = Float32Array.from([1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0]);
  assert.deepEqual(Array.from(rescaleFactors(masks, shape)), [4 / 3, 1, 4].map(Math.fround));
  const mult = maskMultipliers({ kind: 'dropout', rate: 0.5 }, masks, shape);
  assert.deepEqual(Array.from(mult), [4 / 3, 0, 4 / 3, 4 / 3, 1, 1, 1, 1, 0, 4, 0, 0].map(Math.fround));
  assert.deepEqual(Array.from(masks.subarray(4, 8)), [0, 0, 0, 0], 'the input is not modified');
  // droppath: 1/(1 - rate), the dropped example stays dropped.
  const dp = maskMultipliers({ kind: 'droppath', rate: 0.2 }, Float32Array.from([1, 1, 0, 0]), { n: 2, c: 1, h: 2, w: 1 });
  assert.deepEqual(Array.from(dp), [1.25, 1.25, 0, 0]);
  assert.throws(() => rescaleFactors(new Float32Array(3), shape), /masks hold 3 values/);
});

test('the all-zero guard: a pattern that drops everything leaves the input unmasked, without NaN', () => {
  const shape = { n: 5, c: 2, h: 6, w: 6 };
  for (const p of [tile({ size: [3, 3], stride: [2, 2] }), tile({ size: [6, 6], repeat: [1, 1], stride: [1, 1] }), span({ size: 5, stride: 5 })] as Pattern[]) {
    const s = p.kind === 'span' ? { n: 5, c: 2, h: 10, w: 1 } : shape;
    const m = sampleMasks(p, s, new Rng(3));
    if (p.kind === 'tile' && p.repeat === 'all') assert.ok(m.every((v) => v === 0), 'everything dropped');
    const mult = maskMultipliers(p, m, s);
    for (let e = 0; e < s.n; e++) {
      const per = s.c * s.h * s.w;
      const ex = m.subarray(e * per, (e + 1) * per);
      const mx = mult.subarray(e * per, (e + 1) * per);
      if (ex.every((v) => v === 0)) assert.ok(mx.every((v) => v === 1), 'guarded example is all ones');
      else near(mx.reduce((a, v) => a + v, 0) / per, 1, 1e-5, 'rescaled mean');
    }
  }
  // Gaussian spans covering everything: all ones too.
  const g = sampleMultipliers(span({ size: 5, stride: 5, noise: 'gaussian' }), { n: 2, c: 2, h: 10, w: 1 }, new Rng(1));
  assert.ok(g.every((v) => v === 1));
});

test('rescaled output mean = input mean: exactly per example for binary kinds, in expectation for droppath and gaussian spans', () => {
  const rng = new Rng(77);
  const shape = { n: 40, c: 6, h: 8, w: 8 };
  const per = 6 * 64;
  const x = Float32Array.from({ length: shape.n * per }, () => rng.normal(0.5, 1));
  const meanX = x.reduce((a, v) => a + v, 0) / x.length;
  const patterns: Pattern[] = [
    { kind: 'dropout', rate: 0.3 },
    { kind: 'spatial', rate: 0.5 },
    { kind: 'variational', rate: 0.2 },
    { kind: 'dropblock', blockSize: 3, keepProb: 0.8 },
    { kind: 'dropblock', blockSize: 8, keepProb: 0.5 },
    tile({ size: [3, 3], stride: [5, 5], rotate: 20, shareC: false }),
    tile({ size: [4, 2], repeat: [2, 2], stride: [5, 4], shearX: 0.3 }),
  ];
  for (const p of patterns) {
    // Per example with a constant input the multipliers average to exactly 1.
    const m = sampleMultipliers(p, shape, rng);
    for (let e = 0; e < shape.n; e++) near(m.subarray(e * per, (e + 1) * per).reduce((a, v) => a + v, 0) / per, 1, 1e-4, `${p.kind}: per-example mean multiplier`);
    // With a varying input the mean is kept in expectation.
    let acc = 0;
    const draws = 60;
    for (let d = 0; d < draws; d++) {
      const mm = sampleMultipliers(p, shape, rng);
      let s = 0;
      for (let i = 0; i < x.length; i++) s += x[i] * mm[i];
      acc += s / x.length;
    }
    near(acc / draws, meanX, 0.03, `${p.kind}: E[mean(x * m)]`);
  }
  for (const p of [{ kind: 'droppath', rate: 0.3 }, span({ size: 2, stride: 4, noise: 'gaussian', shareC: false })] as Pattern[]) {
    const s = p.kind === 'span' ? { n: 400, c: 8, h: 16, w: 1 } : { n: 4000, c: 2, h: 2, w: 2 };
    const m = sampleMultipliers(p, s, rng);
    const mean = m.reduce((a, v) => a + v, 0) / m.length;
    near(mean, 1, p.kind === 'droppath' ? 5 * Math.sqrt(0.3 / 0.7 / 4000) : 0.02, `${p.kind}: mean multiplier`);
  }
});
