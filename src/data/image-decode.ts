/**
 * Decoding JPEG/PNG files into normalised C×H×W floats with the standard ImageNet transforms
 * (the ones torchvision's reference scripts and timm use; the paper does not spell them out):
 *  - training: random-resized-crop — a box covering 8–100 % of the image's area with aspect
 *    ratio 3/4–4/3 (log-uniform), 10 tries then a centre fallback — resized to S×S, then a
 *    horizontal flip with probability 1/2;
 *  - evaluation: resize the shorter side to floor(S / 0.875) (256 for S = 224) and the longer
 *    one in proportion, truncated (evalResizeDims), then the centre S×S crop;
 *  - both: pixels / 255, then per-channel (v - mean) / std with the ImageNet statistics.
 *
 * Choices the paper leaves open, and ours: resampling is bilinear (sharp's 'linear' kernel, as
 * torchvision's default); EXIF orientation is ignored (PIL-based loaders ignore it too); alpha is
 * dropped and greyscale or CMYK files become sRGB; a truncated file is an error (as in PIL without
 * LOAD_TRUNCATED_IMAGES), while libjpeg's warnings, which a few ImageNet files raise, are not.
 *
 * sharp (libvips) runs each decode on libuv's thread pool, so decoding overlaps training; it is
 * imported on first use, so tasks that never decode a file never load it.
 */
import type { Rng } from '../util/rng.js';
import { DataError } from './errors.js';

export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly number[] = [0.229, 0.224, 0.225];
/** Side of the square model input when neither the model nor the user says otherwise. */
export const DEFAULT_IMAGE_SIZE = 224;
/** Evaluation's centre crop keeps this fraction of the resized shorter side (224 of 256). */
export const EVAL_CROP_FRACTION = 0.875;
export const RRC_SCALE: readonly [number, number] = [0.08, 1];
export const RRC_RATIO: readonly [number, number] = [3 / 4, 4 / 3];
const RRC_TRIES = 10;
const CHANNELS = 3;

export interface CropBox {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Python's round(): halves go to the even neighbour (torchvision's centre crop uses it). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Offset of a centred span of `inner` pixels in `outer`, as torchvision's CenterCrop places it. */
export function centreOffset(outer: number, inner: number): number {
  return roundHalfEven((outer - inner) / 2);
}

/** The shorter side evaluation resizes to before its centre crop of `size`. */
export function evalResizeSide(size: number): number {
  return Math.floor(size / EVAL_CROP_FRACTION);
}

/**
 * The size evaluation resizes a width × height image to: the shorter side becomes `side`, the
 * longer one `floor(side × long / short)` as torchvision's Resize(int) truncates it. (sharp's own
 * aspect-keeping resize rounds instead: 640×427 would become 384×256 rather than 383×256, which
 * shifts the centre crop by half a pixel.)
 */
export function evalResizeDims(width: number, height: number, side: number): { width: number; height: number } {
  if (width <= height) return { width: side, height: Math.floor((side * height) / width) };
  return { width: Math.floor((side * width) / height), height: side };
}

/**
 * torchvision's RandomResizedCrop.get_params, drawing from `rng`: up to 10 boxes of random area
 * fraction and log-uniform aspect ratio, the first that fits; else the whole image, cropped to the
 * nearest allowed aspect ratio about its centre.
 */
export function randomResizedCropBox(
  width: number,
  height: number,
  rng: Rng,
  scale: readonly [number, number] = RRC_SCALE,
  ratio: readonly [number, number] = RRC_RATIO,
): CropBox {
  const area = width * height;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let i = 0; i < RRC_TRIES; i++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng.nextFloat());
    const aspect = Math.exp(logLo + (logHi - logLo) * rng.nextFloat());
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      return { left: rng.nextInt(width - w + 1), top: rng.nextInt(height - h + 1), width: w, height: h };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < ratio[0]) h = Math.max(1, Math.min(height, Math.round(w / ratio[0])));
  else if (inRatio > ratio[1]) w = Math.max(1, Math.min(width, Math.round(h * ratio[1])));
  return { left: Math.floor((width - w) / 2), top: Math.floor((height - h) / 2), width: w, height: h };
}

type SharpFn = (typeof import('sharp'))['default'];
let sharpModule: Promise<SharpFn> | null = null;

function loadSharp(): Promise<SharpFn> {
  if (sharpModule !== null) return sharpModule;
  const loading = import('sharp').then(
    (m) => {
      // Every file is read once per epoch: libvips' operation cache would only hold memory.
      m.default.cache(false);
      return m.default;
    },
    (e: unknown) => {
      sharpModule = null;
      throw new DataError(
        `decoding image files needs the npm package sharp (npm install sharp@0.35.5): ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    },
  );
  sharpModule = loading;
  return loading;
}

function decodeError(file: string, e: unknown): DataError {
  if (e instanceof DataError) return e;
  const why = e instanceof Error ? e.message.trim() : String(e);
  return new DataError(`${file}: cannot decode the image (${why}); the file is corrupt, truncated or not a JPEG/PNG`, {
    cause: e,
    paths: [file],
  });
}

const INPUT_OPTIONS = { failOn: 'truncated' } as const;

interface Normalise {
  mean: readonly number[];
  std: readonly number[];
}

/**
 * Copies the size×size window at (left, top) of an interleaved 8-bit image (width × channels per
 * row) into C×H×W floats at `out[offset]`, normalised; `flip` mirrors it left-right.
 */
function writeNormalised(
  pixels: Uint8Array,
  width: number,
  channels: number,
  left: number,
  top: number,
  size: number,
  flip: boolean,
  norm: Normalise,
  out: Float32Array,
  offset: number,
): void {
  if (channels !== 1 && channels !== CHANNELS) throw new Error(`decoded to ${channels} channels, expected ${CHANNELS}`);
  const plane = size * size;
  for (let c = 0; c < CHANNELS; c++) {
    const src = channels === 1 ? 0 : c;
    const scale = 1 / (255 * norm.std[c]);
    const shift = norm.mean[c] / norm.std[c];
    const base = offset + c * plane;
    for (let y = 0; y < size; y++) {
      const row = ((top + y) * width + left) * channels + src;
      const dst = base + y * size;
      for (let x = 0; x < size; x++) {
        const sx = flip ? size - 1 - x : x;
        out[dst + x] = pixels[row + sx * channels] * scale - shift;
      }
    }
  }
}

/**
 * Decodes `file` with the training transform into `out` at `offset` (3 × size × size floats).
 * `rng` (this image's own stream) draws the crop box and the flip.
 */
export async function decodeTrainImage(file: string, size: number, rng: Rng, norm: Normalise, out: Float32Array, offset: number): Promise<void> {
  const sharp = await loadSharp();
  try {
    const meta = await sharp(file, INPUT_OPTIONS).metadata();
    if (!meta.width || !meta.height) throw new Error('no image dimensions in the header');
    const box = randomResizedCropBox(meta.width, meta.height, rng);
    const flip = rng.nextFloat() < 0.5;
    const { data, info } = await sharp(file, INPUT_OPTIONS)
      .extract(box)
      .resize(size, size, { fit: 'fill', kernel: 'linear' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    writeNormalised(data, info.width, info.channels, 0, 0, size, flip, norm, out, offset);
  } catch (e) {
    throw decodeError(file, e);
  }
}

/** Decodes `file` with the evaluation transform (resize, centre crop) into `out` at `offset`. */
export async function decodeEvalImage(file: string, size: number, norm: Normalise, out: Float32Array, offset: number): Promise<void> {
  const sharp = await loadSharp();
  const side = evalResizeSide(size);
  try {
    const meta = await sharp(file, INPUT_OPTIONS).metadata();
    if (!meta.width || !meta.height) throw new Error('no image dimensions in the header');
    const dims = evalResizeDims(meta.width, meta.height, side);
    const { data, info } = await sharp(file, INPUT_OPTIONS)
      .resize(dims.width, dims.height, { fit: 'fill', kernel: 'linear' })
      .removeAlpha()
      .toColourspace('srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const left = centreOffset(info.width, size);
    const top = centreOffset(info.height, size);
    writeNormalised(data, info.width, info.channels, left, top, size, false, norm, out, offset);
  } catch (e) {
    throw decodeError(file, e);
  }
}
