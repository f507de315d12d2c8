// Pattern pictures (docs/architecture.md §7, `autodropout show`): a grid of sampled masks
// written as PNG with pngjs, pure TS, no engine.
//
// Image layout (patterns on (N, C, H, W)): one row per sample, one column per
// channel, each mask element drawn as a `scale`×`scale` square (nearest), cells
// 2 px apart. Sequence layout (patterns on (N, T, C), masks shaped (n, c, T, 1)):
// time runs along the width, `tokenPx` pixels per token, and each sample is a
// band of C thin rows (one per channel), samples 2 px apart, with a ruler of
// token indices above. Colours: black = dropped (0), white = kept (1), values in
// between are grey levels; values above 1 (multiplicative gaussian noise) fade
// from white to amber, saturating at 2, and negative ones from black to violet. A caption (the pattern's tokens or any
// text) is drawn above the grid with a built-in 5×7 bitmap font.
import { PNG } from 'pngjs';
import { Rng } from '../util/rng.js';
import { sampleMasks } from './masks.js';
import type { MaskShape, Pattern } from './types.js';

type RGB = readonly [number, number, number];

const BACKGROUND: RGB = [52, 78, 112];
const TEXT: RGB = [255, 255, 255];
const RULE: RGB = [150, 175, 205];
const AMBER: RGB = [255, 176, 32];
const VIOLET: RGB = [150, 60, 210];
const PAD = 8;
const SEP = 2;
const SEQ_SEP = 5;
const MUTED: RGB = [175, 195, 220];

// ---------------------------------------------------------------------------
// Font: 5 columns × 7 rows (+2 descender rows for g j p q y , ;). One entry per
// glyph: the character, then one base-32 digit per row, top row first, bit 4 =
// leftmost pixel; trailing blank rows are omitted. Space is implicit.
const FONT_DATA =
  '0ehjlphe 14c4444e 2eh1248v 3v2421he 426aiv22 5vgu11he 668guhhe 7v124888 8ehhehhe 9ehhf12c ' +
  'Aehhvhhh Buhhuhhu Cehggghe Dsihhhis Evgguggv Fvgguggg Gehgnhhf Hhhhvhhh Ie44444e J72222ic ' +
  'Khikokih Lggggggv Mhrllhhh Nhhpljhh Oehhhhhe Puhhuggg Qehhhlid Ruhhukih Sfgge11u Tv444444 ' +
  'Uhhhhhhe Vhhhhha4 Whhhllla Xhha4ahh Yhha4444 Zv1248gv ' +
  'a00e1fhf bggmphhu c00egghe d11djhhf e00ehvge f698s888 g00fhhhf1e hggmphhh i40c444e j2062222ic ' +
  'kggikoki lc44444e m00qllll n00mphhh o00ehhhe p00uhhhugg q00fhhhf11 r00mpggg s00fge1u t88s8896 ' +
  'u00hhhjd v00hhha4 w00hhlla x00ha4ah y00hhhhf1e z00v248v ' +
  '=00v0v ,00000c48 .00000cc :0cc0cc ;0cc0c48 (2488842 )8422248 [e88888e ]e22222e {3448443 ' +
  '}o44244o -000v _000000v /01248g \\0g8421 +044v44 *04lel4 °ciic \'448 "aaa !4444404 ?eh12404 ' +
  '%op248j3 #aavavaa @ehnlnge <248g842 >8421248 |4444444 ~008l2 &cik8lid ^4ah $4fke5u4 σ00fihhe γ00ha4444';

const GLYPH_ROWS = 9;
const GLYPH_COLS = 5;

/** Glyph rows (9 per glyph, 5-bit row masks), built once. */
let glyphs: Map<string, Uint8Array> | null = null;
function glyphFor(ch: string): Uint8Array {
  if (!glyphs) {
    glyphs = new Map();
    for (const entry of FONT_DATA.split(' ')) {
      const [c, ...rows] = [...entry];
      const g = new Uint8Array(GLYPH_ROWS);
      rows.forEach((r, i) => (g[i] = parseInt(r, 32)));
      glyphs.set(c, g);
    }
    glyphs.set(' ', new Uint8Array(GLYPH_ROWS));
  }
  return glyphs.get(ch) ?? glyphs.get('?')!;
}
/** Characters the built-in font draws; anything else is drawn as '?'. */
export function fontCharacters(): string {
  glyphFor(' ');
  return [...glyphs!.keys()].join('');
}

// ---------------------------------------------------------------------------
// A plain RGBA raster.
class Raster {
  readonly data: Buffer;
  constructor(
    readonly width: number,
    readonly height: number,
    fill: RGB = BACKGROUND,
  ) {
    this.data = Buffer.alloc(width * height * 4);
    this.fillRect(0, 0, width, height, fill);
  }
  fillRect(x: number, y: number, w: number, h: number, [r, g, b]: RGB): void {
    const x0 = Math.max(0, x);
    const y0 = Math.max(0, y);
    const x1 = Math.min(this.width, x + w);
    const y1 = Math.min(this.height, y + h);
    for (let yy = y0; yy < y1; yy++) {
      let o = (yy * this.width + x0) * 4;
      for (let xx = x0; xx < x1; xx++, o += 4) {
        this.data[o] = r;
        this.data[o + 1] = g;
        this.data[o + 2] = b;
        this.data[o + 3] = 255;
      }
    }
  }
  /** Copies `src` with its top-left corner at (x, y). */
  blit(src: Raster, x: number, y: number): void {
    for (let yy = 0; yy < src.height; yy++) {
      src.data.copy(this.data, ((y + yy) * this.width + x) * 4, yy * src.width * 4, (yy + 1) * src.width * 4);
    }
  }
  text(x: number, y: number, s: string, scale: number, colour: RGB = TEXT): void {
    let cx = x;
    for (const ch of s) {
      const g = glyphFor(ch);
      for (let row = 0; row < GLYPH_ROWS; row++) {
        const bits = g[row];
        if (bits === 0) continue;
        for (let col = 0; col < GLYPH_COLS; col++) {
          if (bits & (1 << (GLYPH_COLS - 1 - col))) this.fillRect(cx + col * scale, y + row * scale, scale, scale, colour);
        }
      }
      cx += advance(scale);
    }
  }
  png(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    this.data.copy(png.data);
    // RGB, fixed deflate settings: the same picture always gives the same bytes.
    return PNG.sync.write(png, { colorType: 2, deflateLevel: 9 });
  }
}

const advance = (scale: number): number => (GLYPH_COLS + 1) * scale;
const lineHeight = (scale: number): number => GLYPH_ROWS * scale + 3;
const textWidth = (s: string, scale: number): number => [...s].length * advance(scale) - scale;

/** Splits text into lines of at most `maxChars` characters, breaking at spaces where it can. */
export function wrapText(text: string | readonly string[], maxChars: number): string[] {
  const out: string[] = [];
  const paragraphs = (typeof text === 'string' ? [text] : text).flatMap((t) => t.split('\n'));
  for (const para of paragraphs) {
    let line = '';
    for (const word of para.split(' ')) {
      let w = word;
      while ([...w].length > maxChars) {
        // A word longer than a line: break it after a comma or slash if one is
        // far enough along (lists of sublayers, paths), else hard.
        if (line !== '') out.push(line);
        const chars = [...w];
        let cut = maxChars;
        for (let i = maxChars; i > maxChars / 3; i--) {
          if (chars[i - 1] === ',' || chars[i - 1] === '/') {
            cut = i;
            break;
          }
        }
        out.push(chars.slice(0, cut).join(''));
        w = chars.slice(cut).join('');
        line = '';
      }
      const candidate = line === '' ? w : `${line} ${w}`;
      if ([...candidate].length <= maxChars) line = candidate;
      else {
        out.push(line);
        line = w;
      }
    }
    out.push(line);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Mask colours.
function maskColour(v: number): RGB {
  if (v < 0) {
    // Gaussian noise can flip a sign: black fading to violet.
    const t = Math.min(1, -v);
    return [Math.round(t * VIOLET[0]), Math.round(t * VIOLET[1]), Math.round(t * VIOLET[2])];
  }
  if (!(v > 0)) return [0, 0, 0]; // 0 (and NaN): dropped
  if (v <= 1) {
    const g = Math.round(v * 255);
    return [g, g, g];
  }
  const t = Math.min(1, v - 1);
  return [Math.round(255 + t * (AMBER[0] - 255)), Math.round(255 + t * (AMBER[1] - 255)), Math.round(255 + t * (AMBER[2] - 255))];
}

// ---------------------------------------------------------------------------
// Geometry.
export type MaskLayout = 'image' | 'sequence';

export interface GridOptions {
  /** 'image': (n, c, h, w) masks as pictures; 'sequence': (n, c, T, 1) masks with T along the width. Default: 'sequence' when w = 1 < h. */
  layout?: MaskLayout;
  /** Image layout: pixels per mask element (default: the smallest giving cells of >= 80 px). */
  scale?: number;
  /** Sequence layout: pixels per token along the width (default: about 512 px for the whole sequence, 1..16). */
  tokenPx?: number;
  /** Sequence layout: height of one channel row (default 8, more when there are few channels). */
  rowPx?: number;
  /** Text drawn above the grid; each entry is a line, long lines are wrapped. */
  caption?: string | readonly string[];
  /** A line in a muted colour under the caption (renderPattern puts the shape, seed and dropped fraction there). */
  note?: string;
  /** Text size: font pixels per glyph pixel (default 2: 10×14 px letters). */
  textScale?: number;
  /** Row labels (n0, n1, …) and column labels (c0, … or token indices). Default true. */
  labels?: boolean;
  /** Minimum picture width in pixels, so captions stay readable next to small grids (default 360). */
  minWidth?: number;
}

export interface GridGeometry {
  layout: MaskLayout;
  width: number;
  height: number;
  /** Pixels per mask element: [along x, along y]. */
  elementPx: [number, number];
  /** The caption band (caption lines, then note lines): rows [top, bottom). */
  caption: { top: number; bottom: number; lines: string[]; noteLines: number };
  /** Top-left pixel of the mask of sample n, channel c. Element (i, j) covers elementPx from origin + (j, i) * elementPx; in the sequence layout i = t, drawn along x. */
  cellOrigin(n: number, c: number): { x: number; y: number };
}

function checkShape(shape: MaskShape): void {
  for (const k of ['n', 'c', 'h', 'w'] as const) {
    if (!Number.isSafeInteger(shape[k]) || shape[k] < 1) throw new RangeError(`mask shape ${k} must be a positive integer, got ${shape[k]}`);
  }
}

function positive(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} must be a positive integer, got ${v}`);
  return v;
}

/** Where everything goes in a picture of masks of this shape; the renderer and the tests share it. */
export function maskGridGeometry(shape: MaskShape, opts: GridOptions = {}): GridGeometry {
  checkShape(shape);
  const { n, c, h, w } = shape;
  const layout: MaskLayout = opts.layout ?? (w === 1 && h > 1 ? 'sequence' : 'image');
  const ts = positive('textScale', opts.textScale, 2);
  const labels = opts.labels ?? true;
  const lh = lineHeight(ts);
  const rowLabelW = labels ? textWidth(`n${n - 1}`, ts) + 8 : 0;
  let ex: number;
  let ey: number;
  let gridW: number;
  let gridH: number;
  let cellOffset: (n: number, c: number) => { x: number; y: number };
  if (layout === 'image') {
    const s = positive('scale', opts.scale, Math.max(1, Math.ceil(80 / Math.max(h, w))));
    ex = ey = s;
    const cw = w * s;
    const ch = h * s;
    gridW = c * cw + (c + 1) * SEP;
    gridH = n * ch + (n + 1) * SEP;
    cellOffset = (i, j) => ({ x: SEP + j * (cw + SEP), y: SEP + i * (ch + SEP) });
  } else {
    const T = h * w;
    ex = positive('tokenPx', opts.tokenPx, Math.max(1, Math.min(16, Math.floor(512 / T))));
    ey = positive('rowPx', opts.rowPx, Math.max(8, Math.ceil(lh / c)));
    // Channel rows 1 px apart, samples SEQ_SEP px apart, so each sample reads as one band.
    const bandH = c * ey + (c - 1);
    gridW = T * ex + 2 * SEP;
    gridH = n * bandH + (n - 1) * SEQ_SEP + 2 * SEP;
    cellOffset = (i, j) => ({ x: SEP, y: SEP + i * (bandH + SEQ_SEP) + j * (ey + 1) });
  }
  const headerH = labels ? lh + (layout === 'sequence' ? 3 : 0) : 0;
  const width = Math.max(PAD * 2 + rowLabelW + gridW, opts.minWidth ?? 400);
  const maxChars = Math.max(8, Math.floor((width - 2 * PAD + ts) / advance(ts)));
  const captionLines = opts.caption === undefined ? [] : wrapText(opts.caption, maxChars);
  const noteLines = opts.note === undefined ? [] : wrapText(opts.note, maxChars);
  const lines = [...captionLines, ...noteLines];
  const captionH = lines.length * lh;
  const captionTop = PAD;
  const gridTop = PAD + captionH + (lines.length > 0 ? 6 : 0) + headerH;
  const gridLeft = PAD + rowLabelW;
  return {
    layout,
    width,
    height: gridTop + gridH + PAD,
    elementPx: [ex, ey],
    caption: { top: captionTop, bottom: captionTop + captionH, lines, noteLines: noteLines.length },
    cellOrigin(i, j) {
      if (!(i >= 0 && i < n && j >= 0 && j < c)) throw new RangeError(`no cell (${i}, ${j}) in ${n}×${c}`);
      const o = cellOffset(i, j);
      return { x: gridLeft + o.x, y: gridTop + o.y };
    },
  };
}

/** Token-index ruler step: a power of two whose labels do not overlap. */
function rulerStep(T: number, tokenPx: number, ts: number): number {
  const need = textWidth(String(T), ts) + 6 * ts;
  let step = 1;
  while (step * tokenPx < need) step *= 2;
  return step;
}

function drawGrid(masks: Float32Array, shape: MaskShape, opts: GridOptions): Raster {
  checkShape(shape);
  const { n, c, h, w } = shape;
  if (masks.length !== n * c * h * w) throw new RangeError(`masks hold ${masks.length} values, shape ${n}×${c}×${h}×${w} needs ${n * c * h * w}`);
  const g = maskGridGeometry(shape, opts);
  const ts = opts.textScale ?? 2;
  const r = new Raster(g.width, g.height);
  const firstNote = g.caption.lines.length - g.caption.noteLines;
  g.caption.lines.forEach((line, i) => r.text(PAD, g.caption.top + i * lineHeight(ts), line, ts, i < firstNote ? TEXT : MUTED));
  const [ex, ey] = g.elementPx;
  const labels = opts.labels ?? true;
  const first = g.cellOrigin(0, 0);
  const hw = h * w;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < c; j++) {
      const o = g.cellOrigin(i, j);
      const base = (i * c + j) * hw;
      if (g.layout === 'image') {
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) r.fillRect(o.x + x * ex, o.y + y * ey, ex, ey, maskColour(masks[base + y * w + x]));
      } else {
        for (let t = 0; t < hw; t++) r.fillRect(o.x + t * ex, o.y, ex, ey, maskColour(masks[base + t]));
      }
    }
    if (labels) {
      const o = g.cellOrigin(i, 0);
      const bandH = g.layout === 'image' ? h * ey : c * ey + (c - 1);
      const ty = o.y + Math.max(0, Math.floor((bandH - GLYPH_ROWS * ts) / 2));
      r.text(PAD, ty, `n${i}`, ts);
    }
  }
  if (labels) {
    const lh = lineHeight(ts);
    if (g.layout === 'image') {
      const ty = first.y - SEP - lh + 2;
      for (let j = 0; j < c; j++) {
        const o = g.cellOrigin(0, j);
        const label = `c${j}`;
        r.text(o.x + Math.floor((w * ex - textWidth(label, ts)) / 2), ty, label, ts);
      }
    } else {
      // Ruler: a tick above every `step`-th token, labelled with its index.
      const T = hw;
      const step = rulerStep(T, ex, ts);
      const tickY = first.y - SEP - 3;
      for (let t = 0; t <= T; t += step) {
        const x = first.x + t * ex;
        r.fillRect(Math.min(x, first.x + T * ex - 1), tickY, 1, 3, RULE);
        if (t < T) r.text(x, tickY - lh + 1, String(t), ts);
      }
    }
  }
  return r;
}

/** A picture of a batch of masks (n·c·h·w values, NCHW), as PNG bytes. */
export function renderMaskGrid(masks: Float32Array, shape: MaskShape, opts: GridOptions = {}): Buffer {
  return drawGrid(masks, shape, opts).png();
}

// ---------------------------------------------------------------------------
// Patterns.
const fmt = (x: number): string => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4))));
const pair = (p: readonly [number, number]): string => `${fmt(p[0])}x${fmt(p[1])}`;
const yesNo = (b: boolean): string => (b ? 'yes' : 'no');

/** A one-line description of a pattern: its kind and every token, e.g. `dropblock blockSize=7 keepProb=0.9`. */
export function describePattern(p: Pattern): string {
  switch (p.kind) {
    case 'none':
      return 'none';
    case 'dropout':
    case 'spatial':
    case 'variational':
    case 'droppath':
      return `${p.kind} rate=${fmt(p.rate)}`;
    case 'dropblock':
      return `dropblock blockSize=${fmt(p.blockSize)} keepProb=${fmt(p.keepProb)}`;
    case 'tile':
      return (
        `tile size=${pair(p.size)} stride=${pair(p.stride)} repeat=${p.repeat === 'all' ? 'all' : pair(p.repeat)} ` +
        `rotate=${fmt(p.rotate)}° shearX=${fmt(p.shearX)} shearY=${fmt(p.shearY)} shareC=${yesNo(p.shareC)} residual=${yesNo(p.residual)}`
      );
    case 'span':
      return (
        `span size=${fmt(p.size)} stride=${fmt(p.stride)} repeat=${p.repeat === 'all' ? 'all' : fmt(p.repeat)} ` +
        `shareC=${yesNo(p.shareC)} noise=${p.noise} sublayers=${p.sublayers.join(',')}`
      );
    default: {
      const other: { kind?: unknown } = p;
      return String(other.kind);
    }
  }
}

/** Kinds that act on (N, T, C) sequences and are drawn with time along the width. */
export function isSequencePattern(p: Pattern): boolean {
  return p.kind === 'span' || p.kind === 'variational';
}

export interface RenderOptions extends Omit<GridOptions, 'layout' | 'caption'> {
  /** Image layout: mask height and width (default 28×28). */
  height?: number;
  width?: number;
  /** Sequence layout: tokens T (default 64). Setting it draws any pattern in the sequence layout. */
  length?: number;
  /** Channels per example (default 4). */
  channels?: number;
  /** Examples drawn, one row (band) each (default 6). */
  samples?: number;
  /** Seed of the placement randomness (default 0). */
  seed?: number;
  /** Pattern strength in [0, 1] (the schedule's ramp); default 1. */
  strength?: number;
  /** Caption; default: describePattern(). A muted note with the shape, seed and dropped fraction is always added. */
  caption?: string | readonly string[];
}

function shapeFor(pattern: Pattern, o: RenderOptions): { shape: MaskShape; layout: MaskLayout } {
  const samples = positive('samples', o.samples, 6);
  const channels = positive('channels', o.channels, 4);
  if (o.length !== undefined || isSequencePattern(pattern)) {
    return { shape: { n: samples, c: channels, h: positive('length', o.length, 64), w: 1 }, layout: 'sequence' };
  }
  return { shape: { n: samples, c: channels, h: positive('height', o.height, 28), w: positive('width', o.width, 28) }, layout: 'image' };
}

function statsLine(pattern: Pattern, masks: Float32Array, shape: MaskShape, layout: MaskLayout, seed: number, strength: number | undefined): string {
  let zeros = 0;
  let noised = 0;
  for (const v of masks) {
    if (v === 0) zeros++;
    else if (v !== 1) noised++;
  }
  // Examples whose whole mask is zero: training leaves them unmasked (the
  // all-zero guard of maskMultipliers), except droppath, whose point it is.
  let allZero = 0;
  const per = shape.c * shape.h * shape.w;
  for (let e = 0; e < shape.n; e++) if (masks.subarray(e * per, (e + 1) * per).every((v) => v === 0)) allZero++;
  const pct = (k: number): string => `${((100 * k) / masks.length).toFixed(1)}%`;
  const dims = layout === 'image' ? `${shape.h}x${shape.w}` : `T=${shape.h}`;
  let s = `${dims} ${shape.c}ch seed=${seed}`;
  if (strength !== undefined && strength !== 1) s += ` strength=${fmt(strength)}`;
  s += ` dropped=${pct(zeros)}`;
  if (noised > 0) s += ` noised=${pct(noised)}`;
  if (allZero > 0 && pattern.kind !== 'droppath') s += ` (${allZero}/${shape.n} all-zero: left unmasked in training)`;
  return s;
}

function patternBlock(pattern: Pattern, o: RenderOptions, rng: Rng, seed: number): Raster {
  const { shape, layout } = shapeFor(pattern, o);
  const masks = sampleMasks(pattern, shape, rng, o.strength === undefined ? undefined : { strength: o.strength });
  const caption = o.caption ?? describePattern(pattern);
  return drawGrid(masks, shape, { ...o, layout, caption, note: statsLine(pattern, masks, shape, layout, seed, o.strength) });
}

/** Samples `samples` masks of a pattern (seeded) and draws them; returns PNG bytes. */
export function renderPattern(pattern: Pattern, opts: RenderOptions = {}): Buffer {
  const seed = opts.seed ?? 0;
  return patternBlock(pattern, opts, new Rng(seed), seed).png();
}

export interface GalleryItem {
  pattern: Pattern;
  caption?: string | readonly string[];
}

export interface GalleryOptions extends Omit<RenderOptions, 'caption'> {
  /** Blocks per row (default 1: stacked top to bottom). */
  columns?: number;
}

/** Width of the light rule between gallery blocks. */
export const GALLERY_RULE = 3;

/**
 * Several patterns, one block each (caption + grid, as renderPattern draws it),
 * stacked top to bottom (or `columns` per row, row-major), separated by light
 * rules. Block i samples from `Rng.derive(seed, 'gallery', i)`, so a block does
 * not change when others are added or removed.
 */
export function renderGallery(items: readonly GalleryItem[], opts: GalleryOptions = {}): Buffer {
  if (items.length === 0) throw new RangeError('renderGallery: no patterns to draw');
  const seed = opts.seed ?? 0;
  const cols = Math.min(positive('columns', opts.columns, 1), items.length);
  const blocks = items.map((it, i) => patternBlock(it.pattern, { ...opts, caption: it.caption }, Rng.derive(seed, 'gallery', i), seed));
  const colW = Math.max(...blocks.map((b) => b.width));
  const rows: Raster[][] = [];
  for (let i = 0; i < blocks.length; i += cols) rows.push(blocks.slice(i, i + cols));
  const rowH = rows.map((r) => Math.max(...r.map((b) => b.height)));
  const width = cols * colW + (cols - 1) * GALLERY_RULE;
  const height = rowH.reduce((s, h) => s + h, 0) + (rows.length - 1) * GALLERY_RULE;
  const out = new Raster(width, height);
  let y = 0;
  rows.forEach((row, r) => {
    if (r > 0) {
      out.fillRect(0, y, width, GALLERY_RULE, RULE);
      y += GALLERY_RULE;
    }
    row.forEach((b, c) => {
      const x = c * (colW + GALLERY_RULE);
      if (c > 0) out.fillRect(x - GALLERY_RULE, y, GALLERY_RULE, rowH[r], RULE);
      out.blit(b, x, y);
    });
    y += rowH[r];
  });
  return out.png();
}
