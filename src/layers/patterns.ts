// The mask engine: every pattern kind as a SlotDropout on the tensor engine
// (docs/architecture.md §4). The semantics are src/patterns/masks.ts's (the reference,
// pure TS; docs/patterns.md "Mask semantics"); this file builds the same
// masks for a whole batch with a handful of tensor ops per slot per step and
// no per-element JS:
//
// - tile / span: the canvas (src/patterns/canvas.ts) is turned once per
//   (pattern structure, map size, device) into one table of
//   src/patterns/canvas-tables.ts (built there, uploaded here): every canvas
//   row a window can show, as bytes, and the window sums. A step draws one
//   uniform placement per example (and per channel unless shareC) with
//   randint; the rescale factor comes from the window sums (no reduction over
//   the mask), and ops.mulTableWindows reads the windows from the table;
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
// Paths (docs/patterns.md, "The mask engine"), all reading the one table:
// - fused: tile and zero-noise span masks on (N, C, H, W) float32 maps (or
//   bfloat16 ones under autocast: multiplied in float32, rounded once) are
//   never materialised: ops.mulTableWindows (native/fused.cc) multiplies each
//   (example, channel) row by its window and the per-example factor, fused
//   with the ReLU after a batch-norm slot (applyRelu) or the residual sum a
//   skip slot enters (applyAdd), so the mask costs a few small tensor ops per
//   slot (bench/masks). Off the CPU the same op runs as ATen ops;
// - fallback: the same kinds elsewhere (sequence and (N, C) slots, other
//   dtypes, a residual of another shape or type, multiplierTensor, `fused: false`)
//   get their multipliers from the same draws by the same op applied to ones,
//   then one multiply; maskTensor reads the 0/1 windows so, and gaussian
//   spans apply the windows to their noise (rawMask()).
// Every full-size tensor a step creates costs about as much as the multiply
// itself, so the unfused paths are arranged to create few.
import { getDefaultDevice, ops, tensor, tidy, type Generator, type Tensor } from '../engine/index.js';
import type { DropoutContext, SlotDropout, SlotInfo } from '../models/slots.js';
import { canvasTables } from '../patterns/canvas-tables.js';
import { dropBlockParams, effectivePattern, gaussianSpanStd, patternCanvas } from '../patterns/masks.js';
import { scheduleFactor } from '../patterns/schedule.js';
import type { MaskShape, Pattern, Schedule, SpanPattern, TilePattern } from '../patterns/types.js';

/** A canvas on a device: the tables of src/patterns/canvas-tables.ts (canvasTables()), uploaded. */
interface CanvasTensors {
  /** height * width: the number of placements (r = oy * width + ox). */
  positions: number;
  /** The window-rows table, (onesStart + h, w) uint8: every window any path reads. */
  table: Tensor;
  /** (positions) int64: the first table row of each placement's window. */
  start: Tensor;
  /** The first row of the ones window. */
  onesStart: number;
  /** (positions) float32: the number of ones in the window at each placement. */
  sums: Tensor;
  /** (positions) float32: h * w / sum, 1 for an all-zero window: a shareC example's rescale factor. */
  scale: Tensor;
  /** Whether some window is all zeros (only then is the all-zero guard computed). */
  canAllZero: boolean;
  /** Fraction of zeros in the canvas (the expected drop fraction; span noise). */
  dropFraction: number;
}

function uploadCanvas(p: TilePattern | SpanPattern, shape: MaskShape, device: string): CanvasTensors {
  const { h, w } = shape;
  const t = canvasTables(patternCanvas(p, shape), h, w);
  return {
    positions: t.start.length,
    table: tensor(t.rows, [t.onesStart + h, w], 'uint8', device).keep(),
    start: tensor(t.start, [t.start.length], 'int64', device).keep(),
    onesStart: t.onesStart,
    sums: tensor(t.sums, [t.start.length], 'float32', device).keep(),
    scale: tensor(t.scale, [t.start.length], 'float32', device).keep(),
    canAllZero: t.canAllZero,
    dropFraction: t.dropFraction,
  };
}

/** One placement per example, or per (example, channel) unless shareC: (n * perExample) int64, r = oy * width + ox. */
const drawPlacements = (ct: CanvasTensors, n: number, perExample: number, gen: Generator, device: string): Tensor =>
  ops.randint(0, ct.positions, [n * perExample], gen, device);

/**
 * The windows at `index` (first table rows) times a factor per example, as
 * (n, perExample, h, w) float32: ops.mulTableWindows applied to ones of that
 * shape (the cache's, read only), so the gather reads the same uint8 table,
 * the same way, as the fused path, and writes the multipliers once.
 */
function readWindows(ct: CanvasTensors, index: Tensor, factor: Tensor, shape: MaskShape, perExample: number, cache: CanvasTensorCache): Tensor {
  const { n, h, w } = shape;
  return ops.mulTableWindows(cache.ones([n, perExample, h, w], index.device), ct.table, index, factor, h * w);
}

/** The 0/1 windows at placements r as (n, perExample, h, w) float32 (maskTensor). */
function rawWindows(ct: CanvasTensors, r: Tensor, shape: MaskShape, perExample: number, cache: CanvasTensorCache): Tensor {
  return readWindows(ct, ops.indexSelect(ct.start, 0, r), cache.ones([shape.n], r.device), shape, perExample, cache);
}

/**
 * One step of a tile or zero-noise span pattern: the draws (a placement per
 * example, per channel unless shareC; then, with probability < 1, one coin
 * per example, the order rawMask() + multipliersOf() draw in) and what
 * ops.mulTableWindows needs to apply them: the table window of each
 * placement and the per-example rescale numel / sum, taken from the
 * window-sum table. Examples that are all zero (the guard) or lose the coin
 * read the ones window at scale 1.
 */
function canvasStep(
  p: TilePattern | SpanPattern,
  shape: MaskShape,
  gen: Generator,
  device: string,
  cache: CanvasTensorCache,
  probability: number,
): { ct: CanvasTensors; index: Tensor; factor: Tensor; perExample: number } {
  const { n, c, h, w } = shape;
  const ct = cache.get(p, shape, device);
  const perExample = p.shareC ? 1 : c;
  const r = drawPlacements(ct, n, perExample, gen, device);
  let factor: Tensor;
  let off: Tensor | null = null;
  if (perExample === 1) {
    // One window per example: its rescale factor is the window's own, precomputed.
    factor = ops.indexSelect(ct.scale, 0, r);
    if (ct.canAllZero) off = ops.eq(ops.indexSelect(ct.sums, 0, r), 0);
  } else {
    const sums = ops.sum(ops.reshape(ops.indexSelect(ct.sums, 0, r), [n, perExample]), 1);
    factor = ops.mul(ops.reciprocal(ct.canAllZero ? ops.clamp(sums, 1) : sums), perExample * h * w);
    if (ct.canAllZero) off = ops.eq(sums, 0);
  }
  if (probability < 1) {
    const lose = ops.ge(ops.reshape(ops.rand([n, 1, 1, 1], gen, 'float32', device), [n]), probability);
    off = off ? ops.logicalOr(off, lose) : lose;
  }
  let index = ops.indexSelect(ct.start, 0, r);
  if (off) {
    factor = ops.where(off, 1, factor);
    const offPerIndex = perExample > 1 ? ops.reshape(ops.expand(ops.reshape(off, [n, 1]), [n, perExample]), [n * perExample]) : off;
    index = ops.maskedFill(index, offPerIndex, ct.onesStart);
  }
  return { ct, index, factor, perExample };
}

/**
 * A tile or zero-noise span pattern applied to an (n, c, h, w) float32
 * activation by ops.mulTableWindows, together with the ReLU after it (relu)
 * or the residual sum it enters (base + masked x): the draws and multipliers
 * of canvasStep(), as the fallback (canvasMultipliers()), without
 * materialising the mask.
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
  const { ct, index, factor } = canvasStep(p, shape, gen, x.device, cache, probability);
  // Canvases hold only 0 and 1 (and the ones window): a binary table.
  return ops.mulTableWindows(x, ct.table, index, factor, shape.h * shape.w, { ...then, binary: true });
}

/** The multipliers of a tile or zero-noise span pattern, (n, 1 or c, h, w) float32: canvasStep()'s windows, read out. */
function canvasMultipliers(p: TilePattern | SpanPattern, shape: MaskShape, gen: Generator, device: string, cache: CanvasTensorCache, probability: number): Tensor {
  const { ct, index, factor, perExample } = canvasStep(p, shape, gen, device, cache, probability);
  return readWindows(ct, index, factor, shape, perExample, cache);
}

/** Tile and zero-noise spans: the patterns canvasStep() draws (gaussian spans need the raw windows for their noise). */
const isZeroCanvas = (p: Pattern): p is TilePattern | SpanPattern => p.kind === 'tile' || (p.kind === 'span' && p.noise !== 'gaussian');

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** Whether fusedCanvasMultiply() covers this pattern on this activation. */
const fusable = (p: Pattern, x: Tensor): p is TilePattern | SpanPattern => x.rank === 4 && (x.dtype === 'float32' || x.dtype === 'bfloat16') && isZeroCanvas(p);

/**
 * Canvas tensors by (pattern structure, map size, device), least recently used
 * out first; evicted entries are freed. A strength ramp that scales sizes
 * visits a few scaled patterns, each uploaded once.
 */
export class CanvasTensorCache {
  private readonly entries = new Map<string, CanvasTensors>();
  /** Ones by (shape, device), one per shape the fallback has met (readWindows() reads them, nobody writes them). */
  private readonly onesByShape = new Map<string, Tensor>();
  /** limit: canvases kept (least recently used out first, freed). */
  constructor(readonly limit = 256) {}

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
    const entry = uploadCanvas(p, shape, device);
    this.entries.set(key, entry);
    if (this.entries.size > this.limit) {
      const [oldKey, old] = this.entries.entries().next().value as [string, CanvasTensors];
      this.entries.delete(oldKey);
      freeEntry(old);
    }
    return entry;
  }
  /**
   * Float32 ones of this shape on `device`, kept until clear(): the fallback
   * reads its windows through them every step without filling a tensor.
   * Callers must not write to or dispose them.
   */
  ones(shape: readonly number[], device: string): Tensor {
    const key = `${shape.join('x')}@${device}`;
    let t = this.onesByShape.get(key);
    if (!t) {
      t = ops.ones(shape, 'float32', device).keep();
      this.onesByShape.set(key, t);
    }
    return t;
  }
  /** Number of cached canvases. */
  get size(): number {
    return this.entries.size;
  }
  /** Frees every cached tensor. */
  clear(): void {
    for (const e of this.entries.values()) freeEntry(e);
    this.entries.clear();
    for (const t of this.onesByShape.values()) t.dispose();
    this.onesByShape.clear();
  }
}

function freeEntry(e: CanvasTensors): void {
  for (const t of [e.table, e.start, e.sums, e.scale]) t.dispose();
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
  /**
   * false: never the fused kernel on the activation, always the fallback
   * (multipliers, then a multiply), as for sequence slots; the same draws and
   * multipliers. For bench:masks and the tests (default true).
   */
  fused?: boolean;
}

/**
 * A sampled mask and what its multipliers need. Binary masks are bool where
 * they come from a comparison (then the multipliers are one `where`), float32
 * where they come from a canvas; either is broadcastable to (n, c, h, w).
 * Tile and zero-noise span multipliers do not pass through here
 * (canvasMultipliers(): their rescale factors come from the window sums).
 */
interface RawMask {
  mask: Tensor;
  /** 'rescale': per-example numel/sum with the guard; a fixed factor (droppath); 'none': as is (gaussian spans). */
  scaling: 'rescale' | { factor: number } | 'none';
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
      return { mask: keepOf([n, c, h, w], p.rate, gen, device), scaling: 'rescale' };
    case 'spatial':
    case 'variational':
      checkRate(p.kind, p.rate);
      if (p.rate === 0) return null;
      return { mask: keepOf([n, c, 1, 1], p.rate, gen, device), scaling: 'rescale' };
    case 'droppath':
      checkRate('droppath', p.rate);
      if (p.rate === 0) return null;
      return { mask: keepOf([n, 1, 1, 1], p.rate, gen, device), scaling: { factor: 1 / (1 - p.rate) } };
    case 'dropblock': {
      const { bh, bw, gamma } = dropBlockParams(p, h, w);
      if (gamma === 0) return null;
      const seeds = ops.lt(ops.rand([n, c, h - bh + 1, w - bw + 1], gen, 'float32', device), gamma);
      if (bh === 1 && bw === 1) return { mask: ops.logicalNot(seeds), scaling: 'rescale' };
      // Zero padding by (b - 1) on both sides and a stride-1 max-pool of size b:
      // output (y, x) sees the seeds with top-left in [y - bh + 1, y] x [x - bw + 1, x].
      const dropped = ops.maxPool2d(ops.pad(ops.to(seeds, 'float32'), [bw - 1, bw - 1, bh - 1, bh - 1]), [bh, bw], { stride: 1 });
      return { mask: ops.eq(dropped, 0), scaling: 'rescale' };
    }
    case 'tile':
    case 'span': {
      const ct = cache.get(p, s, device);
      const perExample = p.shareC ? 1 : c;
      const r = drawPlacements(ct, n, perExample, gen, device);
      if (p.kind === 'span' && p.noise === 'gaussian') {
        const sigma = gaussianSpanStd(ct.dropFraction);
        if (sigma === 0) return null; // spans cover everything: all ones, as the zero variant's guard
        // 1 on kept positions, 1 + sigma * N(0, 1) on the spans, clipped to [0, 2] as
        // gaussianSpanMultiplier() (kept positions are 1, untouched by the clip):
        // 1 + (sigma z - sigma z * W) for the 0/1 windows W, the bracket in one
        // table read (base sigma z, scale -1), exactly 0 where W is 1. Five
        // full-size tensors; the windows are never materialised.
        const noise = ops.mul(ops.randn([n, perExample, h, w], gen, 'float32', device), sigma);
        const index = ops.indexSelect(ct.start, 0, r);
        const spans = ops.mulTableWindows(noise, ct.table, index, ops.full([n], -1, 'float32', device), h * w, { base: noise, binary: true });
        return { mask: ops.clamp(ops.add(spans, 1), 0, 2), scaling: 'none' };
      }
      return { mask: rawWindows(ct, r, s, perExample, cache), scaling: 'rescale' };
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

/**
 * A step's multipliers in MaskShape layout (broadcastable (n, c', h', w')
 * float32), or null for the identity: tile and zero-noise spans from their
 * canvas windows, every other kind from its raw mask.
 */
function stepMultipliers(p: Pattern, shape: MaskShape, gen: Generator, device: string, cache: CanvasTensorCache, probability: number): Tensor | null {
  if (isZeroCanvas(p)) return canvasMultipliers(p, shape, gen, device, cache, probability);
  const raw = rawMask(p, shape, gen, device, cache);
  return raw ? multipliersOf(raw, probability, gen) : null;
}

function scaledOf(raw: RawMask): Tensor {
  const { mask, scaling } = raw;
  const bool = mask.dtype === 'bool';
  if (scaling === 'none') return bool ? ops.to(mask, 'float32') : mask;
  if (typeof scaling === 'object') return bool ? ops.where(mask, scaling.factor, 0) : ops.mul(mask, scaling.factor);
  const [n, ...rest] = mask.shape;
  const per = rest.reduce((a, b) => a * b, 1);
  const s = ops.reshape(ops.to(ops.sum(mask, [1, 2, 3]), 'float32'), [n, 1, 1, 1]);
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
    return stepMultipliers(p, shape, gen, device, opts.cache ?? sharedCache, q);
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
  private readonly fused: boolean;

  constructor(
    readonly pattern: Pattern,
    readonly schedule: Schedule = { kind: 'constant' },
    options: PatternDropoutOptions = {},
  ) {
    this.cache = options.cache ?? sharedCache;
    this.fused = options.fused ?? true;
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
      const baseFits = !then.base || (then.base.dtype === x.dtype && sameShape(then.base.shape, x.shape));
      if (this.fused && fusable(p, x) && baseFits) return fusedCanvasMultiply(p, x, shape, ctx.generator, this.cache, probability, then);
      const multipliers = stepMultipliers(p, shape, ctx.generator, x.device, this.cache, probability);
      if (!multipliers) return finish(x);
      const m = toActivationLayout(multipliers, x.rank);
      // The multipliers stay float32: a bfloat16 activation (autocast) is multiplied in
      // float32 by type promotion, so 1 / keep and the noise are never rounded to its precision.
      return finish(ops.mul(x, m));
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
