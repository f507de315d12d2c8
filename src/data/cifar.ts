/**
 * CIFAR-10 and CIFAR-100 from the "binary version" archives (Krizhevsky 2009):
 *  - CIFAR-10, `cifar-10-batches-bin/`: data_batch_1.bin … data_batch_5.bin (train, 50,000) and
 *    test_batch.bin (10,000); each record is 1 label byte + 3072 pixel bytes; batches.meta.txt
 *    names the 10 classes.
 *  - CIFAR-100, `cifar-100-binary/`: train.bin (50,000) and test.bin (10,000); each record is
 *    2 label bytes (coarse 0..19, fine 0..99) + 3072 pixel bytes. The fine label is the class
 *    (the 100-way benchmark); fine_label_names.txt names them.
 * Pixels are channel-major, 1024 red then 1024 green then 1024 blue bytes of a row-major 32×32
 * image: already the C×H×W layout the models take, so records are copied, not transposed.
 *
 * Validation is held out of the training file with the same seeded split as the MNIST family
 * (assembleImageTask). Its default size, DEFAULT_VAL_SIZE = 5000, is exactly the paper's
 * protocol for CIFAR-10: 10 % of the 50,000 training images held out for the search's reward.
 * CIFAR-100 uses the same 5,000 (also 10 %); the paper gives no CIFAR-100 protocol.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ImageAugment } from './batches.js';
import { DataError } from './errors.js';
import { assembleImageTask, type CifarTaskName, type ImageSplitOptions, type ImageTask, type RawImageSplit } from './images.js';
import { firstDatasetDir, formatTried } from './locate.js';

export type { CifarTaskName };

export const CIFAR_SIDE = 32;
export const CIFAR_CHANNELS = 3;
const PIXEL_BYTES = CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE;

interface CifarLayout {
  title: string;
  /** The folder the archive unpacks to. */
  folder: string;
  archive: string;
  /** Where the archive is published (the code never downloads it). */
  url: string;
  trainFiles: string[];
  testFile: string;
  /** Label bytes before the pixels of each record. */
  labelBytes: number;
  /** Which label byte is the class, and how many classes it has. */
  classByte: number;
  numClasses: number;
  /** Range of every label byte (CIFAR-100's coarse byte is checked too: a bad one means a corrupt record). */
  labelRanges: number[];
  /** Class names, one per line, in label order. */
  namesFile: string;
}

const LAYOUTS: Record<CifarTaskName, CifarLayout> = {
  cifar10: {
    title: 'CIFAR-10',
    folder: 'cifar-10-batches-bin',
    archive: 'cifar-10-binary.tar.gz',
    url: 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz',
    trainFiles: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
    testFile: 'test_batch.bin',
    labelBytes: 1,
    classByte: 0,
    numClasses: 10,
    labelRanges: [10],
    namesFile: 'batches.meta.txt',
  },
  cifar100: {
    title: 'CIFAR-100',
    folder: 'cifar-100-binary',
    archive: 'cifar-100-binary.tar.gz',
    url: 'https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz',
    trainFiles: ['train.bin'],
    testFile: 'test.bin',
    labelBytes: 2,
    classByte: 1,
    numClasses: 100,
    labelRanges: [20, 100],
    namesFile: 'fine_label_names.txt',
  },
};

export interface LoadCifarOptions extends ImageSplitOptions {
  task: CifarTaskName;
  /** Searched first: the unpacked folder itself or the folder that holds it. */
  dataDir?: string;
  /** Replaces the default locations searched after dataDir (tests, unusual installs). */
  searchPaths?: string[];
}

export interface CifarFiles {
  dir: string;
  train: string[];
  test: string;
  /** The class-names file, when the folder has one. */
  names: string | null;
}

/**
 * Where the files are: `dataDir` and `dataDir/<folder>`, then (unless searchPaths replaces them)
 * `<folder>` under the working directory, where unpacking the archive in place leaves it.
 */
export function locateCifar(task: CifarTaskName, dataDir?: string, searchPaths?: string[]): CifarFiles {
  const info = LAYOUTS[task];
  if (info === undefined) throw new DataError(`unknown CIFAR task ${JSON.stringify(task)}`);
  const required = [...info.trainFiles, info.testFile];
  const roots = [...(dataDir !== undefined ? [dataDir] : []), ...(searchPaths ?? [process.cwd()])].map((d) => resolve(d));
  const found = firstDatasetDir(info.title, roots, [info.folder], required);
  if (found.dir === null) {
    const hint =
      `download the ${info.title} binary version, ${info.url}, unpack it and pass --data-dir DIR, ` +
      `DIR being ${info.folder}/ or the folder that holds it (or unpack it in the working directory)`;
    throw new DataError(`${info.title} not found. Looked for ${required.join(', ')} in:\n${formatTried(found.tried)}\nTo get it: ${hint}.`, {
      paths: found.tried,
      notFound: true,
      hint,
    });
  }
  const names = join(found.dir, info.namesFile);
  return {
    dir: found.dir,
    train: info.trainFiles.map((f) => join(found.dir as string, f)),
    test: join(found.dir, info.testFile),
    names: found.has(info.namesFile) ? names : null,
  };
}

/** Whether the task's files can be found (not whether they parse). */
export function cifarAvailable(task: CifarTaskName, dataDir?: string, searchPaths?: string[]): boolean {
  try {
    locateCifar(task, dataDir, searchPaths);
    return true;
  } catch (e) {
    if (e instanceof DataError) return false;
    throw e;
  }
}

function readBytes(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new DataError(`${file}: cannot read (${why})`, { cause: e, paths: [file] });
  }
}

/**
 * Parses the records of several binary batch files into one raw split. The record length is
 * checked before anything is copied, so a truncated download is reported as such instead of as a
 * shifted, garbage label further on.
 */
export function parseCifarFiles(task: CifarTaskName, files: string[]): RawImageSplit {
  const info = LAYOUTS[task];
  const recLen = info.labelBytes + PIXEL_BYTES;
  const contents = files.map((file) => {
    const bytes = readBytes(file);
    if (bytes.length === 0 || bytes.length % recLen !== 0) {
      const whole = Math.floor(bytes.length / recLen);
      throw new DataError(
        `${file}: ${bytes.length} bytes is not a whole number of ${recLen}-byte ${info.title} records ` +
          `(${info.labelBytes} label byte${info.labelBytes > 1 ? 's' : ''} + ${PIXEL_BYTES} pixel bytes): ` +
          (bytes.length === 0 ? 'the file is empty' : `${whole} records and ${bytes.length - whole * recLen} bytes left over; the file is truncated or not a ${info.title} binary batch`),
      );
    }
    return { file, bytes };
  });
  const n = contents.reduce((a, c) => a + c.bytes.length / recLen, 0);
  const pixels = new Uint8Array(n * PIXEL_BYTES);
  const labels = new Uint8Array(n);
  let k = 0;
  for (const { file, bytes } of contents) {
    const records = bytes.length / recLen;
    for (let r = 0; r < records; r++, k++) {
      const off = r * recLen;
      for (let b = 0; b < info.labelBytes; b++) {
        const v = bytes[off + b];
        if (v >= info.labelRanges[b]) {
          const what = info.labelBytes > 1 ? `${b === info.classByte ? 'fine' : 'coarse'} label` : 'label';
          throw new DataError(`${file}: record ${r} has ${what} ${v}, outside 0..${info.labelRanges[b] - 1}; the file is corrupt`);
        }
      }
      labels[k] = bytes[off + info.classByte];
      pixels.set(bytes.subarray(off + info.labelBytes, off + recLen), k * PIXEL_BYTES);
    }
  }
  return { pixels, labels, n, channels: CIFAR_CHANNELS, height: CIFAR_SIDE, width: CIFAR_SIDE };
}

/** Class names, one per non-blank line (batches.meta.txt ends with blank lines). */
function readClassNames(task: CifarTaskName, file: string): string[] {
  const info = LAYOUTS[task];
  const names = new TextDecoder()
    .decode(readBytes(file))
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (names.length !== info.numClasses) {
    throw new DataError(`${file}: ${names.length} class names, expected ${info.numClasses}`);
  }
  return names;
}

/** Loads CIFAR-10 or CIFAR-100 (fine labels), split and normalised per channel on the train split. */
export function loadCifarTask(opts: LoadCifarOptions): ImageTask {
  const info = LAYOUTS[opts.task];
  if (info === undefined) throw new DataError(`unknown CIFAR task ${JSON.stringify(opts.task)}`);
  const files = locateCifar(opts.task, opts.dataDir, opts.searchPaths);
  const train = parseCifarFiles(opts.task, files.train);
  const test = parseCifarFiles(opts.task, [files.test]);
  const classNames = files.names !== null ? readClassNames(opts.task, files.names) : undefined;
  return assembleImageTask(
    {
      name: opts.task,
      title: info.title,
      numClasses: info.numClasses,
      ...(classNames !== undefined ? { classNames } : {}),
      sources: [...files.train, files.test, ...(files.names !== null ? [files.names] : [])],
    },
    train,
    test,
    opts,
  );
}

/** Crop padding for 32×32 CIFAR images: the standard pad-4 random crop. */
export const CIFAR_CROP_PAD = 4;

/**
 * CIFAR's standard augmentation, which the paper trains its CIFAR-10 models with: a random 32×32
 * crop of the image zero-padded by 4 pixels (padding filled with the normalised value of a 0
 * pixel, as padding before normalisation does) and a horizontal flip with probability 1/2.
 */
export function cifarAugment(task: Pick<ImageTask, 'padValue'>): ImageAugment {
  return { cropPad: CIFAR_CROP_PAD, hflip: true, padValue: [...task.padValue] };
}
