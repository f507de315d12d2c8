/**
 * Mini-batch iterators. Each call of imageBatches is one epoch; order and augmentation come only
 * from the Rng passed in, so an epoch can be replayed from a saved Rng state.
 */
import type { Rng } from '../util/rng.js';
import { DataError } from './errors.js';
import type { ImageSplit, ImageTask } from './images.js';

export interface ImageAugment {
  /** Random crop after zero-padding each side by this many pixels (0 = off). */
  cropPad: number;
  /** Random horizontal flip with probability 1/2. Leave off for digits. */
  hflip: boolean;
  /** Per-channel fill for padding: the normalised value of a 0 pixel (ImageTask.padValue). */
  padValue: number[];
}

/** Crop padding for 28×28 inputs (a shift of up to 2 pixels each way). */
export const DEFAULT_CROP_PAD = 2;

/**
 * The default augmentation for a task: crop with DEFAULT_CROP_PAD, no flip (a mirrored digit is
 * a different or invalid digit; kept off for Fashion-MNIST too so both tasks train alike).
 */
export function defaultImageAugment(task: Pick<ImageTask, 'padValue'>): ImageAugment {
  return { cropPad: DEFAULT_CROP_PAD, hflip: false, padValue: [...task.padValue] };
}

export interface ImageBatchOptions {
  batchSize: number;
  /** Shuffles the order (and drives augmentation); undefined keeps file order. */
  rng?: Rng;
  augment?: ImageAugment;
  /** Omit the final partial batch. */
  dropLast?: boolean;
}

export interface ImageBatch {
  /** n × C × H × W, normalised; freshly allocated, so callers may keep it. */
  x: Float32Array;
  y: Int32Array;
  n: number;
}

export interface LmBatchOptions {
  batchSize: number;
  seqLen: number;
}

export interface LmBatch {
  /** batchSize × seqLen, row-major: row b is a contiguous slice of row b's token stream. */
  x: Int32Array;
  /** x shifted by one position: the next token at every position. */
  y: Int32Array;
  batchSize: number;
  /** Length of this window; the last window of an epoch may be shorter than requested. */
  seqLen: number;
}

function checkPositiveInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new DataError(`${name} must be a positive integer, got ${v}`);
}

/** Number of batches imageBatches will yield for `n` examples. */
export function imageBatchCount(n: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

/**
 * Writes one randomly cropped / flipped C×H×W image from `src` at `s` to `dst` at `d`.
 * Crop offsets are uniform in [-pad, pad] per axis; pixels shifted in from outside take padValue.
 */
function augmentInto(
  src: Float32Array,
  s: number,
  dst: Float32Array,
  d: number,
  C: number,
  H: number,
  W: number,
  dy: number,
  dx: number,
  flip: boolean,
  padValue: number[],
): void {
  const plane = H * W;
  // Columns x in [x0, x1) of the output read in-bounds source columns x + dx.
  const x0 = Math.max(0, -dx);
  const x1 = Math.min(W, W - dx);
  for (let c = 0; c < C; c++) {
    const pv = padValue[c];
    const sc = s + c * plane;
    const dc = d + c * plane;
    for (let y = 0; y < H; y++) {
      const row = dc + y * W;
      const sy = y + dy;
      if (sy < 0 || sy >= H || x0 >= x1) {
        dst.fill(pv, row, row + W);
        continue;
      }
      const srow = sc + sy * W;
      if (!flip) {
        dst.fill(pv, row, row + x0);
        dst.set(src.subarray(srow + x0 + dx, srow + x1 + dx), row + x0);
        dst.fill(pv, row + x1, row + W);
      } else {
        // Flip after cropping: output column x takes the cropped column W-1-x.
        for (let x = 0; x < W; x++) {
          const cx = W - 1 - x;
          dst[row + x] = cx >= x0 && cx < x1 ? src[srow + cx + dx] : pv;
        }
      }
    }
  }
}

/** One epoch of image mini-batches. */
export function* imageBatches(split: ImageSplit, opts: ImageBatchOptions): Generator<ImageBatch> {
  const { batchSize, rng, augment, dropLast = false } = opts;
  checkPositiveInt('batchSize', batchSize);
  if (augment !== undefined) {
    if (rng === undefined) throw new DataError('image augmentation needs an rng');
    if (!Number.isInteger(augment.cropPad) || augment.cropPad < 0) {
      throw new DataError(`augment.cropPad must be a non-negative integer, got ${augment.cropPad}`);
    }
    if (augment.padValue.length !== split.channels) {
      throw new DataError(
        `augment.padValue has ${augment.padValue.length} entries but the images have ${split.channels} channels`,
      );
    }
  }
  const { n: total, channels: C, height: H, width: W } = split;
  const per = C * H * W;
  const order = new Int32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  if (rng !== undefined) rng.shuffle(order);
  const doAug = augment !== undefined && (augment.cropPad > 0 || augment.hflip);

  for (let start = 0; start < total; start += batchSize) {
    const n = Math.min(batchSize, total - start);
    if (n < batchSize && dropLast) return;
    const x = new Float32Array(n * per);
    const y = new Int32Array(n);
    for (let k = 0; k < n; k++) {
      const i = order[start + k];
      y[k] = split.labels[i];
      if (doAug && rng !== undefined && augment !== undefined) {
        const p = augment.cropPad;
        const dy = p > 0 ? rng.nextInt(2 * p + 1) - p : 0;
        const dx = p > 0 ? rng.nextInt(2 * p + 1) - p : 0;
        const flip = augment.hflip && rng.nextFloat() < 0.5;
        augmentInto(split.images, i * per, x, k * per, C, H, W, dy, dx, flip, augment.padValue);
      } else {
        x.set(split.images.subarray(i * per, (i + 1) * per), k * per);
      }
    }
    yield { x, y, n };
  }
}

/** Number of windows lmBatches will yield. */
export function lmBatchCount(numTokens: number, opts: LmBatchOptions): number {
  const rowLen = Math.floor(numTokens / opts.batchSize);
  return rowLen < 2 ? 0 : Math.ceil((rowLen - 1) / opts.seqLen);
}

/**
 * "Batchify" language-model batches: the stream is cut into `batchSize` contiguous rows (the tail
 * that does not fill a row is dropped), and windows of `seqLen` positions are taken left to right
 * across all rows at once, so row b of consecutive batches continues the same text — which is
 * what lets a recurrent model carry its hidden state from batch to batch.
 */
export function* lmBatches(tokens: Int32Array, opts: LmBatchOptions): Generator<LmBatch> {
  const { batchSize: B, seqLen } = opts;
  checkPositiveInt('batchSize', B);
  checkPositiveInt('seqLen', seqLen);
  const rowLen = Math.floor(tokens.length / B);
  if (rowLen < 2) {
    throw new DataError(
      `${tokens.length} tokens are too few for batchSize ${B}: each row needs at least 2 tokens`,
    );
  }
  for (let i = 0; i < rowLen - 1; i += seqLen) {
    const T = Math.min(seqLen, rowLen - 1 - i);
    const x = new Int32Array(B * T);
    const y = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const s = b * rowLen + i;
      x.set(tokens.subarray(s, s + T), b * T);
      y.set(tokens.subarray(s + 1, s + 1 + T), b * T);
    }
    yield { x, y, batchSize: B, seqLen: T };
  }
}
