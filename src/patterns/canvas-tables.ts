// The tables the mask engine (src/layers/patterns.ts) keeps per canvas and
// window size, built here in pure TypeScript from a canvas (canvas.ts); the
// engine only uploads them. A placement r = oy * width + ox is the (h, w)
// window of the canvas at offset (oy, ox), wrapping cyclically
// (canvasWindow()).
//
// Two layouts:
//  - window rows (windowRows()): every canvas row a window can show, column
//    offset by column offset ([ox][y][x], y < height + h - 1), so the h rows
//    of placement r are the contiguous table rows start[r] .. start[r] + h - 1;
//    then h rows of ones, the window of an example left unmasked. About
//    2 h w^2 values. The fused kernel (ops.mulTableWindows) reads it as bytes,
//    and the gather fallback as floats.
//  - whole windows (windowTable()): one row of h * w values per placement,
//    optionally pre-scaled by the window's rescale factor (shareC). A step is
//    then one gather of contiguous rows; kept only while the engine's cache
//    has room (positions x h * w values).
import { canvasDropFraction, canvasWindow, windowSums, type Canvas } from './canvas.js';

/** What a step needs to know of every placement without looking at the mask. */
export interface WindowStats {
  /** Ones in the window at each placement. */
  sums: Float64Array;
  /** Whether some window is all zeros (only then does the all-zero guard matter). */
  canAllZero: boolean;
  /** Fraction of zeros in the canvas: the expected drop fraction (span noise). */
  dropFraction: number;
}

export function windowStats(cv: Canvas, h: number, w: number): WindowStats {
  const sums = windowSums(cv, h, w);
  let minSum = Infinity;
  for (const v of sums) minSum = Math.min(minSum, v);
  return { sums, canAllZero: minSum === 0, dropFraction: canvasDropFraction(cv) };
}

/** The window-rows layout (see the file comment). */
export interface WindowRows {
  /** (onesStart + h) rows of w values, 0 or 1. */
  data: Uint8Array;
  /** The first table row of each placement's window. */
  start: BigInt64Array;
  /** The first row of the ones window (= width * (height + h - 1)). */
  onesStart: number;
}

export function windowRows(cv: Canvas, h: number, w: number): WindowRows {
  const extH = cv.height + h - 1;
  const onesStart = cv.width * extH;
  const data = new Uint8Array((onesStart + h) * w);
  for (let ox = 0; ox < cv.width; ox++) {
    for (let y = 0; y < extH; y++) {
      const src = (y % cv.height) * cv.width;
      const dst = (ox * extH + y) * w;
      for (let x = 0; x < w; x++) data[dst + x] = cv.data[src + ((ox + x) % cv.width)];
    }
  }
  data.fill(1, onesStart * w);
  const start = new BigInt64Array(cv.height * cv.width);
  for (let oy = 0; oy < cv.height; oy++) for (let ox = 0; ox < cv.width; ox++) start[oy * cv.width + ox] = BigInt(ox * extH + oy);
  return { data, start, onesStart };
}

/**
 * Every placement's whole window, row r = placement r (positions x h * w);
 * with `sums`, scaled by h * w / sum (all ones for an all-zero window).
 */
export function windowTable(cv: Canvas, h: number, w: number, sums: Float64Array | null = null): Float32Array {
  const hw = h * w;
  const out = new Float32Array(cv.height * cv.width * hw);
  const win = new Uint8Array(hw);
  for (let oy = 0; oy < cv.height; oy++) {
    for (let ox = 0; ox < cv.width; ox++) {
      const r = oy * cv.width + ox;
      canvasWindow(cv, oy, ox, h, w, win);
      const f = sums === null ? 1 : sums[r] > 0 ? hw / sums[r] : 0;
      const row = out.subarray(r * hw, (r + 1) * hw);
      if (sums !== null && sums[r] === 0) row.fill(1);
      else for (let i = 0; i < hw; i++) row[i] = win[i] * f;
    }
  }
  return out;
}
