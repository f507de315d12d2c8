// ImageNet-style class folders, on PNG and JPEG files generated here with sharp: class mapping,
// class-balanced subsets, decoded shapes and values, the seeded random-resized-crop and flip, the
// evaluation centre crop, prefetch order, and the errors for corrupt files and wrong layouts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import {
  DataError,
  IMAGENET_MEAN,
  IMAGENET_STD,
  balancedCounts,
  centreOffset,
  decodeEvalImage,
  decodeTrainImage,
  evalResizeDims,
  evalResizeSide,
  fileBatches,
  loadFolderDataset,
  prefetched,
  randomResizedCropBox,
  type ImageBatch,
  type ImageFileList,
} from '../../src/data/index.js';
import { Rng } from '../../src/util/rng.js';
import { tempDir } from '../helpers.js';

type Rgb = [number, number, number];
const DOG: Rgb = [200, 100, 50];
const EEL: Rgb = [20, 220, 120];

function rawImage(width: number, height: number, colour: (x: number, y: number) => Rgb): Buffer {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(colour(x, y), (y * width + x) * 3);
  }
  return data;
}

async function writeImage(file: string, width: number, height: number, colour: (x: number, y: number) => Rgb): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  const img = sharp(rawImage(width, height, colour), { raw: { width, height, channels: 3 } });
  const png = /\.png$/i.test(file);
  writeFileSync(file, png ? await img.png().toBuffer() : await img.jpeg({ quality: 95 }).toBuffer());
}

/** Horizontal red ramp, vertical green ramp: any crop or flip shows in the pixels. */
const gradient =
  (w: number, h: number) =>
  (x: number, y: number): Rgb => [Math.round((255 * x) / (w - 1)), Math.round((255 * y) / (h - 1)), 128];

/**
 * ROOT/train: a_dog 6 solid images (PNG and JPEG, extensions in mixed case, several sizes),
 * b_cat 5 gradients, c_eel 4 solid JPEGs plus files that are not read; ROOT/val: a_dog 2, c_eel 1.
 */
async function makeFixture(): Promise<string> {
  const root = tempDir('imagenet-');
  const t = join(root, 'train');
  const sizes: [number, number][] = [
    [40, 30],
    [30, 50],
    [64, 64],
  ];
  const dogNames = ['dog0.png', 'dog1.PNG', 'dog2.png', 'dog3.jpg', 'dog4.JPEG', 'dog5.jpeg'];
  for (const [i, name] of dogNames.entries()) await writeImage(join(t, 'a_dog', name), ...sizes[i % 3], () => DOG);
  for (let i = 0; i < 5; i++) await writeImage(join(t, 'b_cat', `cat${i}.png`), 48, 40, gradient(48, 40));
  for (let i = 0; i < 4; i++) await writeImage(join(t, 'c_eel', `eel${i}.jpg`), 36, 36, () => EEL);
  writeFileSync(join(t, 'c_eel', 'notes.txt'), 'not an image');
  await writeImage(join(t, 'c_eel', 'nested', 'deep.png'), 8, 8, () => EEL);
  await writeImage(join(root, 'val', 'a_dog', 'v0.png'), 50, 40, () => DOG);
  await writeImage(join(root, 'val', 'a_dog', 'v1.JPG'), 40, 50, () => DOG);
  await writeImage(join(root, 'val', 'c_eel', 'v2.jpeg'), 33, 33, () => EEL);
  return root;
}

const fixture = makeFixture();

const normalised = (rgb: Rgb): number[] => rgb.map((v, c) => (v / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c]);

/** Checks every pixel of image k of a batch against a colour, within `tol` of a byte. */
function assertSolid(b: ImageBatch, k: number, size: number, rgb: Rgb, tolBytes: number): void {
  const want = normalised(rgb);
  const plane = size * size;
  for (let c = 0; c < 3; c++) {
    const tol = tolBytes / 255 / IMAGENET_STD[c] + 1e-5;
    for (let p = 0; p < plane; p++) {
      const v = b.x[k * 3 * plane + c * plane + p];
      if (Math.abs(v - want[c]) > tol) assert.fail(`image ${k} channel ${c} pixel ${p}: ${v}, expected ${want[c]} ± ${tol}`);
    }
  }
}

async function collect(it: AsyncIterable<ImageBatch>): Promise<ImageBatch[]> {
  const out: ImageBatch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

const countsPerClass = (l: ImageFileList, classes: number): number[] => {
  const c = new Array<number>(classes).fill(0);
  for (const y of l.labels) c[y]++;
  return c;
};

test('classes are the sorted train folders; the held-out and training subsets are class-balanced, seeded and disjoint', async () => {
  const root = await fixture;
  const ds = loadFolderDataset({ dataDir: root, searchPaths: [], valSize: 3, trainLimit: 6, seed: 0 });
  assert.equal(ds.name, 'imagenet');
  assert.equal(ds.root, root);
  assert.deepEqual(ds.classes, ['a_dog', 'b_cat', 'c_eel']);
  assert.deepEqual(ds.sources, [join(root, 'train'), join(root, 'val')]);
  assert.deepEqual(countsPerClass(ds.val, 3), [1, 1, 1]);
  assert.deepEqual(countsPerClass(ds.train, 3), [2, 2, 2]);
  for (const list of [ds.train, ds.val, ds.test]) {
    list.files.forEach((f, i) => assert.equal(basename(dirname(f)), ds.classes[list.labels[i]], `${f} has label ${list.labels[i]}`));
  }
  assert.ok(!ds.train.files.some((f) => ds.val.files.includes(f)), 'validation is held out of training');
  assert.ok([...ds.train.files, ...ds.val.files].every((f) => f.startsWith(join(root, 'train'))));
  assert.ok(!ds.train.files.some((f) => f.endsWith('notes.txt') || f.includes('nested')), 'other files and nested folders are not read');
  // The test split is ROOT/val, whole, labelled by the train classes.
  assert.deepEqual(ds.test.files, [join(root, 'val', 'a_dog', 'v0.png'), join(root, 'val', 'a_dog', 'v1.JPG'), join(root, 'val', 'c_eel', 'v2.jpeg')]);
  assert.deepEqual([...ds.test.labels], [0, 0, 2]);

  assert.deepEqual(loadFolderDataset({ dataDir: root, searchPaths: [], valSize: 3, trainLimit: 6, seed: 0 }), ds, 'same seed, same subsets');
  const picks = (seed: number): string[] => loadFolderDataset({ dataDir: root, searchPaths: [], valSize: 3, trainLimit: 6, seed }).val.files;
  assert.ok([1, 2, 3, 4].some((s) => picks(s).join() !== ds.val.files.join()), 'another seed draws other images');

  // Defaults: everything not held out; validation does not depend on trainLimit.
  const all = loadFolderDataset({ dataDir: root, searchPaths: [], valSize: 3, seed: 0 });
  assert.deepEqual(countsPerClass(all.train, 3), [5, 4, 3]);
  assert.deepEqual(all.val, ds.val);
  // 11 of the 12 left: 3 each, then the two classes with images to spare get one more.
  assert.deepEqual(countsPerClass(loadFolderDataset({ dataDir: root, searchPaths: [], valSize: 3, trainLimit: 11, seed: 0 }).train, 3), [4, 4, 3]);
  assert.throws(() => loadFolderDataset({ dataDir: root, searchPaths: [], valSize: 3, trainLimit: 13, seed: 0 }), /trainLimit must be an integer in \[1, 12\] \(.* has 15 training images, 3 of them held out for validation\), got 13$/);
  assert.throws(() => loadFolderDataset({ dataDir: root, searchPaths: [], seed: 0 }), /valSize must be an integer in \[0, 14\] \(.* has 15 training images and at least one must be left to train on\), got 5000$/);
});

test('balancedCounts spreads picks evenly, gives small classes all they have, and draws the remainder with the rng', () => {
  assert.deepEqual(balancedCounts([10, 1, 10], 15, new Rng(0)), [7, 1, 7]);
  assert.deepEqual(balancedCounts([80, 80, 80, 80], 8, new Rng(0)), [2, 2, 2, 2]);
  assert.deepEqual(balancedCounts([5, 0, 5], 10, new Rng(0)), [5, 0, 5]);
  const r = balancedCounts([3, 3, 3, 3], 6, new Rng(4));
  assert.equal(r.reduce((a, b) => a + b, 0), 6);
  assert.ok(r.every((c) => c === 1 || c === 2));
  assert.deepEqual(balancedCounts([3, 3, 3, 3], 6, new Rng(4)), r);
  const seen = new Set([0, 1, 2, 3, 4, 5, 6, 7].map((s) => balancedCounts([3, 3, 3, 3], 6, new Rng(s)).join()));
  assert.ok(seen.size > 1, 'the remainder goes to classes drawn with the rng');
  assert.throws(() => balancedCounts([2, 2], 5, new Rng(0)), (e) => e instanceof DataError && /cannot draw 5 images from classes holding 4/.test(e.message));
});

test('evaluation batches: shapes, labels in order, solid colours decode to their normalised values (PNG exactly, JPEG within tolerance)', async () => {
  const root = await fixture;
  const ds = loadFolderDataset({ dataDir: root, searchPaths: [], valSize: 3, seed: 0 });
  const size = 16;
  const batches = await collect(fileBatches(ds.test, { batchSize: 2, size, transform: 'eval' }));
  assert.deepEqual(
    batches.map((b) => b.n),
    [2, 1],
  );
  assert.deepEqual(
    batches.flatMap((b) => [...b.y]),
    [0, 0, 2],
  );
  for (const b of batches) assert.equal(b.x.length, b.n * 3 * size * size);
  assertSolid(batches[0], 0, size, DOG, 0); // v0.png
  assertSolid(batches[0], 1, size, DOG, 3); // v1.JPG
  assertSolid(batches[1], 0, size, EEL, 3); // v2.jpeg

  // Training crops of a solid image are that colour too, at any crop and flip.
  const dogs: ImageFileList = { files: ds.train.files.filter((f) => f.includes('a_dog')), labels: new Int32Array(5) };
  const train = await collect(fileBatches(dogs, { batchSize: 5, size: 24, transform: 'train', rng: new Rng(1) }));
  assert.equal(train.length, 1);
  for (let k = 0; k < 5; k++) assertSolid(train[0], k, 24, DOG, /\.png$/i.test(dogs.files[k]) ? 0 : 3);
});

test('random-resized-crop boxes are seeded, inside the image, of 8-100% area and aspect 3/4-4/3; a hopeless shape falls back to the centre', () => {
  assert.deepEqual(randomResizedCropBox(100, 80, new Rng(5)), randomResizedCropBox(100, 80, new Rng(5)));
  const boxes = new Set<string>();
  for (let s = 0; s < 300; s++) {
    const b = randomResizedCropBox(100, 80, new Rng(s));
    boxes.add(JSON.stringify(b));
    assert.ok(b.left >= 0 && b.top >= 0 && b.left + b.width <= 100 && b.top + b.height <= 80, JSON.stringify(b));
    const area = (b.width * b.height) / 8000;
    assert.ok(area >= 0.07 && area <= 1, `area fraction ${area}`);
    if (b.width < 100 || b.height < 80) {
      const aspect = b.width / b.height;
      assert.ok(aspect > 0.7 && aspect < 1.4, `aspect ${aspect} of ${JSON.stringify(b)}`);
    }
  }
  assert.ok(boxes.size > 250, `${boxes.size} distinct boxes in 300 draws`);
  // 1000x10: no 8%-of-area box with aspect <= 4/3 fits in 10 rows, so the centre 13x10 is used.
  assert.deepEqual(randomResizedCropBox(1000, 10, new Rng(0)), { left: 493, top: 0, width: 13, height: 10 });
  assert.deepEqual(randomResizedCropBox(10, 1000, new Rng(0)), { left: 0, top: 493, width: 10, height: 13 });
});

test('training batches depend only on the seed; the rng is advanced when the epoch is made; flips follow the rng', async () => {
  const root = await fixture;
  const ds = loadFolderDataset({ dataDir: root, searchPaths: [], valSize: 0, seed: 0 });
  const cats: ImageFileList = { files: ds.train.files.filter((f) => f.includes('b_cat')), labels: Int32Array.from([1, 1, 1, 1, 1]) };
  const run = async (seed: number, prefetch: number): Promise<{ x: number[]; state: number[] }> => {
    const rng = new Rng(seed);
    const epoch = fileBatches(cats, { batchSize: 2, size: 20, transform: 'train', rng, prefetch });
    const state = rng.getState();
    const x = (await collect(epoch)).flatMap((b) => [...b.x]);
    assert.deepEqual(rng.getState(), state, 'decoding draws nothing more from the epoch rng');
    return { x, state };
  };
  const a = await run(7, 2);
  const b = await run(7, 0);
  assert.deepEqual(b.x, a.x, 'identical with and without read-ahead');
  const c = await run(8, 2);
  assert.notDeepEqual(c.x, a.x);
  assert.notDeepEqual(c.state, a.state);

  // The image's own rng draws the box, then the flip: a left-to-right red ramp stays increasing
  // unless flipped.
  const file = cats.files[0];
  const size = 12;
  const flips = new Set<boolean>();
  for (let s = 0; s < 12; s++) {
    const out = new Float32Array(3 * size * size);
    await decodeTrainImage(file, size, new Rng(s), { mean: IMAGENET_MEAN, std: IMAGENET_STD }, out, 0);
    const replay = new Rng(s);
    randomResizedCropBox(48, 40, replay);
    const flip = replay.nextFloat() < 0.5;
    flips.add(flip);
    const row = out.subarray(0, size);
    assert.equal(row[size - 1] > row[0], !flip, `seed ${s}: first row ${row[0]} .. ${row[size - 1]}, flip ${flip}`);
  }
  assert.deepEqual(flips, new Set([true, false]));
});

test('evaluation resizes the shorter side to S/0.875 and takes the centre S x S crop', async () => {
  assert.equal(evalResizeSide(224), 256);
  assert.equal(evalResizeSide(16), 18);
  assert.equal(centreOffset(256, 224), 16);
  assert.equal(centreOffset(37, 16), 10, 'a half pixel rounds to even, as torchvision');
  assert.equal(centreOffset(39, 16), 12);
  const dir = tempDir('centre-');
  // Red | green | blue bands: resized to 72x18, the centre 16 columns (28..43) lie in the green band.
  const stripes = (along: number) => (i: number): Rgb => (i < 40 ? [255, 0, 0] : i < along - 40 ? [0, 255, 0] : [0, 0, 255]);
  const wide = join(dir, 'wide.png');
  const tall = join(dir, 'tall.png');
  await writeImage(wide, 128, 32, (x) => stripes(128)(x));
  await writeImage(tall, 32, 128, (_x, y) => stripes(128)(y));
  const [b] = await collect(fileBatches({ files: [wide, tall], labels: new Int32Array(2) }, { batchSize: 2, size: 16, transform: 'eval' }));
  assertSolid(b, 0, 16, [0, 255, 0], 1);
  assertSolid(b, 1, 16, [0, 255, 0], 1);
});

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('prefetched keeps `depth` jobs running ahead and yields results in job order, whatever order they finish in', async () => {
  let running = 0;
  let peak = 0;
  const started: number[] = [];
  const jobs = Array.from({ length: 8 }, (_, i) => async (): Promise<number> => {
    started.push(i);
    running++;
    peak = Math.max(peak, running);
    await delay((8 - i) * 4); // later jobs finish first
    running--;
    return i;
  });
  const got: number[] = [];
  for await (const v of prefetched(jobs, 2)) {
    assert.equal(started.length, Math.min(8, v + 3), `jobs started when item ${v} arrives`);
    got.push(v);
  }
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(peak, 3);

  running = 0;
  peak = 0;
  started.length = 0;
  got.length = 0;
  for await (const v of prefetched(jobs, 0)) got.push(v);
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(peak, 1, 'depth 0: one job at a time');
});

test('a failing job is reported at its turn, after the items before it, and never as an unhandled rejection', async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => void unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    const jobs = [0, 1, 2, 3].map((i) => async (): Promise<number> => {
      if (i === 2) throw new Error('job 2 failed');
      await delay(20);
      return i;
    });
    const got: number[] = [];
    await assert.rejects(async () => {
      for await (const v of prefetched(jobs, 3)) {
        got.push(v);
        await delay(10);
      }
    }, /job 2 failed/);
    assert.deepEqual(got, [0, 1]);
    await delay(50);
    assert.deepEqual(unhandled, []);
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
});

test('corrupt, truncated and non-image files are DataErrors naming the file', async () => {
  const root = await fixture;
  const dir = tempDir('corrupt-');
  const garbage = join(dir, 'garbage.jpg');
  writeFileSync(garbage, 'this is not a JPEG');
  const jpeg = readFileSync(join(root, 'train', 'a_dog', 'dog3.jpg'));
  const truncated = join(dir, 'truncated.JPEG');
  writeFileSync(truncated, jpeg.subarray(0, Math.floor(jpeg.length / 2)));
  const good = join(dir, 'good.png');
  copyFileSync(join(root, 'train', 'a_dog', 'dog0.png'), good);
  for (const bad of [garbage, truncated]) {
    for (const transform of ['eval', 'train'] as const) {
      const list = { files: [good, bad], labels: new Int32Array(2) };
      await assert.rejects(collect(fileBatches(list, { batchSize: 1, size: 8, transform, rng: new Rng(0) })), (e) => {
        assert.ok(e instanceof DataError, String(e));
        assert.ok(e.message.startsWith(`${bad}: cannot decode the image (`), e.message);
        assert.match(e.message, /corrupt, truncated or not a JPEG\/PNG/);
        assert.deepEqual(e.paths, [bad]);
        return true;
      });
    }
  }
});

function dataError(fn: () => unknown): DataError {
  let err: unknown;
  assert.throws(fn, (e) => ((err = e), e instanceof DataError));
  return err as DataError;
}

test('wrong layouts are reported with the expected layout: no train/, flat val/, unknown val classes, empty classes', async () => {
  const empty = tempDir('nothing-');
  const e = dataError(() => loadFolderDataset({ dataDir: empty, searchPaths: [], seed: 0 }));
  assert.deepEqual(e.paths, [empty, join(empty, 'imagenet')]);
  assert.match(e.message, /^ImageNet not found: no train\/ folder in any of:/);
  assert.match(e.message, /ROOT\/train\/<class>\/\*\.\{jpg,jpeg,png\} and ROOT\/val\/<class>\//);
  assert.match(e.message, /--data-dir ROOT/);

  // ROOT found one level down, as dataDir/imagenet.
  const parent = tempDir('parent-');
  const flat = join(parent, 'imagenet');
  for (const c of ['n01', 'n02']) await writeImage(join(flat, 'train', c, 'a.png'), 8, 8, () => DOG);
  await writeImage(join(flat, 'val', 'ILSVRC2012_val_00000001.JPEG'), 8, 8, () => DOG);
  const f = dataError(() => loadFolderDataset({ dataDir: parent, searchPaths: [], valSize: 0, seed: 0 }));
  assert.match(f.message, /val holds 1 image file\(s\) directly \(e\.g\. ILSVRC2012_val_00000001\.JPEG\): that is ILSVRC's flat validation layout, which this loader does not read/);
  assert.ok(f.message.startsWith(join(flat, 'val')));

  const odd = tempDir('odd-');
  for (const c of ['n01', 'n02']) await writeImage(join(odd, 'train', c, 'a.png'), 8, 8, () => DOG);
  await writeImage(join(odd, 'val', 'n03', 'b.png'), 8, 8, () => DOG);
  assert.match(dataError(() => loadFolderDataset({ dataDir: odd, searchPaths: [], valSize: 0, seed: 0 })).message, /class folder\(s\) n03 are not classes of/);

  mkdirSync(join(odd, 'train', 'n04'));
  assert.equal(dataError(() => loadFolderDataset({ dataDir: odd, searchPaths: [], valSize: 0, seed: 0 })).message, `${join(odd, 'train', 'n04')}: no .jpg/.jpeg/.png files in this class folder`);

  const noVal = tempDir('noval-');
  for (const c of ['n01', 'n02']) await writeImage(join(noVal, 'train', c, 'a.png'), 8, 8, () => DOG);
  assert.match(dataError(() => loadFolderDataset({ dataDir: noVal, searchPaths: [], valSize: 0, seed: 0 })).message, /val: missing; expected the layout/);
});

test('evaluation truncates the longer side as torchvision does (640x427 -> 383x256), not rounding it as sharp would', async () => {
  assert.deepEqual(evalResizeDims(640, 427, 256), { width: 383, height: 256 });
  assert.deepEqual(evalResizeDims(427, 640, 256), { width: 256, height: 383 });
  assert.deepEqual(evalResizeDims(500, 375, 256), { width: 341, height: 256 });
  assert.deepEqual(evalResizeDims(300, 300, 256), { width: 256, height: 256 });

  // 40x27 at S = 16: the shorter side becomes 18 and the longer floor(18 * 40 / 27) = floor(26.67) = 26.
  const file = join(tempDir('trunc-'), 'ramp.png');
  await writeImage(file, 40, 27, gradient(40, 27));
  const size = 16;
  const got = new Float32Array(3 * size * size);
  await decodeEvalImage(file, size, { mean: IMAGENET_MEAN, std: IMAGENET_STD }, got, 0);
  const reference = async (width: number): Promise<Float32Array> => {
    const { data } = await sharp(file).resize(width, 18, { fit: 'fill', kernel: 'linear' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const left = centreOffset(width, size);
    const top = centreOffset(18, size);
    const out = new Float32Array(3 * size * size);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) out[c * size * size + y * size + x] = data[((top + y) * width + left + x) * 3 + c] / (255 * IMAGENET_STD[c]) - IMAGENET_MEAN[c] / IMAGENET_STD[c];
      }
    }
    return out;
  };
  const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
  assert.ok(maxDiff(got, await reference(26)) < 1e-5, 'resized to 26x18, then the centre crop');
  assert.ok(maxDiff(got, await reference(27)) > 0.01, 'not to the rounded 27x18');
});
