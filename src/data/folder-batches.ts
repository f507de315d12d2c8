/**
 * Mini-batches of image files decoded on the fly (ImageNet never fits in memory): each batch's
 * files are decoded concurrently on libuv's thread pool, and the next batches are decoded while
 * the current one trains (prefetch.ts).
 *
 * All of an epoch's randomness is drawn when the epoch is created, before any file is opened:
 * the order (a shuffle of the list) and one 32-bit seed per image for its crop and flip. Decodes
 * finish in any order, yet the batches depend only on the rng's state, and the rng ends the call
 * in the same state however far the epoch is consumed (checkpoints record it after the epoch).
 */
import { Rng } from '../util/rng.js';
import type { ImageBatch } from './batches.js';
import { DataError } from './errors.js';
import type { ImageFileList } from './folders.js';
import { DEFAULT_IMAGE_SIZE, IMAGENET_MEAN, IMAGENET_STD, decodeEvalImage, decodeTrainImage } from './image-decode.js';
import { DEFAULT_PREFETCH, prefetched } from './prefetch.js';

export interface FileBatchOptions {
  batchSize: number;
  /** Side of the square images produced (the model's resolution). */
  size?: number;
  /** 'train': random-resized-crop + flip (needs rng); 'eval': resize + centre crop. */
  transform: 'train' | 'eval';
  /** Shuffles the order and seeds the augmentation; undefined keeps list order. */
  rng?: Rng;
  /** Batches decoded ahead of the one being consumed. */
  prefetch?: number;
  mean?: readonly number[];
  std?: readonly number[];
}

/** One epoch of decoded batches: x is n × 3 × size × size, normalised. */
export function fileBatches(list: ImageFileList, o: FileBatchOptions): AsyncGenerator<ImageBatch> {
  const { batchSize, transform, rng } = o;
  const size = o.size ?? DEFAULT_IMAGE_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DataError(`batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(size) || size < 1) throw new DataError(`image size must be a positive integer, got ${size}`);
  if (transform === 'train' && rng === undefined) throw new DataError('the training transform needs an rng');
  const norm = { mean: o.mean ?? IMAGENET_MEAN, std: o.std ?? IMAGENET_STD };
  const total = list.files.length;
  const order = new Int32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  if (rng !== undefined) rng.shuffle(order);
  const seeds = transform === 'train' && rng !== undefined ? Uint32Array.from(order, () => rng.nextUint32()) : null;
  const per = 3 * size * size;

  const decodeBatch = async (start: number, n: number): Promise<ImageBatch> => {
    const x = new Float32Array(n * per);
    const y = new Int32Array(n);
    const work: Promise<void>[] = [];
    for (let k = 0; k < n; k++) {
      const i = order[start + k];
      y[k] = list.labels[i];
      const file = list.files[i];
      work.push(seeds !== null ? decodeTrainImage(file, size, new Rng(seeds[start + k]), norm, x, k * per) : decodeEvalImage(file, size, norm, x, k * per));
    }
    await Promise.all(work);
    return { x, y, n };
  };
  function* jobs(): Generator<() => Promise<ImageBatch>> {
    for (let start = 0; start < total; start += batchSize) {
      const n = Math.min(batchSize, total - start);
      yield () => decodeBatch(start, n);
    }
  }
  return prefetched(jobs(), o.prefetch ?? DEFAULT_PREFETCH);
}
