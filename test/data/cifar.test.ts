// CIFAR-10 / CIFAR-100 binary batches, on files written byte by byte here: record layout and
// decoding order, the seeded validation split, normalisation, the augmentation, and the errors
// for missing, truncated and corrupt files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CIFAR_CROP_PAD,
  DataError,
  cifarAugment,
  cifarAvailable,
  loadCifarTask,
  type ImageSplit,
  type ImageTask,
} from '../../src/data/index.js';
import { tempDir } from '../helpers.js';

const PIXELS = 3 * 32 * 32;
const CIFAR10_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

/**
 * A pixel byte that differs by file, record and position, with a range (and so statistics) of its
 * own per channel: decoding order and per-channel normalisation are both checkable.
 */
const pixel = (file: number, record: number, channel: number, p: number): number => (file * 31 + record * 7 + p * 3) % (256 - 64 * channel);

function records(file: number, labels: number[][]): Uint8Array {
  const recLen = labels[0].length + PIXELS;
  const out = new Uint8Array(labels.length * recLen);
  labels.forEach((ls, r) => {
    out.set(ls, r * recLen);
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) out[r * recLen + ls.length + c * 1024 + p] = pixel(file, r, c, p);
  });
  return out;
}

const PER_BATCH = 8;
const cifar10Label = (file: number, r: number): number => (file * PER_BATCH + r) % 10;

/** cifar-10-batches-bin/ with 5 × 8 training records and 6 test records, under a fresh folder. */
function cifar10Fixture(): { root: string; dir: string } {
  const root = tempDir('cifar10-');
  const dir = join(root, 'cifar-10-batches-bin');
  mkdirSync(dir);
  for (let f = 1; f <= 5; f++) {
    writeFileSync(join(dir, `data_batch_${f}.bin`), records(f, Array.from({ length: PER_BATCH }, (_, r) => [cifar10Label(f, r)])));
  }
  writeFileSync(join(dir, 'test_batch.bin'), records(9, Array.from({ length: 6 }, (_, r) => [r % 10])));
  writeFileSync(join(dir, 'batches.meta.txt'), `${CIFAR10_NAMES.join('\n')}\n\n`);
  return { root, dir };
}

/** The byte a normalised value came from. */
function byteOf(task: ImageTask, v: number, c: number): number {
  return Math.round((v * task.std[c] + task.mean[c]) * 255) + 0; // + 0 turns -0 into 0
}

function channelMoments(split: ImageSplit, c: number): { mean: number; std: number } {
  let s = 0;
  let q = 0;
  const plane = split.height * split.width;
  for (let i = 0; i < split.n; i++) {
    const off = i * 3 * plane + c * plane;
    for (let p = 0; p < plane; p++) {
      const v = split.images[off + p];
      s += v;
      q += v * v;
    }
  }
  const n = split.n * plane;
  return { mean: s / n, std: Math.sqrt(q / n - (s / n) ** 2) };
}

test('CIFAR-10 records decode in file order, channel-major, with their labels and class names', () => {
  const { root, dir } = cifar10Fixture();
  // --data-dir may name the folder holding cifar-10-batches-bin/ or the folder itself.
  for (const dataDir of [root, dir]) {
    const t = loadCifarTask({ task: 'cifar10', dataDir, searchPaths: [], valSize: 10, seed: 3 });
    assert.equal(t.name, 'cifar10');
    assert.equal(t.numClasses, 10);
    assert.deepEqual(t.classNames, CIFAR10_NAMES);
    assert.deepEqual(t.sources, [
      ...[1, 2, 3, 4, 5].map((f) => join(dir, `data_batch_${f}.bin`)),
      join(dir, 'test_batch.bin'),
      join(dir, 'batches.meta.txt'),
    ]);
    assert.equal(t.train.n, 30);
    assert.equal(t.val.n, 10);
    assert.equal(t.test.n, 6);
    for (const s of [t.train, t.val, t.test]) {
      assert.deepEqual([s.channels, s.height, s.width], [3, 32, 32]);
      assert.equal(s.images.length, s.n * PIXELS);
    }
    // Position k of the training file is record k % 8 of data_batch_(1 + k / 8).
    for (const [split, idx] of [
      [t.train, t.trainIndices],
      [t.val, t.valIndices],
    ] as const) {
      for (let i = 0; i < split.n; i++) {
        const f = 1 + Math.floor(idx[i] / PER_BATCH);
        const r = idx[i] % PER_BATCH;
        assert.equal(split.labels[i], cifar10Label(f, r));
        for (const [c, p] of [
          [0, 0],
          [0, 33],
          [1, 500],
          [2, 1023],
        ]) {
          assert.equal(byteOf(t, split.images[i * PIXELS + c * 1024 + p], c), pixel(f, r, c, p), `image ${i} channel ${c} pixel ${p}`);
        }
      }
    }
    // The test file is read whole, in order.
    for (let i = 0; i < 6; i++) {
      assert.equal(t.test.labels[i], i % 10);
      assert.equal(byteOf(t, t.test.images[i * PIXELS + 2 * 1024 + 7], 2), pixel(9, i, 2, 7));
    }
  }
});

test('the validation split is seeded, disjoint from train, independent of trainLimit; train is normalised per channel', () => {
  const { root } = cifar10Fixture();
  const load = (seed: number, trainLimit?: number): ImageTask => loadCifarTask({ task: 'cifar10', dataDir: root, searchPaths: [], valSize: 10, trainLimit, seed });
  const a = load(1);
  const b = load(1);
  const c = load(2);
  assert.deepEqual(b.valIndices, a.valIndices);
  assert.deepEqual(b.train.images, a.train.images);
  assert.notDeepEqual(c.valIndices, a.valIndices);
  const all = [...a.trainIndices, ...a.valIndices].sort((x, y) => x - y);
  assert.deepEqual(all, Array.from({ length: 40 }, (_, i) => i), 'train and validation partition the training file');
  const limited = load(1, 12);
  assert.equal(limited.train.n, 12);
  assert.deepEqual(limited.valIndices, a.valIndices);
  assert.deepEqual(limited.trainIndices, a.trainIndices.slice(0, 12));

  for (let ch = 0; ch < 3; ch++) {
    const m = channelMoments(a.train, ch);
    assert.ok(Math.abs(m.mean) < 1e-4, `channel ${ch} train mean ${m.mean}`);
    assert.ok(Math.abs(m.std - 1) < 1e-4, `channel ${ch} train std ${m.std}`);
    assert.ok(Math.abs(a.padValue[ch] - -a.mean[ch] / a.std[ch]) < 1e-6);
  }
  // Statistics come from the train split only: the three channels differ, and so do their stats.
  assert.notEqual(a.mean[0], a.mean[1]);

  assert.deepEqual(cifarAugment(a), { cropPad: CIFAR_CROP_PAD, hflip: true, padValue: a.padValue });
  assert.equal(CIFAR_CROP_PAD, 4);
  assert.throws(
    () => loadCifarTask({ task: 'cifar10', dataDir: root, searchPaths: [], seed: 1 }),
    (e) => e instanceof DataError && e.option === 'valSize' && /^valSize must be an integer in \[0, 39\] \(cifar10 has 40 training images and at least one must be left to train on\), got 5000$/.test(e.message),
    'the default valSize (5000, 10% of the real 50,000) does not fit a 40-image fixture',
  );
});

test('CIFAR-100 uses the fine label (second byte) and fine_label_names.txt', () => {
  const root = tempDir('cifar100-');
  const dir = join(root, 'cifar-100-binary');
  mkdirSync(dir);
  const trainLabels = Array.from({ length: 20 }, (_, r) => [r % 20, (r * 7) % 100]);
  writeFileSync(join(dir, 'train.bin'), records(1, trainLabels));
  writeFileSync(join(dir, 'test.bin'), records(2, [[3, 99], [19, 0], [0, 42]]));
  const fine = Array.from({ length: 100 }, (_, i) => `class_${i}`);
  writeFileSync(join(dir, 'fine_label_names.txt'), `${fine.join('\n')}\n`);
  const t = loadCifarTask({ task: 'cifar100', dataDir: root, searchPaths: [], valSize: 5, seed: 0 });
  assert.equal(t.numClasses, 100);
  assert.deepEqual(t.classNames, fine);
  assert.deepEqual([...t.test.labels], [99, 0, 42]);
  for (let i = 0; i < t.train.n; i++) assert.equal(t.train.labels[i], (t.trainIndices[i] * 7) % 100);
  assert.equal(byteOf(t, t.test.images[PIXELS + 1024 + 5], 1), pixel(2, 1, 1, 5), 'pixels start after the two label bytes');

  // Names are optional: without the file the task loads, unnamed.
  const bare = tempDir('cifar100-bare-');
  writeFileSync(join(bare, 'train.bin'), records(1, trainLabels));
  writeFileSync(join(bare, 'test.bin'), records(2, [[3, 99]]));
  assert.equal(loadCifarTask({ task: 'cifar100', dataDir: bare, searchPaths: [], valSize: 5, seed: 0 }).classNames, undefined);
});

function dataError(fn: () => unknown): DataError {
  let err: unknown;
  assert.throws(fn, (e) => ((err = e), e instanceof DataError));
  return err as DataError;
}

test('a missing dataset names every folder tried and how to get it', () => {
  const empty = tempDir('cifar-empty-');
  const other = tempDir('cifar-other-');
  const e = dataError(() => loadCifarTask({ task: 'cifar10', dataDir: empty, searchPaths: [other], valSize: 1, seed: 0 }));
  const tried = [empty, join(empty, 'cifar-10-batches-bin'), other, join(other, 'cifar-10-batches-bin')];
  assert.deepEqual(e.paths, tried);
  for (const p of tried) assert.ok(e.message.includes(p), e.message);
  assert.match(e.message, /^CIFAR-10 not found/);
  assert.match(e.message, /data_batch_1\.bin, .*test_batch\.bin/);
  assert.match(e.message, /cifar-10-binary\.tar\.gz/);
  assert.match(e.message, /--data-dir DIR/);
  assert.equal(cifarAvailable('cifar10', empty, []), false);
  assert.match(dataError(() => loadCifarTask({ task: 'cifar100', dataDir: empty, searchPaths: [], seed: 0 })).message, /CIFAR-100 not found[^]*train\.bin, test\.bin[^]*cifar-100-binary/);

  // Some files but not all: an error, not a reason to look elsewhere.
  const { dir } = cifar10Fixture();
  const partial = tempDir('cifar-partial-');
  writeFileSync(join(partial, 'data_batch_1.bin'), records(1, [[1]]));
  const p = dataError(() => loadCifarTask({ task: 'cifar10', dataDir: partial, searchPaths: [dir], valSize: 1, seed: 0 }));
  assert.match(p.message, /is incomplete: it has data_batch_1\.bin but lacks data_batch_2\.bin, .*test_batch\.bin/);
  assert.ok(p.message.includes(partial));
});

test('truncated files and out-of-range labels are reported with the file and the problem', () => {
  const { dir } = cifar10Fixture();
  const batch3 = join(dir, 'data_batch_3.bin');
  const good = records(3, [[1], [2], [3]]);
  writeFileSync(batch3, good.subarray(0, good.length - 100));
  const t = dataError(() => loadCifarTask({ task: 'cifar10', dataDir: dir, searchPaths: [], valSize: 1, seed: 0 }));
  assert.ok(t.message.startsWith(`${batch3}: 9119 bytes is not a whole number of 3073-byte CIFAR-10 records`), t.message);
  assert.match(t.message, /2 records and 2973 bytes left over; the file is truncated/);

  writeFileSync(batch3, new Uint8Array(0));
  assert.match(dataError(() => loadCifarTask({ task: 'cifar10', dataDir: dir, searchPaths: [], valSize: 1, seed: 0 })).message, /data_batch_3\.bin: 0 bytes .*the file is empty/);

  writeFileSync(batch3, records(3, [[1], [10], [3]]));
  const l = dataError(() => loadCifarTask({ task: 'cifar10', dataDir: dir, searchPaths: [], valSize: 1, seed: 0 }));
  assert.equal(l.message, `${batch3}: record 1 has label 10, outside 0..9; the file is corrupt`);

  writeFileSync(batch3, records(3, [[1]]));
  writeFileSync(join(dir, 'batches.meta.txt'), 'airplane\nautomobile\n');
  assert.match(dataError(() => loadCifarTask({ task: 'cifar10', dataDir: dir, searchPaths: [], valSize: 1, seed: 0 })).message, /batches\.meta\.txt: 2 class names, expected 10/);

  const c100 = tempDir('cifar100-bad-');
  writeFileSync(join(c100, 'train.bin'), records(1, [[0, 5], [20, 5]]));
  writeFileSync(join(c100, 'test.bin'), records(2, [[0, 5]]));
  assert.equal(
    dataError(() => loadCifarTask({ task: 'cifar100', dataDir: c100, searchPaths: [], valSize: 1, seed: 0 })).message,
    `${join(c100, 'train.bin')}: record 1 has coarse label 20, outside 0..19; the file is corrupt`,
  );
  writeFileSync(join(c100, 'train.bin'), records(1, [[0, 5], [1, 100]]));
  assert.match(dataError(() => loadCifarTask({ task: 'cifar100', dataDir: c100, searchPaths: [], valSize: 1, seed: 0 })).message, /record 1 has fine label 100, outside 0\.\.99/);
});
