// Loads the libtorch addon built by scripts/build-native.mjs and describes its
// exports. This file is the only place that knows the addon exists.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bfloat16 and float16 appear under autocast (mixed precision); their raw data is 16-bit words. */
export type DType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'bool' | 'bfloat16' | 'float16';
export type Reduction = 'mean' | 'sum' | 'none';

/** An ATen tensor held by the addon. */
export interface NativeTensor {
  shape(): number[];
  dtype(): DType;
  device(): string;
  dispose(): void;
  isDisposed(): boolean;
}

export interface NativeGenerator {
  getState(): Buffer;
  setState(state: Buffer): void;
  seed(seed: number): void;
}

export interface NativeOptimizer {
  step(): void;
  zeroGrad(): void;
  setLr(lr: number): void;
  getLr(): number;
  saveState(): Buffer;
  loadState(state: Buffer): void;
}

type T = NativeTensor;
type Opt<X> = X | null | undefined;
type Gen = Opt<NativeGenerator>;
type TN = T | number;
type U = (x: T) => T;

export interface NativeBinding {
  Tensor: unknown;
  Generator: new (seed: number) => NativeGenerator;
  Optimizer: new (kind: string, params: T[], options: Record<string, number | boolean>) => NativeOptimizer;
  zeros(shape: number[], dtype: DType, device?: string): T;
  ones(shape: number[], dtype: DType, device?: string): T;
  full(shape: number[], value: number, dtype: DType, device?: string): T;
  arange(start: number, end: number, step: number, dtype: DType, device?: string): T;
  eye(n: number, dtype: DType, device?: string): T;
  fromTypedArray(data: ArrayBufferView, shape: number[], dtype: DType, device?: string): T;
  toArrayBuffer(x: T): ArrayBuffer;
  item(x: T): number;
  rand(shape: number[], gen: Gen, dtype: DType): T;
  randn(shape: number[], gen: Gen, dtype: DType): T;
  randint(low: number, high: number, shape: number[], gen: Gen): T;
  randperm(n: number, gen: Gen): T;
  bernoulli(p: T, gen: Gen): T;
  bernoulliScalar(like: T, p: number, gen: Gen): T;
  manualSeed(seed: number): void;
  neg: U; exp: U; log: U; log1p: U; sqrt: U; rsqrt: U; abs: U; sign: U; square: U; reciprocal: U;
  floor: U; ceil: U; round: U; sin: U; cos: U; erf: U; relu: U; silu: U; sigmoid: U; tanh: U;
  logicalNot: U; isnan: U; isfinite: U; contiguous: U; clone: U; detach: U;
  gelu(x: T, tanhApprox?: boolean): T;
  leakyRelu(x: T, slope: number): T;
  clamp(x: T, min: Opt<number>, max: Opt<number>): T;
  add(a: T, b: TN): T; sub(a: T, b: TN): T; mul(a: T, b: TN): T; div(a: T, b: TN): T; pow(a: T, b: TN): T;
  eq(a: T, b: TN): T; ne(a: T, b: TN): T; lt(a: T, b: TN): T; le(a: T, b: TN): T; gt(a: T, b: TN): T; ge(a: T, b: TN): T;
  remainder(a: T, b: TN): T; maximum(a: T, b: TN): T; minimum(a: T, b: TN): T;
  logicalAnd(a: T, b: T): T; logicalOr(a: T, b: T): T;
  where(cond: T, a: TN, b: TN): T;
  maskedFill(x: T, mask: T, value: number): T;
  to(x: T, dtype: Opt<DType>, device?: string): T;
  copy_(dst: T, src: T): T; fill_(x: T, v: number): T; mulScalar_(x: T, v: number): T; addScaled_(x: T, y: T, alpha: number): T;
  matmul(a: T, b: T): T; bmm(a: T, b: T): T; linear(x: T, w: T, b: Opt<T>): T;
  conv2d(x: T, w: T, b: Opt<T>, stride: number[], padding: number[], dilation: number[], groups: number): T;
  batchNorm(x: T, w: Opt<T>, b: Opt<T>, rm: Opt<T>, rv: Opt<T>, training: boolean, momentum: number, eps: number): T;
  layerNorm(x: T, shape: number[], w: Opt<T>, b: Opt<T>, eps: number): T;
  softmax(x: T, dim: number): T; logSoftmax(x: T, dim: number): T;
  crossEntropy(logits: T, target: T, reduction: Reduction, ignoreIndex: number, labelSmoothing: number): T;
  embedding(weight: T, indices: T): T;
  maxPool2d(x: T, k: number[], s: number[], p: number[], d: number[], ceil: boolean): T;
  avgPool2d(x: T, k: number[], s: number[], p: number[], ceil: boolean, countIncludePad: boolean): T;
  adaptiveAvgPool2d(x: T, out: number[]): T;
  dropout(x: T, p: number, train: boolean): T;
  affineGrid(theta: T, size: number[], alignCorners: boolean): T;
  gridSample(x: T, grid: T, mode: string, padding: string, alignCorners: boolean): T;
  sum(x: T, dims: Opt<number[]>, keepdim?: boolean): T; mean(x: T, dims: Opt<number[]>, keepdim?: boolean): T;
  amax(x: T, dims: Opt<number[]>, keepdim?: boolean): T; amin(x: T, dims: Opt<number[]>, keepdim?: boolean): T;
  logsumexp(x: T, dims: number[], keepdim?: boolean): T;
  argmax(x: T, dim: number, keepdim?: boolean): T; argmin(x: T, dim: number, keepdim?: boolean): T;
  variance(x: T, dims: Opt<number[]>, unbiased?: boolean, keepdim?: boolean): T;
  norm(x: T, p?: number): T; cumsum(x: T, dim: number): T;
  reshape(x: T, shape: number[]): T; permute(x: T, dims: number[]): T; transpose(x: T, a: number, b: number): T;
  expand(x: T, shape: number[]): T; repeat(x: T, reps: number[]): T;
  squeeze(x: T, dim: number): T; unsqueeze(x: T, dim: number): T; flatten(x: T, start?: number, end?: number): T;
  slice(x: T, dim: number, start: number, end: number, step?: number): T; select(x: T, dim: number, index: number): T;
  cat(xs: T[], dim: number): T; stack(xs: T[], dim: number): T;
  pad(x: T, pads: number[], value?: number): T; roll(x: T, shifts: number[], dims: number[]): T; flip(x: T, dims: number[]): T;
  gather(x: T, dim: number, index: T): T; indexSelect(x: T, dim: number, index: T): T; index(x: T, idx: Opt<T>[]): T;
  scatterAdd(x: T, dim: number, index: T, src: T): T; mulTableWindows(x: T, table: T, index: T, scale: T, windowLength: number, relu: boolean, base: Opt<T>, binary: boolean): T; oneHot(x: T, n: number): T; triu(x: T, k?: number): T; tril(x: T, k?: number): T;
  setRequiresGrad(x: T, on: boolean): T; requiresGrad(x: T): boolean;
  backward(x: T, grad?: Opt<T>, retainGraph?: boolean): void; grad(x: T): T | null; zeroGrad(xs: T[]): void;
  setGradEnabled(on: boolean): void; isGradEnabled(): boolean; clipGradNorm(params: T[], maxNorm: number, p?: number): number;
  autocastEnter(deviceType: 'cpu' | 'cuda', dtype: 'bfloat16' | 'float16'): void;
  autocastExit(deviceType: 'cpu' | 'cuda'): void;
  setNumThreads(n: number): void; getNumThreads(): number; blasThreads(): number; liveTensorCount(): number;
  runtimeInfo(): { version: string; config: string; parallelInfo: string; cudaAvailable: boolean; cudaDeviceCount: number; mkldnnAvailable: boolean };
}

const addonPath = join(dirname(fileURLToPath(import.meta.url)), '../../../native/build/Release/autodropout_torch.node');

function load(): NativeBinding {
  if (!existsSync(addonPath)) {
    throw new Error(
      `autodropout: the native engine is not built (looked for ${addonPath}).\n` +
        'Run ./setup (Debian/Ubuntu: installs libtorch-dev and builds it) or `npm rebuild autodropout` ' +
        'after installing libtorch (apt-get install libtorch-dev, or set LIBTORCH=/path/to/libtorch).',
    );
  }
  const require = createRequire(import.meta.url);
  try {
    return require(addonPath) as NativeBinding;
  } catch (err) {
    throw new Error(
      `autodropout: the native engine at ${addonPath} failed to load: ${(err as Error).message}\n` +
        'If libtorch was upgraded or removed, reinstall it (apt-get install libtorch-dev) and run `npm rebuild autodropout`.',
    );
  }
}

/** The addon; loaded once per process. */
export const native: NativeBinding = load();
export const addonFile = addonPath;
