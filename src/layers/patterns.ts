// The mask engine: every pattern kind as a SlotDropout on the tensor engine
// (docs/architecture.md §4). The semantics are src/patterns/masks.ts's (the reference,
// pure TS; docs/patterns.md "Mask semantics"); this file builds the same
// masks for a whole batch with a handful of tensor ops per slot per step and
// no per-element JS:
//
// - tile / span: the canvas (src/patterns/canvas.ts) is turned once per
//   (pattern structure, map size, device) into the tables of
//   src/patterns/canvas-tables.ts (built there, uploaded here): every row a
//   window can show, which the fused kernel reads, and, while the cache has
//   room, every placement's whole window as one row. A step draws one uniform
//   placement per example (and per channel unless shareC) with randint and
//   copies the windows with one index_select. The rescale factor comes from a precomputed table of window
//   sums (no reduction over the mask); for shareC the table is pre-scaled by
//   each window's own factor, so the gather is the whole job;
// - dropout / spatial / variational / droppath: uniform draws compared with
//   the rate at the mask's own (broadcast) shape; the bool mask becomes the
//   multipliers in one `where(keep, factor, guard)`;
// - dropblock: Bernoulli(gamma) seeds on the valid (h-bh+1) x (w-bw+1) grid,
//   zero-padded by (bh-1, bw-1) on every side and max-pooled with a (bh, bw)
//   kernel at stride 1: exactly the union of the seeds' blocks, for odd and
//   even sizes alike, with no cropping;
// - gaussian spans: randn on the dropped positions, clipped to [0, 2].
//
// Rescaling (all kinds but droppath and gaussian spans): per example by
// numel / sum(mask); an all-zero example passes unmasked. droppath scales kept
// examples by 1 / (1 - rate). Everything runs inside tidy(): only the output
// escapes; the canvas tensors live in a bounded cache that dispose() frees.
//
// Cost (bench/masks): tile and zero-noise span masks on (N, C, H, W) maps are
// never materialised: ops.mulTableWindows (native/fused.cc) multiplies each
// (example, channel) row by its window of a byte table of placements and the
// per-example factor, fused with the ReLU after a batch-norm slot
// (applyRelu) or the residual sum a skip slot enters (applyAdd), so the mask
// costs a few small tensor ops per slot. Everything else (the other kinds,
// sequence slots, maskTensor/multiplierTensor) builds the masks as above and
// multiplies; every full-size tensor a step creates costs about as much as
// the multiply itself, so those paths are arranged to create few.
import { getDefaultDevice, ops, tensor, tidy, type Generator, type Tensor } from '../engine/index.js';
import type { DropoutContext, SlotDropout, SlotInfo } from '../models/slots.js';
import type { Canvas } from '../patterns/canvas.js';
import { windowRows, windowStats, windowTable, type WindowStats } from '../patterns/canvas-tables.js';
import { dropBlockParams, effectivePattern, gaussianSpanStd, patternCanvas } from '../patterns/masks.js';
import { scheduleFactor } from '../patterns/schedule.js';
import type { MaskShape, Pattern, Schedule, SpanPattern, TilePattern } from '../patterns/types.js';

/**
 * Whole-window tables (placements x h*w floats, twice that with the shareC
 * copy) a cache may hold in all: 2^25 floats = 128 MiB. A canvas that does not
 * fit is kept as rows (about 2 h w^2 floats) instead, so a model with many
 * distinct patterns degrades to the row gather rather than evicting and
 * rebuilding canvases every step.
 */
const BLOCK_BUDGET = 1 << 25;

/**
 * A canvas on a device: the tables of src/patterns/canvas-tables.ts,
 * uploaded. The window-rows table serves the fused kernel (as bytes) and the
 * gather fallback (as floats, same layout); small enough canvases also keep
 * every placement's whole window as one row, so an unfused step is one
 * index_select of contiguous blocks (and, for shareC, of a table pre-scaled by
 * each window's exact rescale factor, so nothing else is left to compute).
 */
interface CanvasTensors {
  /** height * width: the number of placements (r = oy * width + ox). */
  positions: number;
  /** The window-rows table, (onesStart + h, w) uint8 (see windowRows()). */
  table: Tensor;
  /** The same table as float32, for the gather fallback; built on first use. */
  tableFloat: Tensor | null;
  /** (positions) int64: the first table row of each placement's window. */
  start: Tensor;
  /** The first row of the ones window. */
  onesStart: number;
  /** (1, h) int64: 0 .. h - 1, the rows of a window after its first. */
  rowOffsets: Tensor;
  /** (positions, h * w) float32 whole windows; null when they did not fit the cache's budget. */
  blocks: Tensor | null;
  /** blocks * (h * w) / sum(window), all ones for an all-zero window; built on first use. */
  scaledBlocks: Tensor | null;
  /** (positions) float32: the number of ones in the window at each placement. */
  sums: Tensor;
  /** Whether some window is all zeros (only then is the all-zero guard computed). */
  canAllZero: boolean;
  /** Fraction of zeros in the canvas (the expected drop fraction; span noise). */
  dropFraction: number;
  canvas: Canvas;
  stats: WindowStats;
  h: number;
  w: number;
  device: string;
}

function uploadCanvas(cv: Canvas, h: number, w: number, device: string, useBlocks: boolean): CanvasTensors {
  const positions = cv.height * cv.width;
  const stats = windowStats(cv, h, w);
  const rows = windowRows(cv, h, w);
  const rowOffsets = new BigInt64Array(h);
  for (let y = 0; y < h; y++) rowOffsets[y] = BigInt(y);
  return {
    positions,
    table: tensor(rows.data, [rows.onesStart + h, w], 'uint8', device).keep(),
    tableFloat: null,
    start: tensor(rows.start, [positions], 'int64', device).keep(),
    onesStart: rows.onesStart,
    rowOffsets: tensor(rowOffsets, [1, h], 'int64', device).keep(),
    blocks: useBlocks ? tensor(windowTable(cv, h, w), [positions, h * w], 'float32', device).keep() : null,
    scaledBlocks: null,
    sums: tensor(Float32Array.from(stats.sums), [positions], 'float32', device).keep(),
    canAllZero: stats.canAllZero,
    dropFraction: stats.dropFraction,
    canvas: cv,
    stats,
    h,
    w,
    device,
  };
}

/** The shareC multipliers table (built once per canvas, on first use). */
function scaledBlocksOf(ct: CanvasTensors): Tensor {
  ct.scaledBlocks ??= tensor(windowTable(ct.canvas, ct.h, ct.w, ct.stats.sums), [ct.positions, ct.h * ct.w], 'float32', ct.device).keep();
  return ct.scaledBlocks;
}

/** The windows at placements r (k,) as (k, h, w) float32: from a whole-window table, or h rows each of the window-rows table. */
function windowsAt(ct: CanvasTensors, r: Tensor, table: Tensor | null): Tensor {
  const k = r.shape[0];
  if (table) return ops.reshape(ops.indexSelect(table, 0, r), [k, ct.h, ct.w]);
  ct.tableFloat ??= ops.to(ct.table, 'float32').keep();
  const rowIds = ops.reshape(ops.add(ops.reshape(ops.index(ct.start, [r]), [k, 1]), ct.rowOffsets), [k * ct.h]);
  return ops.reshape(ops.indexSelect(ct.tableFloat, 0, rowIds), [k, ct.h, ct.w]);
}

/**
 * A tile or zero-noise span pattern applied to an (n, c, h, w) float32
 * activation by ops.mulTableWindows, together with the ReLU after it (relu)
 * or the residual sum it enters (base + masked x): the same draws from gen,
 * in the same order, and the same multipliers as rawMask() + multipliersOf(),
 * without materialising the mask. Placement r of example/channel a is a
 * window of the table; the per-example rescale numel / sum comes from the
 * window-sum table; examples that are all zero (the guard) or lose the
 * schedule's coin read the ones window at scale 1.
 */
function fusedCanvasMultiply(
  p: TilePattern | SpanPattern,
  x: Tensor,
  shape: MaskShape,
  gen: Generator,
  cache: CanvasTensorCache,
  probability: number,
  then: { relu?: boolean; base?: Tensor },
): Tensor {
  const { n, c, h, w } = shape;
  const ct = cache.get(p, shape, x.device);
  const perExample = p.shareC ? 1 : c;
  const r = ops.randint(0, ct.positions, [n * perExample], gen, x.device);
  const sums = ops.sum(ops.reshape(ops.index(ct.sums, [r]), [n, perExample]), 1);
  let factor = ops.mul(ops.reciprocal(ct.canAllZero ? ops.clamp(sums, 1) : sums), perExample * h * w);
  let off: Tensor | null = ct.canAllZero ? ops.eq(sums, 0) : null;
  if (probability < 1) {
    const lose = ops.ge(ops.reshape(ops.rand([n, 1, 1, 1], gen, 'float32', x.device), [n]), probability);
    off = off ? ops.logicalOr(off, lose) : lose;
  }
  let index = ops.index(ct.start, [r]);
  if (off) {
    factor = ops.where(off, 1, factor);
    const offPerIndex = perExample > 1 ? ops.reshape(ops.expand(ops.reshape(off, [n, 1]), [n, perExample]), [n * perExample]) : off;
    index = ops.maskedFill(index, offPerIndex, ct.onesStart);
  }
  // Canvases hold only 0 and 1 (and the ones window): a binary table.
  return ops.mulTableWindows(x, ct.table, index, factor, h * w, { ...then, binary: true });
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** Whether fusedCanvasMultiply() covers this pattern on this activation. */
const fusable = (p: Pattern, x: Tensor): p is TilePattern | SpanPattern =>
  x.rank === 4 && x.dtype === 'float32' && (p.kind === 'tile' || (p.kind === 'span' && p.noise !== 'gaussian'));

/**
 * Canvas tensors by (pattern structure, map size, device), least recently used
 * out first; evicted entries are freed. A strength ramp that scales sizes
 * visits a few scaled patterns, each uploaded once.
 */
export class CanvasTensorCache {
  private readonly entries = new Map<string, CanvasTensors>();
  private blockFloats = 0;
  /**
   * limit: canvases kept (least recently used out first, freed);
   * blockBudget: floats of whole-window tables kept in all (0: always rows).
   */
  constructor(
    readonly limit = 256,
    readonly blockBudget = BLOCK_BUDGET,
  ) {}

  get(p: TilePattern | SpanPattern, shape: MaskShape, device: string): CanvasTensors {
    const key = JSON.stringify(
      p.kind === 'tile'
        ? ['tile', p.size, p.stride, p.repeat, p.rotate, p.shearX, p.shearY, shape.h, shape.w, device]
        : ['span', p.size, p.stride, p.repeat, shape.h, device],
    );
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const cv = patternCanvas(p, shape);
    // Reserve room for the shareC copy too.
    const cost = 2 * cv.height * cv.width * shape.h * shape.w;
    const useBlocks = this.blockFloats + cost <= this.blockBudget;
    const entry = uploadCanvas(cv, shape.h, shape.w, device, useBlocks);
    if (useBlocks) this.blockFloats += cost;
    this.entries.set(key, entry);
    if (this.entries.size > this.limit) {
      const [oldKey, old] = this.entries.entries().next().value as [string, CanvasTensors];
      this.entries.delete(oldKey);
      this.release(old);
    }
    return entry;
  }
  /** Number of cached canvases. */
  get size(): number {
    return this.entries.size;
  }
  /** Frees every cached tensor. */
  clear(): void {
    for (const e of this.entries.values()) this.release(e);
    this.entries.clear();
  }
  private release(e: CanvasTensors): void {
    if (e.blocks) this.blockFloats -= 2 * e.blocks.size;
    freeEntry(e);
  }
}

function freeEntry(e: CanvasTensors): void {
  for (const t of [e.table, e.tableFloat, e.start, e.rowOffsets, e.blocks, e.scaledBlocks, e.sums]) t?.dispose();
}

/** The canvases every layer shares unless given its own cache: equal patterns at many slots are uploaded once. */
const sharedCache = new CanvasTensorCache();

/** Frees the shared canvas cache (layers rebuild what they need on their next step). */
export function clearCanvasCache(): void {
  sharedCache.clear();
}

export interface MaskTensorOptions {
  /** Schedule strength in [0, 1] (default 1): the pattern is scaled with scalePattern() first. */
  strength?: number;
  /** multiplierTensor only: each example gets its multipliers with this probability, else ones (default 1). */
  probability?: number;
  /** Device of the masks (default: the engine's default device). */
  device?: string;
  /** Where canvas tensors are kept (default: the module-wide cache). */
  cache?: CanvasTensorCache;
}

export interface PatternDropoutOptions {
  /** Where this layer keeps its canvases (default: the module-wide cache shared by all layers). */
  cache?: CanvasTensorCache;
}

/**
 * A sampled mask and what its multipliers need. Binary masks are bool where
 * they come from a comparison (then the multipliers are one `where`), float32
 * where they come from a canvas; either is broadcastable to (n, c, h, w).
 */
interface RawMask {
  mask: Tensor;
  /** 'rescale': per-example numel/sum with the guard; a fixed factor (droppath); 'none': as is (gaussian spans). */
  scaling: 'rescale' | { factor: number } | 'none';
  /** Per-example sums of the mask over its own dims, (n,) float32, when known without a reduction. */
  sums?: Tensor;
  /** False when no example can be all zeros (the guard is skipped). */
  canAllZero: boolean;
  /** The rescaled multipliers directly, when cheaper than from the mask (shareC tiles: a pre-scaled table). */
  scaled?: () => Tensor;
}

function checkRate(kind: string, rate: number): void {
  if (!(rate >= 0 && rate < 1)) throw new RangeError(`${kind} rate must be in [0, 1), got ${rate}`);
}

/** Bool keep mask: uniform >= rate. */
const keepOf = (shape: readonly number[], rate: number, gen: Generator, device: string): Tensor =>
  ops.ge(ops.rand(shape, gen, 'float32', device), rate);

function rawMask(p: Pattern, s: MaskShape, gen: Generator, device: string, cache: CanvasTensorCache): RawMask | null {
  const { n, c, h, w } = s;
  switch (p.kind) {
    case 'none':
      return null;
    case 'dropout':
      checkRate('dropout', p.rate);
      if (p.rate === 0) return null;
      return { mask: keepOf([n, c, h, w], p.rate, gen, device), scaling: 'rescale', canAllZero: true };
    case 'spatial':
    case 'variational':
      checkRate(p.kind, p.rate);
      if (p.rate === 0) return null;
      return { mask: keepOf([n, c, 1, 1], p.rate, gen, device), scaling: 'rescale', canAllZero: true };
    case 'droppath':
      checkRate('droppath', p.rate);
      if (p.rate === 0) return null;
      return { mask: keepOf([n, 1, 1, 1], p.rate, gen, device), scaling: { factor: 1 / (1 - p.rate) }, canAllZero: true };
    case 'dropblock': {
      const { bh, bw, gamma } = dropBlockParams(p, h, w);
      if (gamma === 0) return null;
      const seeds = ops.lt(ops.rand([n, c, h - bh + 1, w - bw + 1], gen, 'float32', device), gamma);
      if (bh === 1 && bw === 1) return { mask: ops.logicalNot(seeds), scaling: 'rescale', canAllZero: true };
      // Zero padding by (b - 1) on both sides and a stride-1 max-pool of size b:
      // output (y, x) sees the seeds with top-left in [y - bh + 1, y] x [x - bw + 1, x].
      const dropped = ops.maxPool2d(ops.pad(ops.to(seeds, 'float32'), [bw - 1, bw - 1, bh - 1, bh - 1]), [bh, bw], { stride: 1 });
      return { mask: ops.eq(dropped, 0), scaling: 'rescale', canAllZero: true };
    }
    case 'tile':
    case 'span': {
      const ct = cache.get(p, s, device);
      const perExample = p.shareC ? 1 : c;
      const r = ops.randint(0, ct.positions, [n * perExample], gen, device);
      const maskOf = (): Tensor => ops.reshape(windowsAt(ct, r, ct.blocks), [n, perExample, h, w]);
      if (p.kind === 'span' && p.noise === 'gaussian') {
        const sigma = gaussianSpanStd(ct.dropFraction);
        if (sigma === 0) return null; // spans cover everything: all ones, as the zero variant's guard
        // 1 on kept positions, 1 + sigma * N(0, 1) on the spans: 1 + (mask - 1) * (-sigma z),
        // clipped to [0, 2] as gaussianSpanMultiplier() (kept positions are 1, untouched by the clip).
        const noise = ops.mul(ops.randn([n, perExample, h, w], gen, 'float32', device), -sigma);
        return { mask: ops.clamp(ops.add(ops.mul(ops.sub(maskOf(), 1), noise), 1), 0, 2), scaling: 'none', canAllZero: false };
      }
      if (p.shareC && ct.blocks) {
        // One window per example: its rescale factor and guard are the window's own, precomputed.
        let mask: Tensor | null = null;
        return {
          get mask(): Tensor {
            return (mask ??= maskOf());
          },
          scaling: 'rescale',
          canAllZero: ct.canAllZero,
          scaled: () => ops.reshape(windowsAt(ct, r, scaledBlocksOf(ct)), [n, 1, h, w]),
        };
      }
      const sums = ops.sum(ops.reshape(ops.index(ct.sums, [r]), [n, perExample]), 1);
      return { mask: maskOf(), scaling: 'rescale', sums, canAllZero: ct.canAllZero };
    }
    default: {
      const never: never = p;
      throw new Error(`unknown pattern kind ${JSON.stringify((never as { kind: unknown }).kind)}`);
    }
  }
}

/**
 * The multipliers of a raw mask: per-example numel/sum with the all-zero
 * guard, or a fixed factor; examples that lose the schedule's coin (one
 * uniform draw each, after the mask) get ones.
 */
function multipliersOf(raw: RawMask, probability: number, gen: Generator): Tensor {
  const m = scaledOf(raw);
  if (probability >= 1) return m;
  const on = ops.lt(ops.rand([m.shape[0], 1, 1, 1], gen, 'float32', m.device), probability);
  return ops.where(on, m, 1);
}

function scaledOf(raw: RawMask): Tensor {
  if (raw.scaled && raw.scaling === 'rescale') return raw.scaled();
  const { mask, scaling } = raw;
  const bool = mask.dtype === 'bool';
  if (scaling === 'none') return bool ? ops.to(mask, 'float32') : mask;
  if (typeof scaling === 'object') return bool ? ops.where(mask, scaling.factor, 0) : ops.mul(mask, scaling.factor);
  const [n, ...rest] = mask.shape;
  const per = rest.reduce((a, b) => a * b, 1);
  const sums = raw.sums ?? ops.to(ops.sum(mask, [1, 2, 3]), 'float32');
  const s = ops.reshape(sums, [n, 1, 1, 1]);
  if (!raw.canAllZero) {
    const factor = ops.mul(ops.reciprocal(s), per);
    return bool ? ops.where(mask, factor, 0) : ops.mul(mask, factor);
  }
  // numel / max(sum, 1): the max only matters where sum is 0, and there the
  // mask is all zeros, which the guard turns into all ones.
  const factor = ops.mul(ops.reciprocal(ops.clamp(s, 1)), per);
  const guard = ops.eq(s, 0);
  if (bool) return ops.where(mask, factor, ops.to(guard, 'float32'));
  return ops.add(ops.mul(mask, factor), ops.to(guard, 'float32'));
}

/**
 * Keep masks of `pattern` for a batch of this shape, drawn from gen: float32,
 * broadcastable to (n, c, h, w) (e.g. (n, c, 1, 1) for spatial, (n, 1, h, w)
 * for a shareC tile); gaussian spans hold their noise. The engine twin of
 * sampleMasks(); same distribution, not the same numbers.
 */
export function maskTensor(pattern: Pattern, shape: MaskShape, gen: Generator, opts: MaskTensorOptions = {}): Tensor {
  return tidy(() => {
    const p = effectivePattern(pattern, opts.strength);
    const device = opts.device ?? getDefaultDevice();
    const raw = rawMask(p, shape, gen, device, opts.cache ?? sharedCache);
    if (!raw) return ops.ones([shape.n, 1, 1, 1], 'float32', device);
    return raw.mask.dtype === 'bool' ? ops.to(raw.mask, 'float32') : raw.mask;
  });
}

/**
 * What a training step multiplies a (n, c, h, w) batch by (broadcastable,
 * float32): the masks with their per-example rescaling and all-zero guard
 * (maskMultipliers() in src/patterns/masks.ts), or null when the pattern is
 * the identity (none, rate 0, gamma 0).
 */
export function multiplierTensor(pattern: Pattern, shape: MaskShape, gen: Generator, opts: MaskTensorOptions = {}): Tensor | null {
  return tidy(() => {
    const p = effectivePattern(pattern, opts.strength);
    const device = opts.device ?? getDefaultDevice();
    const q = opts.probability ?? 1;
    if (!(q >= 0 && q <= 1)) throw new RangeError(`probability must be in [0, 1], got ${q}`);
    if (q === 0) return null;
    const raw = rawMask(p, shape, gen, device, opts.cache ?? sharedCache);
    return raw ? multipliersOf(raw, q, gen) : null;
  });
}

/**
 * The MaskShape of an activation: (N, C, H, W) as is; (N, T, C) sequences as
 * (n, C, T, 1); (N, C) as (n, C, 1, 1).
 */
export function maskShapeOf(x: Tensor): MaskShape {
  const s = x.shape;
  if (s.length === 4) return { n: s[0], c: s[1], h: s[2], w: s[3] };
  if (s.length === 3) return { n: s[0], c: s[2], h: s[1], w: 1 };
  if (s.length === 2) return { n: s[0], c: s[1], h: 1, w: 1 };
  throw new RangeError(`pattern dropout: expected an (N, C, H, W), (N, T, C) or (N, C) activation, got shape [${s}]`);
}

/** Multipliers in MaskShape layout (broadcastable (n, c', h', w')) brought to the activation's layout. */
function toActivationLayout(m: Tensor, rank: number): Tensor {
  if (rank === 4) return m;
  const [n, c, h] = m.shape;
  if (rank === 3) return ops.transpose(ops.reshape(m, [n, c, h]), 1, 2); // (n, c, T) -> (n, T, c)
  return ops.reshape(m, [n, c]);
}

function describe(p: Pattern): string {
  const { kind, ...rest } = p;
  const parts = Object.entries(rest).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('x') : String(v)}`);
  return `${kind}(${parts.join(', ')})`;
}

/**
 * A pattern at a slot: masks drawn from ctx.generator at every training step,
 * rescaled per example, scheduled by ctx.progress. Applied at a `skip` slot it
 * is the same op. A tile's `residual` token reaches the skip path two ways
 * (docs/patterns.md, "What `residual` masks"): at a block's last conv slot
 * through the `X.skip` slot (resolution rule 5), at its other conv slots by
 * the model applying this dropout once more to the shortcut's input.
 */
export class PatternDropout implements SlotDropout {
  readonly description: string;
  /** A tile's `residual` token (SlotDropout.residual): models also apply it to the block's skip path. */
  readonly residual: boolean;
  private readonly cache: CanvasTensorCache;

  constructor(
    readonly pattern: Pattern,
    readonly schedule: Schedule = { kind: 'constant' },
    options: PatternDropoutOptions = {},
  ) {
    this.cache = options.cache ?? sharedCache;
    this.residual = pattern.kind === 'tile' && pattern.residual;
    this.description = schedule.kind === 'constant' ? describe(pattern) : `${describe(pattern)} ${JSON.stringify(schedule)}`;
  }

  /**
   * x * multipliers in training, with the schedule's factors at ctx.progress
   * (scheduleFactor(schedule, progress, kind)): strength s < 1 samples
   * scalePattern(pattern, s); probability q < 1 gives each example its mask
   * with probability q and leaves the others unchanged.
   */
  apply(x: Tensor, ctx: DropoutContext, _slot: SlotInfo): Tensor {
    return this.run(x, ctx, {});
  }

  /** relu(apply(x)) in one pass where the pattern allows (tile, zero spans on (N, C, H, W)). */
  applyRelu(x: Tensor, ctx: DropoutContext, _slot: SlotInfo): Tensor {
    return this.run(x, ctx, { relu: true });
  }

  /** base + apply(x) in one pass where the pattern allows (a residual sum). */
  applyAdd(x: Tensor, base: Tensor, ctx: DropoutContext, _slot: SlotInfo): Tensor {
    return this.run(x, ctx, { base });
  }

  private run(x: Tensor, ctx: DropoutContext, then: { relu?: boolean; base?: Tensor }): Tensor {
    const finish = (y: Tensor): Tensor => (then.relu ? ops.relu(y) : then.base ? ops.add(then.base, y) : y);
    if (this.pattern.kind === 'none') return finish(x);
    const { strength, probability } = scheduleFactor(this.schedule, ctx.progress, this.pattern.kind);
    if (!(strength > 0) || !(probability > 0)) return finish(x);
    const shape = maskShapeOf(x);
    return tidy(() => {
      const p = effectivePattern(this.pattern, strength);
      const baseFits = !then.base || (then.base.dtype === 'float32' && sameShape(then.base.shape, x.shape));
      if (fusable(p, x) && baseFits) return fusedCanvasMultiply(p, x, shape, ctx.generator, this.cache, probability, then);
      const raw = rawMask(p, shape, ctx.generator, x.device, this.cache);
      if (!raw) return finish(x);
      const m = toActivationLayout(multipliersOf(raw, probability, ctx.generator), x.rank);
      return finish(ops.mul(x, x.dtype === 'float32' ? m : ops.to(m, x.dtype)));
    });
  }

  /**
   * Frees the canvases of this layer's own cache (options.cache); a layer on
   * the shared cache frees nothing here (see clearCanvasCache()).
   */
  dispose(): void {
    if (this.cache !== sharedCache) this.cache.clear();
  }
}

/** The SlotDropout of a pattern (with an optional schedule). */
export function patternDropout(pattern: Pattern, schedule?: Schedule, options?: PatternDropoutOptions): PatternDropout {
  return new PatternDropout(pattern, schedule, options);
}
