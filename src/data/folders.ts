/**
 * ImageNet-style datasets stored as one folder per class (torchvision's ImageFolder layout):
 *
 *   ROOT/train/<class>/*.{jpg,jpeg,png}     (extensions in any case: ILSVRC's files end in .JPEG)
 *   ROOT/val/<class>/*.{jpg,jpeg,png}
 *
 * Classes are the sorted names of ROOT/train's subfolders (label = position); ROOT/val's classes
 * must be among them. ILSVRC2012's validation archive unpacks flat (ROOT/val/*.JPEG with the
 * labels in the devkit): that layout is out of scope and reported as such — sort the files into
 * class folders first. Only the files directly in a class folder are read (no recursion); other
 * extensions are skipped, as ImageFolder skips them.
 *
 * Splits follow the paper's reduced-ImageNet protocol (80,000 training and 5,000 validation
 * images drawn from ILSVRC's training set): `valSize` images (default DEFAULT_VAL_SIZE = 5000,
 * the paper's number) are held out of ROOT/train for validation and `trainLimit` (default: all
 * the rest; the paper's search used 80,000) are trained on, both class-balanced and drawn with the
 * seed. Validation depends on the seed only, not on trainLimit, as for the in-memory image tasks.
 * The test split is ROOT/val, whole. Only file lists live in memory; see folder-batches.ts for
 * the decoding.
 */
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { join, resolve } from 'node:path';
import { Rng } from '../util/rng.js';
import { DataError, checkSplitSize } from './errors.js';
import { DEFAULT_VAL_SIZE } from './images.js';
import { isDirectory } from './locate.js';

export type FolderTaskName = 'imagenet';

/** Image files of one split with their labels, in a fixed order. */
export interface ImageFileList {
  files: string[];
  labels: Int32Array;
}

export interface FolderDataset {
  name: FolderTaskName;
  root: string;
  /** Class folder names; the label of a class is its index. */
  classes: string[];
  train: ImageFileList;
  val: ImageFileList;
  test: ImageFileList;
  /** The two folders read. */
  sources: string[];
}

export interface LoadFolderOptions {
  task?: FolderTaskName;
  /** ROOT, or a folder holding ROOT as `imagenet/`. */
  dataDir?: string;
  /** Replaces the default location searched after dataDir (tests, unusual installs). */
  searchPaths?: string[];
  /** Images held out of ROOT/train for validation (default 5000), class-balanced. */
  valSize?: number;
  /** Training images (default: all not held out), class-balanced. */
  trainLimit?: number;
  seed: number;
}

const IMAGE_EXT = /\.(jpe?g|png)$/i;
const LAYOUT = 'ROOT/train/<class>/*.{jpg,jpeg,png} and ROOT/val/<class>/*.{jpg,jpeg,png}';

function entries(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new DataError(`${dir}: cannot list (${e instanceof Error ? e.message : String(e)})`, { cause: e, paths: [dir] });
  }
}

/** Symbolic links are followed (class folders and files are often links into a shared copy). */
function entryIs(dir: string, d: Dirent, kind: 'dir' | 'file'): boolean {
  if (!d.isSymbolicLink()) return kind === 'dir' ? d.isDirectory() : d.isFile();
  try {
    const s = statSync(join(dir, d.name));
    return kind === 'dir' ? s.isDirectory() : s.isFile();
  } catch {
    return false;
  }
}

const byCodeUnit = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function subfolders(dir: string): string[] {
  return entries(dir)
    .filter((d) => entryIs(dir, d, 'dir'))
    .map((d) => d.name)
    .sort(byCodeUnit);
}

function imageFiles(dir: string): string[] {
  return entries(dir)
    .filter((d) => IMAGE_EXT.test(d.name) && entryIs(dir, d, 'file'))
    .map((d) => d.name)
    .sort(byCodeUnit);
}

/** ROOT: dataDir itself or dataDir/imagenet, then (unless searchPaths replaces it) ./imagenet. */
export function locateFolderDataset(dataDir?: string, searchPaths?: string[]): string {
  const roots = [...(dataDir !== undefined ? [dataDir] : []), ...(searchPaths ?? [process.cwd()])].map((d) => resolve(d));
  const tried: string[] = [];
  for (const root of roots) {
    for (const dir of [root, join(root, 'imagenet')]) {
      if (tried.includes(dir)) continue;
      tried.push(dir);
      if (isDirectory(join(dir, 'train'))) return dir;
    }
  }
  const hint = `get ILSVRC2012 from https://image-net.org/download.php (registration required), arrange it as ${LAYOUT} and pass --data-dir ROOT`;
  throw new DataError(
    `ImageNet not found: no train/ folder in any of:\n${tried.map((p) => `  ${p}`).join('\n')}\n` +
      `Expected the class-folder layout ${LAYOUT}; pass --data-dir ROOT.`,
    { paths: tried, notFound: true, hint },
  );
}

/** Class-folder listing of one split: `files[c]` are the image names of class `names[c]`. */
function listClasses(splitDir: string): { names: string[]; files: string[][] } {
  const names = subfolders(splitDir);
  return { names, files: names.map((c) => imageFiles(join(splitDir, c))) };
}

/**
 * Splits `total` picks over classes as evenly as `available` allows: every class gets the same
 * share, a class with fewer images gives all it has and the others share the rest; the remainder
 * that cannot be spread evenly goes to classes drawn with `rng`, one extra image each.
 */
export function balancedCounts(available: readonly number[], total: number, rng: Rng): number[] {
  const supply = available.reduce((a, b) => a + b, 0);
  if (!Number.isInteger(total) || total < 0 || total > supply) {
    throw new DataError(`cannot draw ${total} images from classes holding ${supply} in all`);
  }
  const counts = available.map(() => 0);
  let left = total;
  let open = available.map((_, c) => c).filter((c) => available[c] > 0);
  while (left > 0) {
    const share = Math.floor(left / open.length);
    if (share === 0) {
      for (const c of rng.shuffle([...open]).slice(0, left)) counts[c]++;
      break;
    }
    for (const c of open) {
      const give = Math.min(share, available[c] - counts[c]);
      counts[c] += give;
      left -= give;
    }
    open = open.filter((c) => counts[c] < available[c]);
  }
  return counts;
}

function fileList(splitDir: string, classes: string[], picks: { c: number; names: string[] }[]): ImageFileList {
  const files: string[] = [];
  const labels: number[] = [];
  for (const { c, names } of picks) {
    for (const f of names) {
      files.push(join(splitDir, classes[c], f));
      labels.push(c);
    }
  }
  return { files, labels: Int32Array.from(labels) };
}

/** Lists the dataset and draws the class-balanced train/validation subsets (no image is opened). */
export function loadFolderDataset(opts: LoadFolderOptions): FolderDataset {
  const root = locateFolderDataset(opts.dataDir, opts.searchPaths);
  const trainDir = join(root, 'train');
  const valDir = join(root, 'val');
  const train = listClasses(trainDir);
  if (train.names.length < 2) {
    throw new DataError(`${trainDir}: ${train.names.length} class folder(s); expected the layout ${LAYOUT} with at least 2 classes`, { paths: [trainDir] });
  }
  train.names.forEach((c, i) => {
    if (train.files[i].length === 0) throw new DataError(`${join(trainDir, c)}: no .jpg/.jpeg/.png files in this class folder`, { paths: [join(trainDir, c)] });
  });

  if (!isDirectory(valDir)) throw new DataError(`${valDir}: missing; expected the layout ${LAYOUT}`, { paths: [valDir] });
  const val = listClasses(valDir);
  const loose = imageFiles(valDir);
  if (loose.length > 0) {
    throw new DataError(
      `${valDir} holds ${loose.length} image file(s) directly (e.g. ${loose[0]}): that is ILSVRC's flat validation layout, ` +
        `which this loader does not read. Move each image into val/<class>/ (its class from the devkit's ground truth); ` +
        `expected the layout ${LAYOUT}`,
      { paths: [valDir] },
    );
  }
  const classIndex = new Map(train.names.map((c, i) => [c, i]));
  const strangers = val.names.filter((c) => !classIndex.has(c));
  if (strangers.length > 0) {
    throw new DataError(`${valDir}: class folder(s) ${strangers.slice(0, 5).join(', ')}${strangers.length > 5 ? ', …' : ''} are not classes of ${trainDir}`, {
      paths: [valDir],
    });
  }
  const testCount = val.files.reduce((a, f) => a + f.length, 0);
  if (testCount === 0) throw new DataError(`${valDir}: no .jpg/.jpeg/.png files in its class folders; expected the layout ${LAYOUT}`, { paths: [valDir] });

  const sizes = train.files.map((f) => f.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  const valSize = opts.valSize ?? DEFAULT_VAL_SIZE;
  checkSplitSize('valSize', valSize, 0, total - 1, `${root} has ${total} training images and at least one must be left to train on`);
  const remaining = total - valSize;
  const trainLimit = opts.trainLimit ?? remaining;
  checkSplitSize('trainLimit', trainLimit, 1, remaining, `${root} has ${total} training images, ${valSize} of them held out for validation`);

  const name = opts.task ?? 'imagenet';
  const rng = Rng.derive(opts.seed, 'data', name, 'val-split');
  // Each class's own order is drawn from a stream named by the class, so it does not depend on
  // which other classes exist or how many images they hold.
  const shuffled = train.files.map((names, c) => rng.fork(`class:${train.names[c]}`).shuffle([...names]));
  const valCounts = balancedCounts(sizes, valSize, rng.fork('val-counts'));
  const trainCounts = balancedCounts(
    sizes.map((n, c) => n - valCounts[c]),
    trainLimit,
    rng.fork('train-counts'),
  );
  return {
    name,
    root,
    classes: train.names,
    train: fileList(trainDir, train.names, shuffled.map((s, c) => ({ c, names: s.slice(valCounts[c], valCounts[c] + trainCounts[c]) }))),
    val: fileList(trainDir, train.names, shuffled.map((s, c) => ({ c, names: s.slice(0, valCounts[c]) }))),
    test: fileList(valDir, train.names, val.names.map((cls, i) => ({ c: classIndex.get(cls) as number, names: val.files[i] }))),
    sources: [trainDir, valDir],
  };
}
