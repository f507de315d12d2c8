// The one table the mask engine (src/layers/patterns.ts) keeps per canvas and
// window size, built here in pure TypeScript from a canvas (canvas.ts); the
// engine only uploads it. A placement r = oy * width + ox is the (h, w)
// window of the canvas at offset (oy, ox), wrapping cyclically
// (canvasWindow()).
//
// The layout, window rows: every canvas row a window can show, column offset
// by column offset ([ox][y][x], y < height + h - 1), so the h rows of
// placement r are the contiguous table rows start[r] .. start[r] + h - 1,
// that is the h * w contiguous values from start[r] * w on; then h rows of
// ones, the window of an example left unmasked. About 2 h w^2 bytes, where a
// table of every placement's whole window would take positions x h * w.
// Every path of the engine reads windows from it with ops.mulTableWindows: the
// fused kernel multiplies the activation by them, the fallback a tensor of
// ones (docs/patterns.md, "The mask engine").
import { canvasDropFraction, windowSums, type Canvas } from './canvas.js';

/** What the engine uploads for one canvas and window size. */
export interface CanvasTables {
  /** The window-rows table: (onesStart + h) rows of w values, 0 or 1. */
  rows: Uint8Array;
  /** The first table row of each placement's window (positions = height * width). */
  start: BigInt64Array;
  /** The first row of the ones window (= width * (height + h - 1)). */
  onesStart: number;
  /** Ones in the window at each placement: the rescale factor without a reduction over the mask. */
  sums: Float32Array;
  /** h * w / sums[r] (1 for an all-zero window): the whole rescale factor of an example with one window (shareC). */
  scale: Float32Array;
  /** Whether some window is all zeros (only then does the all-zero guard matter). */
  canAllZero: boolean;
  /** Fraction of zeros in the canvas: the expected drop fraction (span noise). */
  dropFraction: number;
}

export function canvasTables(cv: Canvas, h: number, w: number): CanvasTables {
  const extH = cv.height + h - 1;
  const onesStart = cv.width * extH;
  const rows = new Uint8Array((onesStart + h) * w);
  for (let ox = 0; ox < cv.width; ox++) {
    for (let y = 0; y < extH; y++) {
      const src = (y % cv.height) * cv.width;
      const dst = (ox * extH + y) * w;
      for (let x = 0; x < w; x++) rows[dst + x] = cv.data[src + ((ox + x) % cv.width)];
    }
  }
  rows.fill(1, onesStart * w);
  const start = new BigInt64Array(cv.height * cv.width);
  for (let oy = 0; oy < cv.height; oy++) for (let ox = 0; ox < cv.width; ox++) start[oy * cv.width + ox] = BigInt(ox * extH + oy);
  const sums64 = windowSums(cv, h, w);
  let minSum = Infinity;
  for (const v of sums64) minSum = Math.min(minSum, v);
  const scale = Float32Array.from(sums64, (v) => (v > 0 ? (h * w) / v : 1));
  return { rows, start, onesStart, sums: Float32Array.from(sums64), scale, canAllZero: minSum === 0, dropFraction: canvasDropFraction(cv) };
}
