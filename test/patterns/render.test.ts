// Pattern pictures: the PNG decodes, has the size the layout promises, every
// mask element lands as an exact black/white square where maskGridGeometry says,
// the caption is drawn, and sampling is repeatable from the seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PNG } from 'pngjs';
import {
  describePattern,
  fontCharacters,
  maskGridGeometry,
  renderGallery,
  renderMaskGrid,
  renderPattern,
  wrapText,
} from '../../src/patterns/render.js';
import type { MaskShape, Pattern } from '../../src/patterns/types.js';

function decode(buf: Buffer): PNG {
  assert.deepEqual([...buf.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  return PNG.sync.read(buf);
}
function rgb(png: PNG, x: number, y: number): [number, number, number] {
  const o = (y * png.width + x) * 4;
  return [png.data[o], png.data[o + 1], png.data[o + 2]];
}
function isWhite(c: readonly number[]): boolean {
  return c[0] === 255 && c[1] === 255 && c[2] === 255;
}

/** A mask with a recognisable, asymmetric structure: element dropped when (n + 2c + 3y + x) % 4 == 0. */
function knownMask(s: MaskShape): Float32Array {
  const m = new Float32Array(s.n * s.c * s.h * s.w);
  for (let n = 0; n < s.n; n++)
    for (let c = 0; c < s.c; c++)
      for (let y = 0; y < s.h; y++)
        for (let x = 0; x < s.w; x++) m[((n * s.c + c) * s.h + y) * s.w + x] = (n + 2 * c + 3 * y + x) % 4 === 0 ? 0 : 1;
  return m;
}

test('image layout: exact size without labels or caption', () => {
  const shape = { n: 2, c: 3, h: 4, w: 5 };
  const png = decode(renderMaskGrid(knownMask(shape), shape, { scale: 4, labels: false, minWidth: 0 }));
  // 8 px margins, cells of 5*4 x 4*4 px, 2 px between and around cells.
  assert.equal(png.width, 8 + (3 * 20 + 4 * 2) + 8);
  assert.equal(png.height, 8 + (2 * 16 + 3 * 2) + 8);
});

test('image layout: every element is an exact black or white square at its cell', () => {
  const shape = { n: 2, c: 3, h: 4, w: 5 };
  const masks = knownMask(shape);
  const opts = { scale: 6, caption: 'known mask' };
  const png = decode(renderMaskGrid(masks, shape, opts));
  const g = maskGridGeometry(shape, opts);
  assert.equal(png.width, g.width);
  assert.equal(png.height, g.height);
  assert.deepEqual(g.elementPx, [6, 6]);
  let blacks = 0;
  for (let n = 0; n < shape.n; n++)
    for (let c = 0; c < shape.c; c++) {
      const o = g.cellOrigin(n, c);
      for (let y = 0; y < shape.h; y++)
        for (let x = 0; x < shape.w; x++) {
          const keep = masks[((n * shape.c + c) * shape.h + y) * shape.w + x];
          const want = keep === 1 ? [255, 255, 255] : [0, 0, 0];
          if (keep === 0) blacks++;
          for (let dy = 0; dy < 6; dy++)
            for (let dx = 0; dx < 6; dx++) assert.deepEqual(rgb(png, o.x + x * 6 + dx, o.y + y * 6 + dy), want, `n${n} c${c} (${y},${x}) +(${dy},${dx})`);
        }
      // The pixels just outside the cell are separator, neither black nor white.
      const left = rgb(png, o.x - 1, o.y);
      const below = rgb(png, o.x, o.y + shape.h * 6);
      assert.ok(!isWhite(left) && left.some((v) => v > 0), `separator left of n${n} c${c}`);
      assert.ok(!isWhite(below) && below.some((v) => v > 0), `separator below n${n} c${c}`);
    }
  assert.ok(blacks > 0 && blacks < masks.length);
  // Cell (0, 0) element (0, 0) is dropped ((0+0+0+0) % 4 == 0), element (0, 1) kept.
  const o = g.cellOrigin(0, 0);
  assert.deepEqual(rgb(png, o.x, o.y), [0, 0, 0]);
  assert.deepEqual(rgb(png, o.x + 6, o.y), [255, 255, 255]);
});

test('caption: drawn in white above the grid, and it pushes the grid down', () => {
  const shape = { n: 1, c: 2, h: 8, w: 8 };
  const masks = new Float32Array(shape.n * shape.c * shape.h * shape.w).fill(1);
  const withCap = maskGridGeometry(shape, { caption: 'tile size=3x5 rotate=30°' });
  const without = maskGridGeometry(shape, {});
  assert.equal(withCap.caption.lines.length, 1);
  assert.ok(withCap.caption.bottom > withCap.caption.top);
  assert.ok(withCap.cellOrigin(0, 0).y >= withCap.caption.bottom);
  assert.equal(withCap.height - without.height, withCap.cellOrigin(0, 0).y - without.cellOrigin(0, 0).y);
  assert.ok(withCap.height > without.height);
  const png = decode(renderMaskGrid(masks, shape, { caption: 'tile size=3x5 rotate=30°' }));
  let ink = 0;
  for (let y = withCap.caption.top; y < withCap.caption.bottom; y++) for (let x = 0; x < png.width; x++) if (isWhite(rgb(png, x, y))) ink++;
  assert.ok(ink > 100, `caption ink pixels: ${ink}`);
  // A blank caption band has no ink.
  const blank = decode(renderMaskGrid(masks, shape, { caption: ' ' }));
  const gb = maskGridGeometry(shape, { caption: ' ' });
  for (let y = gb.caption.top; y < gb.caption.bottom; y++) for (let x = 0; x < blank.width; x++) assert.ok(!isWhite(rgb(blank, x, y)));
});

test('long captions wrap to the picture width', () => {
  const shape = { n: 1, c: 1, h: 4, w: 4 };
  const long = 'span size=4 stride=8 repeat=all shareC=no noise=gaussian sublayers=query,key,value,attention-output';
  const g = maskGridGeometry(shape, { caption: long, minWidth: 200 });
  assert.ok(g.caption.lines.length >= 3);
  for (const l of g.caption.lines) assert.ok(l.length * 12 - 2 <= g.width - 16, `line too long: ${l}`);
  assert.equal(g.caption.lines.join('').replace(/ /g, ''), long.replace(/ /g, ''));
  assert.deepEqual(wrapText('aaaa bbbb cc', 9), ['aaaa bbbb', 'cc']);
  assert.deepEqual(wrapText('abcdefghijk', 4), ['abcd', 'efgh', 'ijk']);
  // Long words break after a comma when there is one.
  assert.deepEqual(wrapText('x=query,key,value,attention-output', 20), ['x=query,key,value,', 'attention-output']);
  assert.deepEqual(wrapText(['one', 'two\nthree'], 20), ['one', 'two', 'three']);
});

test('the font covers digits, letters and the caption punctuation', () => {
  const chars = new Set(fontCharacters());
  for (const ch of '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ=,.:()[]-_/x+° *') assert.ok(chars.has(ch), `missing glyph '${ch}'`);
});

test('sequence layout: T along the width, one thin row per channel', () => {
  const shape = { n: 2, c: 3, h: 12, w: 1 };
  const masks = new Float32Array(2 * 3 * 12).fill(1);
  // Sample 1, channel 2: tokens 4..6 dropped; sample 0, channel 0: token 0 at 0.5 (grey), token 11 at 2 (amber).
  for (let t = 4; t < 7; t++) masks[(1 * 3 + 2) * 12 + t] = 0;
  masks[0] = 0.5;
  masks[11] = 2;
  const opts = { tokenPx: 5, rowPx: 4 };
  const g = maskGridGeometry(shape, opts);
  assert.equal(g.layout, 'sequence');
  assert.deepEqual(g.elementPx, [5, 4]);
  const png = decode(renderMaskGrid(masks, shape, opts));
  for (let n = 0; n < 2; n++)
    for (let c = 0; c < 3; c++) {
      const o = g.cellOrigin(n, c);
      for (let t = 0; t < 12; t++) {
        const v = masks[(n * 3 + c) * 12 + t];
        for (let dy = 0; dy < 4; dy++)
          for (let dx = 0; dx < 5; dx++) {
            const px = rgb(png, o.x + t * 5 + dx, o.y + dy);
            if (v === 1) assert.ok(isWhite(px), `n${n} c${c} t${t}`);
            else if (v === 0) assert.deepEqual(px, [0, 0, 0], `n${n} c${c} t${t}`);
            else if (v === 0.5) assert.deepEqual(px, [128, 128, 128]);
            else assert.deepEqual(px, [255, 176, 32]);
          }
      }
    }
  // Channel rows of one sample sit 1 px apart; samples further apart.
  assert.equal(g.cellOrigin(0, 1).y - g.cellOrigin(0, 0).y, 5);
  assert.ok(g.cellOrigin(1, 0).y - g.cellOrigin(0, 2).y > 5);
});

const dropblock: Pattern = { kind: 'dropblock', blockSize: 5, keepProb: 0.8 };

test('renderPattern: same seed gives identical bytes, another seed other masks', () => {
  const a = renderPattern(dropblock, { seed: 3, samples: 2, channels: 2 });
  const b = renderPattern(dropblock, { seed: 3, samples: 2, channels: 2 });
  const c = renderPattern(dropblock, { seed: 4, samples: 2, channels: 2 });
  assert.ok(a.equals(b));
  assert.ok(!a.equals(c));
  const png = decode(a);
  const g = maskGridGeometry({ n: 2, c: 2, h: 28, w: 28 }, { caption: [describePattern(dropblock), 'x'] });
  assert.equal(png.width, g.width);
  assert.equal(png.height, g.height);
});

test('renderPattern: a full-drop pattern is all black, none is all white', () => {
  const shape = { n: 2, c: 2, h: 6, w: 6 };
  for (const [p, want] of [
    [{ kind: 'dropblock', blockSize: 6, keepProb: 0 } as Pattern, [0, 0, 0]], // one block covering the map, dropped surely
    [{ kind: 'none' } as Pattern, [255, 255, 255]],
  ] as const) {
    const opts = { height: 6, width: 6, samples: 2, channels: 2, scale: 3 };
    const png = decode(renderPattern(p, opts));
    // The note under the caption may wrap (the all-zero remark): the grid sits that much lower.
    const g = maskGridGeometry(shape, { ...opts, caption: describePattern(p), note: 'x' });
    const dy = png.height - g.height;
    assert.ok(dy >= 0 && dy % 21 === 0, `dy ${dy}`);
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < 2; c++) {
        const o = g.cellOrigin(n, c);
        for (let y = 0; y < 18; y++) for (let x = 0; x < 18; x++) assert.deepEqual(rgb(png, o.x + x, o.y + dy + y), [...want], `${p.kind} n${n} c${c}`);
      }
  }
});

test('renderPattern: span patterns use the sequence layout', () => {
  const span: Pattern = { kind: 'span', size: 4, stride: 8, repeat: 'all', shareC: true, noise: 'zero', sublayers: ['ffn-hidden'] };
  const png = decode(renderPattern(span, { length: 32, channels: 2, samples: 3, tokenPx: 4 }));
  const g = maskGridGeometry({ n: 3, c: 2, h: 32, w: 1 }, { tokenPx: 4, caption: describePattern(span), note: 'x' });
  assert.equal(png.width, g.width);
  assert.equal(png.height, g.height);
});

test('renderGallery: blocks stacked with a 3 px rule, each as renderPattern draws it', () => {
  const items = [
    { pattern: { kind: 'dropout', rate: 0.2 } as Pattern, caption: 'first' },
    { pattern: dropblock, caption: ['second', 'two lines'] },
  ];
  const opts = { samples: 1, channels: 2, seed: 5 };
  const gal = decode(renderGallery(items, opts));
  const h0 = decode(renderPattern(items[0].pattern, { ...opts, caption: items[0].caption })).height;
  const h1 = decode(renderPattern(items[1].pattern, { ...opts, caption: items[1].caption })).height;
  assert.equal(gal.height, h0 + 3 + h1);
  assert.ok(renderGallery(items, opts).equals(renderGallery(items, opts)));
  assert.throws(() => renderGallery([]), RangeError);
  // Two columns: side by side, a 3 px rule between, rows as tall as their tallest block.
  const w0 = decode(renderPattern(items[0].pattern, { ...opts, caption: items[0].caption })).width;
  const two = decode(renderGallery(items, { ...opts, columns: 2 }));
  assert.equal(two.width, 2 * w0 + 3);
  assert.equal(two.height, Math.max(h0, h1));
});

test('bad shapes and sizes are refused', () => {
  assert.throws(() => renderMaskGrid(new Float32Array(3), { n: 1, c: 1, h: 2, w: 2 }), RangeError);
  assert.throws(() => renderMaskGrid(new Float32Array(0), { n: 0, c: 1, h: 2, w: 2 }), RangeError);
  assert.throws(() => renderPattern(dropblock, { samples: 0 }), RangeError);
});
