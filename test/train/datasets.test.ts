// The trainer on asynchronous task data (batches decoded while the previous ones train), and the
// file-format tasks (cifar10, imagenet, ptb) through loadTask and train() on fixtures written here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { liveTensorCount } from '../../src/engine/index.js';
import { Rng } from '../../src/util/rng.js';
import { IMAGE_TASKS, TASKS, defaultConfig, isImageTask, loadTask, train, type TaskData, type TrainConfig, type TrainResult } from '../../src/train/index.js';
import { cifar10Fixture, tempDir, withoutSeconds } from '../helpers.js';

function outcome(r: TrainResult): unknown {
  const { trainSeconds: _t, history, ...rest } = r;
  return { ...rest, history: withoutSeconds(history) };
}

/** The same task, with every epoch and evaluation handed over asynchronously. */
function asAsync(d: TaskData): TaskData {
  return {
    ...d,
    epoch: async function* (bs, rng) {
      for await (const b of d.epoch(bs, rng)) {
        await new Promise((r) => setImmediate(r));
        yield b;
      }
    },
    evaluate: async (model, split, bs) => {
      await new Promise((r) => setImmediate(r));
      return d.evaluate(model, split, bs);
    },
  };
}

test('train() gives the same run whether batches and evaluations come synchronously or asynchronously', async () => {
  const config: TrainConfig = { ...defaultConfig('mnist', 'wrn-10-1'), trainLimit: 256, valSize: 128, epochs: 2, threads: 1, evalBatchSize: 128, evaluateTest: true };
  const opts = { seed: config.seed, trainLimit: config.trainLimit, valSize: config.valSize, augment: true, vocabSize: config.vocabSize, seqLen: config.seqLen };
  const sync = await train({ ...config, augment: true }, { data: loadTask('mnist', opts) });
  const before = liveTensorCount();
  const viaAsync = await train({ ...config, augment: true }, { data: asAsync(loadTask('mnist', opts)) });
  assert.deepEqual(outcome(viaAsync), outcome(sync));
  assert.ok(sync.test !== null && sync.test.accuracy !== undefined);
  assert.equal(liveTensorCount(), before);
});

test('task lists: every family is listed once; CIFAR and ImageNet augment by default, the MNIST family does not', () => {
  assert.deepEqual([...TASKS].sort(), ['cifar10', 'cifar100', 'fashion-mnist', 'imagenet', 'mnist', 'moby-dick', 'ptb', 'sotu', 'wikitext-103', 'wikitext-2']);
  assert.deepEqual(
    TASKS.filter((t) => isImageTask(t)),
    [...IMAGE_TASKS],
  );
  for (const t of ['cifar10', 'cifar100', 'imagenet'] as const) assert.equal(defaultConfig(t).augment, true, t);
  for (const t of ['fashion-mnist', 'mnist'] as const) assert.equal(defaultConfig(t).augment, false, t);
  assert.equal(defaultConfig('ptb').vocabSize, undefined, 'PTB / WikiText keep their whole vocabulary');
  assert.equal(defaultConfig('sotu').vocabSize, 10000);
  assert.equal(defaultConfig('imagenet').model, 'wrn-10-1');
  // ImageNet crops follow the model: an EfficientNet's published resolution, else 224.
  assert.equal(defaultConfig('imagenet').imageSize, 224);
  assert.equal(defaultConfig('imagenet', 'efficientnet-b3').imageSize, 300);
  assert.equal(defaultConfig('imagenet', 'resnet-50').imageSize, 224);
  assert.equal(defaultConfig('cifar10').imageSize, undefined);
  assert.equal(defaultConfig('ptb').model, 'tlm-2-128');
});

test('cifar10: loadTask gives 3x32x32 inputs, 10 classes and pad-4 + flip augmentation; a short run trains', async () => {
  const dataDir = cifar10Fixture(24, 11, 'cifar-train-');
  const opts = { dataDir, seed: 0, valSize: 20, augment: true, vocabSize: undefined, seqLen: 64 };
  const d = loadTask('cifar10', opts);
  assert.equal(d.family, 'image');
  assert.deepEqual(d.modelInput, { inChannels: 3, numClasses: 10, imageSize: 32 });
  assert.equal(d.trainSize, 100);
  assert.equal(d.stepsPerEpoch(32), 4);
  const first = (data: TaskData): Float32Array => {
    for (const b of data.epoch(32, new Rng(3)) as Iterable<{ x: Float32Array }>) return b.x;
    throw new Error('no batch');
  };
  const plain = loadTask('cifar10', { ...opts, augment: false });
  assert.notDeepEqual(first(d), first(plain), 'augmentation changes the batches');

  const r = await train({ ...defaultConfig('cifar10', 'wrn-10-1'), dataDir, valSize: 20, epochs: 1, batchSize: 32, threads: 1 });
  assert.equal(r.task, 'cifar10');
  assert.ok(r.test !== null && r.test.accuracy !== undefined && r.test.accuracy >= 0 && r.test.accuracy <= 1);
});

async function imagenetFixture(): Promise<string> {
  const root = tempDir('imagenet-train-');
  const colours: Record<string, [number, number, number]> = { n01: [220, 30, 30], n02: [30, 220, 30], n03: [30, 30, 220] };
  for (const [c, [r, g, b]] of Object.entries(colours)) {
    for (const [split, n] of [
      ['train', 6],
      ['val', 2],
    ] as const) {
      mkdirSync(join(root, split, c), { recursive: true });
      for (let i = 0; i < n; i++) {
        // Noise on the class colour, so crops differ and the class is learnable.
        const px = Buffer.alloc(20 * 16 * 3);
        const rng = new Rng(i * 7 + r);
        for (let p = 0; p < 20 * 16; p++) px.set([r, g, b].map((v) => Math.max(0, Math.min(255, v + rng.nextInt(61) - 30))), p * 3);
        const img = sharp(px, { raw: { width: 20, height: 16, channels: 3 } });
        writeFileSync(join(root, split, c, `${c}_${i}.${i % 2 ? 'JPEG' : 'png'}`), i % 2 ? await img.jpeg().toBuffer() : await img.png().toBuffer());
      }
    }
  }
  return root;
}

test('imagenet: files are decoded while training; the run is deterministic and frees its tensors', async () => {
  const dataDir = await imagenetFixture();
  const d = loadTask('imagenet', { dataDir, seed: 0, valSize: 3, augment: true, vocabSize: undefined, seqLen: 64, imageSize: 16 });
  assert.deepEqual(d.modelInput, { inChannels: 3, numClasses: 3, imageSize: 16 });
  assert.equal(d.trainSize, 15);
  assert.deepEqual(d.sources, [join(dataDir, 'train'), join(dataDir, 'val')]);
  const config: TrainConfig = { ...defaultConfig('imagenet', 'wrn-10-1'), dataDir, imageSize: 16, valSize: 3, epochs: 2, batchSize: 4, threads: 1, evalBatchSize: 4 };
  const before = liveTensorCount();
  const a = await train(config);
  const b = await train(config);
  assert.deepEqual(outcome(b), outcome(a));
  assert.equal(a.history.length, 2);
  assert.ok(a.test !== null && a.test.accuracy !== undefined && [0, 1, 2, 3, 4, 5, 6].map((k) => k / 6).includes(a.test.accuracy), `test accuracy ${a.test?.accuracy} of 6 images`);
  assert.ok([0, 1, 2, 3].map((k) => k / 3).includes(a.val.accuracy as number));
  assert.equal(liveTensorCount(), before);
  const other = await train({ ...config, seed: 1 });
  assert.notEqual(other.history[0].trainLoss, a.history[0].trainLoss);
  await assert.rejects(train({ ...config, imageSize: 0 }), /imageSize must be a positive integer/);
});

test('ptb: token files train a language model through the text path, vocabulary uncapped', async () => {
  const root = tempDir('ptb-train-');
  const dir = join(root, 'simple-examples', 'data');
  mkdirSync(dir, { recursive: true });
  const rng = new Rng(5);
  const words = Array.from({ length: 40 }, (_, i) => `w${i}`);
  const text = (lines: number): string =>
    Array.from({ length: lines }, () => ` ${Array.from({ length: 8 }, () => words[Math.min(rng.nextInt(40), rng.nextInt(40))]).join(' ')} \n`).join('');
  // Every word once, then 199 lines drawn with a skew a model can pick up.
  writeFileSync(join(dir, 'ptb.train.txt'), ` ${words.join(' ')} \n${text(199)}`);
  writeFileSync(join(dir, 'ptb.valid.txt'), text(20));
  writeFileSync(join(dir, 'ptb.test.txt'), `${text(20)} unseen words here \n`);
  const d = loadTask('ptb', { dataDir: root, seed: 0, augment: false, vocabSize: undefined, seqLen: 16 });
  assert.equal(d.family, 'language');
  assert.deepEqual(d.modelInput, { vocabSize: 42, maxLen: 16 });
  assert.equal(d.trainSize, 41 + 199 * 9);
  const r = await train({ ...defaultConfig('ptb', 'tlm-1-32'), dataDir: root, seqLen: 16, epochs: 1, threads: 1 });
  assert.equal(r.task, 'ptb');
  const ppl = r.test?.perplexity;
  assert.ok(ppl !== undefined && Number.isFinite(ppl) && ppl > 1, `test perplexity ${ppl}`);
  assert.ok(Math.abs(ppl - Math.exp(r.test?.loss ?? NaN)) < 1e-9 * ppl);
});
