// The mask engine's one table (src/patterns/canvas-tables.ts), pure
// TypeScript: every placement's window read as the engine reads it (h * w
// contiguous values from start[r] * w) is the reference canvasWindow(); the
// ones window follows the placements; the sums and flags match the canvas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canvasTables } from '../../src/patterns/canvas-tables.js';
import { canvasDropFraction, canvasWindow, spanCanvas, tileCanvas, windowSums, type Canvas } from '../../src/patterns/canvas.js';
import { span, tile } from './fixtures.js';

const cases: [string, Canvas, number, number][] = [
  ['rotated sheared lattice, H != W', tileCanvas(tile({ size: [2, 3], stride: [4, 5], rotate: 20, shearY: 0.3 }), 9, 13), 9, 13],
  ['finite block (canvas larger than the map)', tileCanvas(tile({ size: [3, 3], stride: [2, 4], repeat: [2, 2], rotate: 60 }), 10, 7), 10, 7],
  ['block covering the map: one all-zero window', tileCanvas(tile({ size: [5, 5], repeat: [1, 1] }), 5, 5), 5, 5],
  ['span along T (w = 1)', spanCanvas(span({ size: 3, stride: 7 }), 24), 24, 1],
  ['1 x 1 map', tileCanvas(tile({ size: [1, 1], stride: [2, 2] }), 1, 1), 1, 1],
];

test('canvasTables: every placement reads its canvas window, then the ones window; sums, one-window scales, all-zero flag and drop fraction', () => {
  for (const [what, cv, h, w] of cases) {
    const t = canvasTables(cv, h, w);
    const positions = cv.height * cv.width;
    assert.equal(t.start.length, positions, what);
    assert.equal(t.onesStart, cv.width * (cv.height + h - 1), what);
    assert.equal(t.rows.length, (t.onesStart + h) * w, what);
    const sums = windowSums(cv, h, w);
    for (let oy = 0; oy < cv.height; oy++) {
      for (let ox = 0; ox < cv.width; ox++) {
        const r = oy * cv.width + ox;
        const from = Number(t.start[r]) * w;
        assert.ok(from + h * w <= t.onesStart * w, `${what}: placement ${r} stays before the ones window`);
        assert.deepEqual(t.rows.subarray(from, from + h * w), canvasWindow(cv, oy, ox, h, w), `${what}: placement (${oy}, ${ox})`);
        assert.equal(t.sums[r], sums[r], `${what}: sum ${r}`);
        assert.equal(t.scale[r], Math.fround(sums[r] > 0 ? (h * w) / sums[r] : 1), `${what}: scale ${r}`);
      }
    }
    assert.ok(t.rows.subarray(t.onesStart * w).every((v) => v === 1), `${what}: ones window`);
    assert.equal(t.canAllZero, sums.some((v) => v === 0), `${what}: canAllZero`);
    assert.equal(t.dropFraction, canvasDropFraction(cv), what);
  }
  assert.equal(canvasTables(cases[2][1], 5, 5).canAllZero, true, 'the covering block has an all-zero window');
});
