// The structure of `tile` and `span` patterns as precomputed binary canvases
// (docs/architecture.md §4, §11). Pure TypeScript, no engine.
//
// A canvas holds everything a pattern fixes (rectangle size, period, number of
// tiles, rotation, shear); what changes from step to step is only where it
// lands. Placement is always the same operation, a cyclic window:
//
//   mask[y][x] = canvas[(y + oy) mod height][(x + ox) mod width],
//   (oy, ox) uniform over [0, height) x [0, width)
//
// so the per-step work is one gather (src/layers/patterns.ts) and every
// position of the map has the same drop probability: the canvas's fraction of
// zeros, whatever the pattern.
//
// - repeat 'all' (`wrap: true`): the periodic pattern over a canvas of the map
//   size rounded up to a whole number of periods, so an axis-aligned lattice
//   tiles the torus without a seam; the window wraps around it.
// - finite repeats (`wrap: false`): the (transformed) block of tiles at the
//   origin of a canvas of (H + bh - 1) x (W + bw - 1), ones elsewhere (bh x bw =
//   the block's bounding box). The cyclic window then puts the block's top-left
//   corner at each of the H + bh - 1 rows -(bh-1)..H-1 (and likewise columns)
//   exactly once: every placement that leaves some of the block's box on the
//   map, clipped at the borders, none twice and none entirely off the map. The
//   window never splits the block across opposite borders (H + bh - 1 is the
//   shortest canvas for which that holds).
//
// Rotation and shear are inverse-mapped with nearest neighbour so the mask
// stays binary (docs/architecture.md §11): rotate by `rotate` degrees (counter-clockwise
// on screen, y pointing down) about the centre, then shear x (x += shearX * y),
// then shear y (y += shearY * x). A finite block is transformed about its own
// centre on a canvas large enough that nothing is cut, then cropped to the
// bounding box of its zeros; points that map from outside the block are kept
// (1). A periodic ('all') pattern has no outside: a point maps into the
// infinite lattice, so rotated grids cover the whole map. With rotation or
// shear the lattice is in general no longer periodic along the axes, so the
// wrapped canvas has one seam row/column where the lattice phase jumps; the
// drop probability is still the same at every position.
import type { SpanPattern, TilePattern } from './types.js';

/** A binary canvas, row-major, 1 = keep, 0 = drop. Shared by the cache: do not mutate. */
export interface Canvas {
  data: Uint8Array;
  height: number;
  width: number;
  /** True for a periodic ('all') pattern that wraps around; false for a clipped block on a padded canvas. */
  wrap: boolean;
}

// Ties in nearest-neighbour rounding (x.5) go up; the epsilon makes float
// noise (cos 90° = 6e-17) land on the same side as the exact value would.
const TIE_EPS = 1e-7;
const nearest = (v: number): number => Math.floor(v + 0.5 + TIE_EPS);
const mod = (a: number, n: number): number => ((a % n) + n) % n;

/** The inverse of (rotate, then shear x, then shear y) as a 2x2 matrix on (x, y), y down. */
function inverseTransform(rotate: number, shearX: number, shearY: number): [number, number, number, number] {
  const t = (rotate * Math.PI) / 180;
  // Exact values at multiples of 90° keep rotate=0/90/180/270 exact (Math.cos(Math.PI/2) is 6e-17).
  const q = rotate / 90;
  const c = Number.isInteger(q) ? [1, 0, -1, 0][mod(q, 4)] : Math.cos(t);
  const s = Number.isInteger(q) ? [0, 1, 0, -1][mod(q, 4)] : Math.sin(t);
  // Forward M = Sy · Sx · R with R = [[c, s], [-s, c]] (counter-clockwise on screen),
  // Sx = [[1, shX], [0, 1]], Sy = [[1, 0], [shY, 1]]; inverse = R^-1 · Sx^-1 · Sy^-1.
  // Sx^-1 · Sy^-1 = [[1, -shX], [0, 1]] · [[1, 0], [-shY, 1]] = [[1 + shX shY, -shX], [-shY, 1]]
  const a = 1 + shearX * shearY;
  const b = -shearX;
  const cc = -shearY;
  const d = 1;
  // R^-1 = [[c, -s], [s, c]]
  return [c * a - s * cc, c * b - s * d, s * a + c * cc, s * b + c * d];
}

/** The forward transform (for bounding boxes): the inverse of the inverse (both have determinant 1). */
function forwardTransform(rotate: number, shearX: number, shearY: number): [number, number, number, number] {
  const [a, b, c, d] = inverseTransform(rotate, shearX, shearY);
  return [d, -b, -c, a];
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
}

function checkTile(p: TilePattern, h: number, w: number): void {
  checkInt('tile canvas height', h, 1);
  checkInt('tile canvas width', w, 1);
  checkInt('tile size[0]', p.size[0], 0);
  checkInt('tile size[1]', p.size[1], 0);
  checkInt('tile stride[0]', p.stride[0], 1);
  checkInt('tile stride[1]', p.stride[1], 1);
  if (p.repeat !== 'all') {
    checkInt('tile repeat[0]', p.repeat[0], 0);
    checkInt('tile repeat[1]', p.repeat[1], 0);
  }
  for (const [k, v] of [['rotate', p.rotate], ['shearX', p.shearX], ['shearY', p.shearY]] as const) {
    if (!Number.isFinite(v)) throw new RangeError(`tile ${k} must be finite, got ${v}`);
  }
}

function ones(height: number, width: number, wrap: boolean): Canvas {
  return { data: new Uint8Array(height * width).fill(1), height, width, wrap };
}

/** Periodic lattice: zero where (y mod sy) < h and (x mod sx) < w, on a canvas of whole periods covering (H, W). */
function periodicTile(p: TilePattern, H: number, W: number): Canvas {
  const [h, w] = p.size;
  const [sy, sx] = p.stride;
  const height = Math.ceil(H / sy) * sy;
  const width = Math.ceil(W / sx) * sx;
  const out = new Uint8Array(height * width);
  const [ia, ib, ic, id] = inverseTransform(p.rotate, p.shearX, p.shearY);
  const cy = (height - 1) / 2;
  const cx = (width - 1) / 2;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const xs = nearest(ia * dx + ib * dy + cx);
      const ys = nearest(ic * dx + id * dy + cy);
      out[y * width + x] = mod(ys, sy) < h && mod(xs, sx) < w ? 0 : 1;
    }
  }
  return { data: out, height, width, wrap: true };
}

/** The untransformed block: ry x rx rectangles (h, w) at (i sy, j sx); 1 = keep. */
function blockOf(h: number, w: number, sy: number, sx: number, ry: number, rx: number): Canvas {
  const bh = (ry - 1) * sy + h;
  const bw = (rx - 1) * sx + w;
  const data = new Uint8Array(bh * bw).fill(1);
  for (let i = 0; i < ry; i++) {
    for (let j = 0; j < rx; j++) {
      for (let y = i * sy; y < i * sy + h; y++) data.fill(0, y * bw + j * sx, y * bw + j * sx + w);
    }
  }
  return { data, height: bh, width: bw, wrap: false };
}

/** Rotates/shears a block about its centre onto a canvas that holds all of it, then crops to its zeros. */
function transformBlock(src: Canvas, rotate: number, shearX: number, shearY: number): Canvas {
  if (rotate === 0 && shearX === 0 && shearY === 0) return src;
  const { height: bh, width: bw } = src;
  const [fa, fb, fc, fd] = forwardTransform(rotate, shearX, shearY);
  // Half-extents of the transformed block (pixel squares' corners, about the centre).
  let ex = 0;
  let ey = 0;
  for (const [x, y] of [[-bw / 2, -bh / 2], [bw / 2, -bh / 2], [-bw / 2, bh / 2], [bw / 2, bh / 2]]) {
    ex = Math.max(ex, Math.abs(fa * x + fb * y));
    ey = Math.max(ey, Math.abs(fc * x + fd * y));
  }
  // Same parity as the source, so centre offsets stay on the same (half-)integer grid.
  const H = bh + 2 * (Math.ceil(ey - bh / 2) + 1);
  const W = bw + 2 * (Math.ceil(ex - bw / 2) + 1);
  const [ia, ib, ic, id] = inverseTransform(rotate, shearX, shearY);
  const scy = (bh - 1) / 2;
  const scx = (bw - 1) / 2;
  const cy = (H - 1) / 2;
  const cx = (W - 1) / 2;
  const full = new Uint8Array(H * W);
  let top = H;
  let bottom = -1;
  let left = W;
  let right = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const xs = nearest(ia * dx + ib * dy + scx);
      const ys = nearest(ic * dx + id * dy + scy);
      const v = ys >= 0 && ys < bh && xs >= 0 && xs < bw ? src.data[ys * bw + xs] : 1;
      full[y * W + x] = v;
      if (v === 0) {
        top = Math.min(top, y);
        bottom = Math.max(bottom, y);
        left = Math.min(left, x);
        right = Math.max(right, x);
      }
    }
  }
  if (bottom < 0) return { data: new Uint8Array(0), height: 0, width: 0, wrap: false };
  const oh = bottom - top + 1;
  const ow = right - left + 1;
  const data = new Uint8Array(oh * ow);
  for (let y = 0; y < oh; y++) data.set(full.subarray((top + y) * W + left, (top + y) * W + left + ow), y * ow);
  return { data, height: oh, width: ow, wrap: false };
}

/** The block at the origin of an (H + bh - 1) x (W + bw - 1) canvas of ones. */
function padBlock(block: Canvas, H: number, W: number): Canvas {
  const height = H + block.height - 1;
  const width = W + block.width - 1;
  const c = ones(height, width, false);
  for (let y = 0; y < block.height; y++) c.data.set(block.data.subarray(y * block.width, (y + 1) * block.width), y * width);
  return c;
}

function buildTile(p: TilePattern, H: number, W: number): Canvas {
  checkTile(p, H, W);
  const [h, w] = p.size;
  // An empty rectangle (or no tiles) drops nothing.
  if (h === 0 || w === 0 || (p.repeat !== 'all' && (p.repeat[0] === 0 || p.repeat[1] === 0))) return ones(H, W, p.repeat === 'all');
  if (p.repeat === 'all') return periodicTile(p, H, W);
  const block = transformBlock(blockOf(h, w, p.stride[0], p.stride[1], p.repeat[0], p.repeat[1]), p.rotate, p.shearX, p.shearY);
  if (block.height === 0) return ones(H, W, false);
  return padBlock(block, H, W);
}

function buildSpan(p: SpanPattern, T: number): Canvas {
  checkInt('span canvas length', T, 1);
  checkInt('span size', p.size, 0);
  checkInt('span stride', p.stride, 1);
  if (p.repeat !== 'all') checkInt('span repeat', p.repeat, 0);
  const { size, stride } = p;
  if (size === 0 || p.repeat === 0) return ones(T, 1, p.repeat === 'all');
  if (p.repeat === 'all') {
    const L = Math.ceil(T / stride) * stride;
    const data = new Uint8Array(L);
    for (let t = 0; t < L; t++) data[t] = t % stride < size ? 0 : 1;
    return { data, height: L, width: 1, wrap: true };
  }
  const block = blockOf(size, 1, stride, 1, p.repeat, 1);
  return padBlock(block, T, 1);
}

// Canvases are small (a few thousand bytes) but building one walks every
// pixel, so they are cached; the bound keeps a strength ramp that visits many
// scaled patterns from growing the cache without limit.
const CACHE_LIMIT = 512;
const cache = new Map<string, Canvas>();

function cached(key: string, build: () => Canvas): Canvas {
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key); // move to the back: least recently used first out
    cache.set(key, hit);
    return hit;
  }
  const c = build();
  cache.set(key, c);
  if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  return c;
}

/** The canvas of a tile pattern for an (h, w) map (cached by the pattern's structure and the map size). */
export function tileCanvas(p: TilePattern, h: number, w: number): Canvas {
  const key = JSON.stringify(['tile', p.size, p.stride, p.repeat, p.rotate, p.shearX, p.shearY, h, w]);
  return cached(key, () => buildTile(p, h, w));
}

/** The canvas of a span pattern for a sequence of t tokens: height = canvas length, width 1. */
export function spanCanvas(p: SpanPattern, t: number): Canvas {
  const key = JSON.stringify(['span', p.size, p.stride, p.repeat, t]);
  return cached(key, () => buildSpan(p, t));
}

/** The (h, w) window of a canvas at offset (oy, ox), wrapping cyclically: one placement of the pattern. */
export function canvasWindow(c: Canvas, oy: number, ox: number, h: number, w: number, out = new Uint8Array(h * w)): Uint8Array {
  for (let y = 0; y < h; y++) {
    const row = ((y + oy) % c.height) * c.width;
    for (let x = 0; x < w; x++) out[y * w + x] = c.data[row + ((x + ox) % c.width)];
  }
  return out;
}

/** Fraction of zeros in a canvas: the expected drop fraction of every position under uniform placement. */
export function canvasDropFraction(c: Canvas): number {
  let zeros = 0;
  for (let i = 0; i < c.data.length; i++) zeros += 1 - c.data[i];
  return c.data.length ? zeros / c.data.length : 0;
}

/**
 * Number of ones in every (h, w) window: entry oy * width + ox holds the sum
 * of canvasWindow(c, oy, ox, h, w). Used for the rescale factor without a
 * reduction over the mask, and to know whether a window can be all zeros.
 */
export function windowSums(c: Canvas, h: number, w: number): Float64Array {
  const { height: H, width: W } = c;
  // Column sums of h cyclic rows for each start row, then w cyclic columns of those.
  const colSums = new Float64Array(H * W);
  for (let x = 0; x < W; x++) {
    let s = 0;
    for (let y = 0; y < h; y++) s += c.data[(y % H) * W + x];
    for (let oy = 0; oy < H; oy++) {
      colSums[oy * W + x] = s;
      s += c.data[((oy + h) % H) * W + x] - c.data[oy * W + x];
    }
  }
  const out = new Float64Array(H * W);
  for (let oy = 0; oy < H; oy++) {
    let s = 0;
    for (let x = 0; x < w; x++) s += colSums[oy * W + (x % W)];
    for (let ox = 0; ox < W; ox++) {
      out[oy * W + ox] = s;
      s += colSums[oy * W + ((ox + w) % W)] - colSums[oy * W + ox];
    }
  }
  return out;
}
