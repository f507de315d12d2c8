// Tensor operations. Each is a typed call into one ATen op (see native/ops.cc);
// errors come back as exceptions naming the op and the argument shapes.
import { native, type DType, type Reduction } from './native.js';
import { Tensor, getDefaultDevice, type Shape } from './tensor.js';
import { Generator } from './random.js';

type TN = Tensor | number;
const h = (x: TN): import('./native.js').NativeTensor | number => (typeof x === 'number' ? x : x.handle);
const w = (x: import('./native.js').NativeTensor): Tensor => new Tensor(x);
const arr = (s: Shape): number[] => [...s];
const pair = (v: number | readonly [number, number]): number[] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

// ------------------------------------------------------------------ creation
export const zeros = (shape: Shape, dtype: DType = 'float32', device = getDefaultDevice()): Tensor =>
  w(native.zeros(arr(shape), dtype, device));
export const ones = (shape: Shape, dtype: DType = 'float32', device = getDefaultDevice()): Tensor =>
  w(native.ones(arr(shape), dtype, device));
export const full = (shape: Shape, value: number, dtype: DType = 'float32', device = getDefaultDevice()): Tensor =>
  w(native.full(arr(shape), value, dtype, device));
export const arange = (start: number, end: number, step = 1, dtype: DType = 'float32', device = getDefaultDevice()): Tensor =>
  w(native.arange(start, end, step, dtype, device));
export const eye = (n: number, dtype: DType = 'float32', device = getDefaultDevice()): Tensor => w(native.eye(n, dtype, device));
export const zerosLike = (x: Tensor): Tensor => w(native.zeros(x.shape, x.dtype, x.device));
export const onesLike = (x: Tensor): Tensor => w(native.ones(x.shape, x.dtype, x.device));

// ------------------------------------------------------------------ random
// Random ops draw on the CPU from `gen` (the global generator when omitted)
// and then move to `device`, so a seed gives the same numbers on every device.
// A non-Generator (from untyped JS) must not silently fall back to the global generator.
const genHandle = (op: string, gen: Generator | undefined): Generator['handle'] | undefined => {
  if (gen === undefined || gen === null) return undefined;
  if (!(gen instanceof Generator)) throw new TypeError(`${op}: the generator argument must be a Generator`);
  return gen.handle;
};
const onDevice = (t: Tensor, device: string): Tensor => {
  if (device === 'cpu') return t;
  const moved = to(t, undefined, device);
  t.dispose();
  return moved;
};
export const rand = (shape: Shape, gen?: Generator, dtype: DType = 'float32', device = getDefaultDevice()): Tensor =>
  onDevice(w(native.rand(arr(shape), genHandle('rand', gen), dtype)), device);
export const randn = (shape: Shape, gen?: Generator, dtype: DType = 'float32', device = getDefaultDevice()): Tensor =>
  onDevice(w(native.randn(arr(shape), genHandle('randn', gen), dtype)), device);
/** Integers uniform in [low, high), int64. */
export const randint = (low: number, high: number, shape: Shape, gen?: Generator, device = getDefaultDevice()): Tensor =>
  onDevice(w(native.randint(low, high, arr(shape), genHandle('randint', gen))), device);
export const randperm = (n: number, gen?: Generator, device = getDefaultDevice()): Tensor =>
  onDevice(w(native.randperm(n, genHandle('randperm', gen))), device);
/** Bernoulli draws with per-element probabilities p (on p's device via CPU). */
export const bernoulli = (p: Tensor, gen?: Generator): Tensor => w(native.bernoulli(p.handle, genHandle('bernoulli', gen)));
/** Sets the global generator's seed (ops called without a Generator use it). */
export const manualSeed = (seed: number): void => native.manualSeed(seed);

// ------------------------------------------------------------------ elementwise
export const neg = (x: Tensor): Tensor => w(native.neg(x.handle));
export const exp = (x: Tensor): Tensor => w(native.exp(x.handle));
export const log = (x: Tensor): Tensor => w(native.log(x.handle));
export const log1p = (x: Tensor): Tensor => w(native.log1p(x.handle));
export const sqrt = (x: Tensor): Tensor => w(native.sqrt(x.handle));
export const rsqrt = (x: Tensor): Tensor => w(native.rsqrt(x.handle));
export const abs = (x: Tensor): Tensor => w(native.abs(x.handle));
export const sign = (x: Tensor): Tensor => w(native.sign(x.handle));
export const square = (x: Tensor): Tensor => w(native.square(x.handle));
export const reciprocal = (x: Tensor): Tensor => w(native.reciprocal(x.handle));
export const floor = (x: Tensor): Tensor => w(native.floor(x.handle));
export const ceil = (x: Tensor): Tensor => w(native.ceil(x.handle));
export const round = (x: Tensor): Tensor => w(native.round(x.handle));
export const sin = (x: Tensor): Tensor => w(native.sin(x.handle));
export const cos = (x: Tensor): Tensor => w(native.cos(x.handle));
export const erf = (x: Tensor): Tensor => w(native.erf(x.handle));
export const relu = (x: Tensor): Tensor => w(native.relu(x.handle));
export const silu = (x: Tensor): Tensor => w(native.silu(x.handle));
export const sigmoid = (x: Tensor): Tensor => w(native.sigmoid(x.handle));
export const tanh = (x: Tensor): Tensor => w(native.tanh(x.handle));
/** GELU; exact (erf) by default, the tanh approximation when asked. */
export const gelu = (x: Tensor, tanhApprox = false): Tensor => w(native.gelu(x.handle, tanhApprox));
export const leakyRelu = (x: Tensor, slope = 0.01): Tensor => w(native.leakyRelu(x.handle, slope));
export const logicalNot = (x: Tensor): Tensor => w(native.logicalNot(x.handle));
export const isnan = (x: Tensor): Tensor => w(native.isnan(x.handle));
export const isfinite = (x: Tensor): Tensor => w(native.isfinite(x.handle));
export const clamp = (x: Tensor, min?: number, max?: number): Tensor => w(native.clamp(x.handle, min, max));
export const contiguous = (x: Tensor): Tensor => w(native.contiguous(x.handle));
export const clone = (x: Tensor): Tensor => w(native.clone(x.handle));
/** A view that shares data but is cut from the autograd graph. */
export const detach = (x: Tensor): Tensor => w(native.detach(x.handle));

export const add = (a: Tensor, b: TN): Tensor => w(native.add(a.handle, h(b)));
export const sub = (a: Tensor, b: TN): Tensor => w(native.sub(a.handle, h(b)));
export const mul = (a: Tensor, b: TN): Tensor => w(native.mul(a.handle, h(b)));
export const div = (a: Tensor, b: TN): Tensor => w(native.div(a.handle, h(b)));
export const pow = (a: Tensor, b: TN): Tensor => w(native.pow(a.handle, h(b)));
export const remainder = (a: Tensor, b: TN): Tensor => w(native.remainder(a.handle, h(b)));
export const maximum = (a: Tensor, b: TN): Tensor => w(native.maximum(a.handle, h(b)));
export const minimum = (a: Tensor, b: TN): Tensor => w(native.minimum(a.handle, h(b)));
export const eq = (a: Tensor, b: TN): Tensor => w(native.eq(a.handle, h(b)));
export const ne = (a: Tensor, b: TN): Tensor => w(native.ne(a.handle, h(b)));
export const lt = (a: Tensor, b: TN): Tensor => w(native.lt(a.handle, h(b)));
export const le = (a: Tensor, b: TN): Tensor => w(native.le(a.handle, h(b)));
export const gt = (a: Tensor, b: TN): Tensor => w(native.gt(a.handle, h(b)));
export const ge = (a: Tensor, b: TN): Tensor => w(native.ge(a.handle, h(b)));
export const logicalAnd = (a: Tensor, b: Tensor): Tensor => w(native.logicalAnd(a.handle, b.handle));
export const logicalOr = (a: Tensor, b: Tensor): Tensor => w(native.logicalOr(a.handle, b.handle));
/** cond ? a : b, elementwise with broadcasting. */
export const where = (cond: Tensor, a: TN, b: TN): Tensor => w(native.where(cond.handle, h(a), h(b)));
export const maskedFill = (x: Tensor, mask: Tensor, value: number): Tensor => w(native.maskedFill(x.handle, mask.handle, value));
/** Converts dtype and/or device. */
export const to = (x: Tensor, dtype?: DType, device?: string): Tensor => w(native.to(x.handle, dtype ?? null, device));

// In-place updates (parameter loading, running statistics kept in TS).
export const copyInto = (dst: Tensor, src: Tensor): Tensor => (native.copy_(dst.handle, src.handle), dst);
export const fillInto = (dst: Tensor, value: number): Tensor => (native.fill_(dst.handle, value), dst);
export const scaleInPlace = (dst: Tensor, value: number): Tensor => (native.mulScalar_(dst.handle, value), dst);
/** dst += alpha * src */
export const addScaledInPlace = (dst: Tensor, src: Tensor, alpha: number): Tensor => (native.addScaled_(dst.handle, src.handle, alpha), dst);

// ------------------------------------------------------------------ linear algebra
export const matmul = (a: Tensor, b: Tensor): Tensor => w(native.matmul(a.handle, b.handle));
export const bmm = (a: Tensor, b: Tensor): Tensor => w(native.bmm(a.handle, b.handle));
/** x @ weight^T + bias, weight (out, in). */
export const linear = (x: Tensor, weight: Tensor, bias?: Tensor): Tensor => w(native.linear(x.handle, weight.handle, bias?.handle));

// ------------------------------------------------------------------ neural-network ops
export interface Conv2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  groups?: number;
}
/** 2-D convolution, NCHW; weight (out, in/groups, kh, kw). groups = in for depthwise. */
export const conv2d = (x: Tensor, weight: Tensor, bias?: Tensor, o: Conv2dOptions = {}): Tensor =>
  w(native.conv2d(x.handle, weight.handle, bias?.handle, pair(o.stride ?? 1), pair(o.padding ?? 0), pair(o.dilation ?? 1), o.groups ?? 1));

export interface BatchNormOptions {
  weight?: Tensor;
  bias?: Tensor;
  runningMean?: Tensor;
  runningVar?: Tensor;
  training: boolean;
  momentum?: number;
  eps?: number;
}
/** Batch norm over dim 1; in training it updates runningMean/runningVar in place. */
export const batchNorm = (x: Tensor, o: BatchNormOptions): Tensor =>
  w(native.batchNorm(x.handle, o.weight?.handle, o.bias?.handle, o.runningMean?.handle, o.runningVar?.handle, o.training, o.momentum ?? 0.1, o.eps ?? 1e-5));
export const layerNorm = (x: Tensor, normalizedShape: Shape, weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor =>
  w(native.layerNorm(x.handle, arr(normalizedShape), weight?.handle, bias?.handle, eps));
export const softmax = (x: Tensor, dim: number): Tensor => w(native.softmax(x.handle, dim));
export const logSoftmax = (x: Tensor, dim: number): Tensor => w(native.logSoftmax(x.handle, dim));
export interface CrossEntropyOptions {
  reduction?: Reduction;
  ignoreIndex?: number;
  labelSmoothing?: number;
}
/** Cross-entropy of logits (N, C[, ...]) against int64 class targets (N[, ...]). */
export const crossEntropy = (logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor =>
  w(native.crossEntropy(logits.handle, target.handle, o.reduction ?? 'mean', o.ignoreIndex ?? -100, o.labelSmoothing ?? 0));
/** Rows of weight (V, D) picked by int64 indices. */
export const embedding = (weight: Tensor, indices: Tensor): Tensor => w(native.embedding(weight.handle, indices.handle));
export interface Pool2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  ceilMode?: boolean;
}
export const maxPool2d = (x: Tensor, kernel: number | readonly [number, number], o: Pool2dOptions = {}): Tensor =>
  w(native.maxPool2d(x.handle, pair(kernel), pair(o.stride ?? kernel), pair(o.padding ?? 0), pair(o.dilation ?? 1), o.ceilMode ?? false));
export const avgPool2d = (x: Tensor, kernel: number | readonly [number, number], o: Pool2dOptions = {}): Tensor =>
  w(native.avgPool2d(x.handle, pair(kernel), pair(o.stride ?? kernel), pair(o.padding ?? 0), o.ceilMode ?? false, true));
export const adaptiveAvgPool2d = (x: Tensor, out: number | readonly [number, number]): Tensor =>
  w(native.adaptiveAvgPool2d(x.handle, pair(out)));
/** libtorch's dropout on the global generator (the pattern engine uses its own). */
export const dropout = (x: Tensor, p: number, training: boolean): Tensor => w(native.dropout(x.handle, p, training));
/** Sampling grid for 2-D affine maps theta (N, 2, 3) over an output of size [N, C, H, W]. */
export const affineGrid = (theta: Tensor, size: Shape, alignCorners = false): Tensor =>
  w(native.affineGrid(theta.handle, arr(size), alignCorners));
export type GridSampleMode = 'bilinear' | 'nearest' | 'bicubic';
export type GridSamplePadding = 'zeros' | 'border' | 'reflection';
export const gridSample = (x: Tensor, grid: Tensor, mode: GridSampleMode = 'bilinear', padding: GridSamplePadding = 'zeros', alignCorners = false): Tensor =>
  w(native.gridSample(x.handle, grid.handle, mode, padding, alignCorners));

// ------------------------------------------------------------------ reductions
/** One dim or several; undefined (reduce everything) becomes null for the addon. */
const dimList = (dims: number | readonly number[] | undefined): number[] | null =>
  dims === undefined ? null : typeof dims === 'number' ? [dims] : [...dims];
/** dims omitted: reduce everything. */
export const sum = (x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor =>
  w(native.sum(x.handle, dimList(dims), keepdim));
export const mean = (x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor =>
  w(native.mean(x.handle, dimList(dims), keepdim));
export const amax = (x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor =>
  w(native.amax(x.handle, dimList(dims), keepdim));
export const amin = (x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor =>
  w(native.amin(x.handle, dimList(dims), keepdim));
export const logsumexp = (x: Tensor, dims: number | readonly number[], keepdim = false): Tensor =>
  w(native.logsumexp(x.handle, dimList(dims) as number[], keepdim));
export const argmax = (x: Tensor, dim: number, keepdim = false): Tensor => w(native.argmax(x.handle, dim, keepdim));
export const argmin = (x: Tensor, dim: number, keepdim = false): Tensor => w(native.argmin(x.handle, dim, keepdim));
/** Variance (unbiased by default, as torch.var). */
export const variance = (x: Tensor, dims?: number | readonly number[], unbiased = true, keepdim = false): Tensor =>
  w(native.variance(x.handle, dimList(dims), unbiased, keepdim));
export const norm = (x: Tensor, p = 2): Tensor => w(native.norm(x.handle, p));
export const cumsum = (x: Tensor, dim: number): Tensor => w(native.cumsum(x.handle, dim));

// ------------------------------------------------------------------ shape
export const reshape = (x: Tensor, shape: Shape): Tensor => w(native.reshape(x.handle, arr(shape)));
export const permute = (x: Tensor, dims: readonly number[]): Tensor => w(native.permute(x.handle, [...dims]));
export const transpose = (x: Tensor, a: number, b: number): Tensor => w(native.transpose(x.handle, a, b));
export const expand = (x: Tensor, shape: Shape): Tensor => w(native.expand(x.handle, arr(shape)));
export const repeat = (x: Tensor, reps: readonly number[]): Tensor => w(native.repeat(x.handle, [...reps]));
export const squeeze = (x: Tensor, dim: number): Tensor => w(native.squeeze(x.handle, dim));
export const unsqueeze = (x: Tensor, dim: number): Tensor => w(native.unsqueeze(x.handle, dim));
export const flatten = (x: Tensor, start = 0, end = -1): Tensor => w(native.flatten(x.handle, start, end));
/** x[..., start:end:step, ...] along dim (negative indices count from the end). */
export const slice = (x: Tensor, dim: number, start: number, end: number, step = 1): Tensor =>
  w(native.slice(x.handle, dim, start, end, step));
export const select = (x: Tensor, dim: number, index: number): Tensor => w(native.select(x.handle, dim, index));
export const cat = (xs: readonly Tensor[], dim = 0): Tensor => w(native.cat(xs.map((t) => t.handle), dim));
export const stack = (xs: readonly Tensor[], dim = 0): Tensor => w(native.stack(xs.map((t) => t.handle), dim));
/** Constant padding; pads = [lastLeft, lastRight, secondLastLeft, secondLastRight, ...] as torch.nn.functional.pad. */
export const pad = (x: Tensor, pads: readonly number[], value = 0): Tensor => w(native.pad(x.handle, [...pads], value));
export const roll = (x: Tensor, shifts: readonly number[], dims: readonly number[]): Tensor =>
  w(native.roll(x.handle, [...shifts], [...dims]));
export const flip = (x: Tensor, dims: readonly number[]): Tensor => w(native.flip(x.handle, [...dims]));
export const gather = (x: Tensor, dim: number, index: Tensor): Tensor => w(native.gather(x.handle, dim, index.handle));
export const indexSelect = (x: Tensor, dim: number, index: Tensor): Tensor => w(native.indexSelect(x.handle, dim, index.handle));
/** Advanced indexing x[i0, i1, ...]; null means ':' for that dim. */
export const index = (x: Tensor, indices: readonly (Tensor | null)[]): Tensor =>
  // A non-Tensor element goes through as is, so the addon rejects it with a TypeError.
  w(native.index(x.handle, indices.map((t) => (t === null || t === undefined ? null : t instanceof Tensor ? t.handle : (t as never)))));
export const scatterAdd = (x: Tensor, dim: number, index: Tensor, src: Tensor): Tensor =>
  w(native.scatterAdd(x.handle, dim, index.handle, src.handle));
/**
 * Fused window multiply (native/fused.cc). With x viewed as (A, G, L),
 * L = windowLength, and m[a] = table_flat[index[a] * S .. + L] * scale[a / (A / K)]
 * (S = table.shape[1], K = scale.length, dividing A):
 * out[a, g, :] = act(x[a, g, :]) * m[a], act = ReLU when `relu`; or with
 * `base` (x's shape, no ReLU) out = base + x * m. index (A) int64; table
 * float32 or uint8 and scale float32, without gradients; gradients flow to x (and base). One pass
 * over x in each direction and no materialised multiplier: what a structured
 * mask whose windows are table slices needs. `binary` promises that every
 * table value is 0 or 1 (unchecked): the ReLU gradient then skips the table.
 * x may be float32 or bfloat16 (autocast: read as float32, multiplied in
 * float32, rounded once). Off the CPU or for other dtypes it runs as the
 * equivalent ATen ops.
 */
export const mulTableWindows = (
  x: Tensor,
  table: Tensor,
  index: Tensor,
  scale: Tensor,
  windowLength: number,
  o: { relu?: boolean; base?: Tensor; binary?: boolean } = {},
): Tensor =>
  w(native.mulTableWindows(x.handle, table.handle, index.handle, scale.handle, windowLength, o.relu ?? false, o.base?.handle, o.binary ?? false));
export const oneHot = (x: Tensor, numClasses: number): Tensor => w(native.oneHot(x.handle, numClasses));
export const triu = (x: Tensor, k = 0): Tensor => w(native.triu(x.handle, k));
export const tril = (x: Tensor, k = 0): Tensor => w(native.tril(x.handle, k));
