import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CROP_PAD, DataError, defaultImageAugment, imageBatchCount, imageBatches, lmBatchCount, lmBatches, type ImageSplit } from '../../src/data/index.js';
import { Rng } from '../../src/util/rng.js';

/** n images of C×H×W; every pixel of image i in channel c at (y, x) is i*1000 + c*100 + y*10 + x. */
function synthetic(n: number, C = 1, H = 4, W = 5): ImageSplit {
  const per = C * H * W;
  const images = new Float32Array(n * per);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < C; c++) {
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) images[i * per + (c * H + y) * W + x] = i * 1000 + c * 100 + y * 10 + x;
    }
  }
  const labels = Int32Array.from({ length: n }, (_, i) => i);
  return { images, labels, n, channels: C, height: H, width: W };
}

function epochOrder(split: ImageSplit, batchSize: number, rng?: Rng, dropLast = false): { order: number[]; sizes: number[] } {
  const order: number[] = [];
  const sizes: number[] = [];
  const per = split.channels * split.height * split.width;
  for (const b of imageBatches(split, { batchSize, rng, dropLast })) {
    assert.equal(b.x.length, b.n * per);
    assert.equal(b.y.length, b.n);
    for (let k = 0; k < b.n; k++) {
      order.push(b.y[k]);
      assert.deepEqual(b.x.subarray(k * per, (k + 1) * per), split.images.subarray(b.y[k] * per, (b.y[k] + 1) * per));
    }
    sizes.push(b.n);
  }
  return { order, sizes };
}

test('image batches cover every example exactly once per epoch, last partial batch included', () => {
  const split = synthetic(23);
  const plain = epochOrder(split, 5);
  assert.deepEqual(plain.sizes, [5, 5, 5, 5, 3]);
  assert.deepEqual(plain.order, Array.from({ length: 23 }, (_, i) => i));
  assert.equal(imageBatchCount(23, 5), 5);

  const rng = new Rng(4);
  const e1 = epochOrder(split, 5, rng);
  const e2 = epochOrder(split, 5, rng);
  for (const e of [e1, e2]) {
    assert.deepEqual(e.sizes, [5, 5, 5, 5, 3]);
    assert.deepEqual([...e.order].sort((a, b) => a - b), plain.order);
  }
  assert.notDeepEqual(e1.order, plain.order);
  assert.notDeepEqual(e1.order, e2.order, 'each epoch reshuffles');
  assert.deepEqual(epochOrder(split, 5, new Rng(4)).order, e1.order, 'same seed, same order');
  assert.notDeepEqual(epochOrder(split, 5, new Rng(5)).order, e1.order);

  const dropped = epochOrder(split, 5, new Rng(4), true);
  assert.deepEqual(dropped.sizes, [5, 5, 5, 5]);
  assert.equal(new Set(dropped.order).size, 20);
  assert.deepEqual(dropped.order, e1.order.slice(0, 20));
  assert.equal(imageBatchCount(23, 5, true), 4);

  assert.deepEqual(epochOrder(split, 100).sizes, [23]);
  assert.deepEqual(epochOrder(synthetic(0), 4).sizes, []);
  assert.throws(() => imageBatches(split, { batchSize: 0 }).next(), DataError);
});

/** Finds the (dy, dx, flip) that explains an augmented image, or null. */
function explain(
  out: Float32Array,
  split: ImageSplit,
  i: number,
  pad: number,
  padValue: number[],
  flips: boolean[],
): { dy: number; dx: number; flip: boolean } | null {
  const { channels: C, height: H, width: W } = split;
  const per = C * H * W;
  for (const flip of flips) {
    for (let dy = -pad; dy <= pad; dy++) {
      for (let dx = -pad; dx <= pad; dx++) {
        let ok = true;
        for (let c = 0; c < C && ok; c++) {
          for (let y = 0; y < H && ok; y++) {
            for (let x = 0; x < W && ok; x++) {
              const cx = flip ? W - 1 - x : x;
              const sy = y + dy;
              const sx = cx + dx;
              const want =
                sy >= 0 && sy < H && sx >= 0 && sx < W ? split.images[i * per + (c * H + sy) * W + sx] : padValue[c];
              ok = out[(c * H + y) * W + x] === want;
            }
          }
        }
        if (ok) return { dy, dx, flip };
      }
    }
  }
  return null;
}

test('random crop keeps the shape, is a padded shift of the input, and is seeded', () => {
  const split = synthetic(40, 2, 6, 5);
  const per = 2 * 6 * 5;
  const augment = { cropPad: 2, hflip: false, padValue: [-0.5, -7] };
  const run = (seed: number) => [...imageBatches(split, { batchSize: 16, rng: new Rng(seed), augment })];
  const a = run(1);
  assert.deepEqual(
    a.map((b) => b.n),
    [16, 16, 8],
  );
  const shifts = new Set<string>();
  for (const b of a) {
    assert.equal(b.x.length, b.n * per);
    for (let k = 0; k < b.n; k++) {
      const e = explain(b.x.subarray(k * per, (k + 1) * per), split, b.y[k], 2, augment.padValue, [false]);
      assert.ok(e !== null, `image ${b.y[k]} is not a padded shift of its source`);
      shifts.add(`${e.dy},${e.dx}`);
    }
  }
  assert.ok(shifts.size > 10, `only ${shifts.size} distinct shifts`);

  const same = run(1);
  assert.deepEqual(
    same.map((b) => Array.from(b.x)),
    a.map((b) => Array.from(b.x)),
  );
  assert.notDeepEqual(
    run(2).map((b) => Array.from(b.x)),
    a.map((b) => Array.from(b.x)),
  );

  // cropPad 0 without flip is the identity.
  for (const b of imageBatches(split, { batchSize: 7, rng: new Rng(3), augment: { ...augment, cropPad: 0 } })) {
    for (let k = 0; k < b.n; k++) assert.deepEqual(b.x.subarray(k * per, (k + 1) * per), split.images.subarray(b.y[k] * per, (b.y[k] + 1) * per));
  }
  assert.throws(() => imageBatches(split, { batchSize: 4, augment }).next(), /needs an rng/);
  assert.deepEqual(defaultImageAugment({ padValue: [-0.81] }), { cropPad: DEFAULT_CROP_PAD, hflip: false, padValue: [-0.81] });
  assert.equal(DEFAULT_CROP_PAD, 2);
  assert.throws(() => imageBatches(split, { batchSize: 4, rng: new Rng(1), augment: { ...augment, padValue: [0] } }).next(), DataError);
});

test('horizontal flip mirrors about half the images, and combines with crop', () => {
  const split = synthetic(200, 1, 4, 5);
  const per = 20;
  let flipped = 0;
  for (const b of imageBatches(split, { batchSize: 64, rng: new Rng(8), augment: { cropPad: 0, hflip: true, padValue: [0] } })) {
    for (let k = 0; k < b.n; k++) {
      const e = explain(b.x.subarray(k * per, (k + 1) * per), split, b.y[k], 0, [0], [false, true]);
      assert.ok(e !== null);
      if (e.flip) flipped++;
    }
  }
  assert.ok(flipped > 70 && flipped < 130, `flipped ${flipped} of 200`);
  for (const b of imageBatches(split, { batchSize: 64, rng: new Rng(9), augment: { cropPad: 1, hflip: true, padValue: [-1] } })) {
    for (let k = 0; k < b.n; k++) {
      assert.ok(explain(b.x.subarray(k * per, (k + 1) * per), split, b.y[k], 1, [-1], [false, true]) !== null);
    }
  }
});

test('LM batches: contiguous rows, targets shifted by one, short last window', () => {
  const tokens = Int32Array.from({ length: 50 }, (_, i) => i);
  const batches = [...lmBatches(tokens, { batchSize: 3, seqLen: 4 })];
  // 50 tokens / 3 rows → 16 per row (2 dropped); 15 predictable positions → windows 4, 4, 4, 3.
  assert.deepEqual(
    batches.map((b) => b.seqLen),
    [4, 4, 4, 3],
  );
  assert.equal(lmBatchCount(50, { batchSize: 3, seqLen: 4 }), 4);
  for (const b of batches) {
    assert.equal(b.batchSize, 3);
    assert.equal(b.x.length, 3 * b.seqLen);
    for (let i = 0; i < b.x.length; i++) assert.equal(b.y[i], b.x[i] + 1);
  }
  assert.deepEqual(Array.from(batches[0].x), [0, 1, 2, 3, 16, 17, 18, 19, 32, 33, 34, 35]);
  assert.deepEqual(Array.from(batches[3].y), [13, 14, 15, 29, 30, 31, 45, 46, 47]);
  // Row b of successive windows continues the same text.
  for (let b = 0; b < 3; b++) {
    const row = batches.flatMap((w) => Array.from(w.x.subarray(b * w.seqLen, (b + 1) * w.seqLen)));
    assert.deepEqual(row, Array.from({ length: 15 }, (_, t) => b * 16 + t));
  }

  // Shift holds for arbitrary token values too.
  const rng = new Rng(2);
  const rand = Int32Array.from({ length: 1000 }, () => rng.nextInt(50));
  for (const w of lmBatches(rand, { batchSize: 7, seqLen: 35 })) {
    for (let b = 0; b < 7; b++) {
      for (let t = 0; t + 1 < w.seqLen; t++) assert.equal(w.y[b * w.seqLen + t], w.x[b * w.seqLen + t + 1]);
    }
  }
  assert.throws(() => lmBatches(new Int32Array(5), { batchSize: 3, seqLen: 2 }).next(), /too few/);
  assert.throws(() => lmBatches(tokens, { batchSize: 3, seqLen: 0 }).next(), DataError);
});
