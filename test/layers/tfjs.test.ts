// The TF.js adapter on the pure-JS cpu backend: identity at inference, the right
// drop fraction and structure (NHWC / NTC layouts) in training, per-example
// rescaling, a repeatable seeded mask stream, training through model.fit, and
// models that serialise (toJSON, save/load) with the layer configs intact.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { AutoDropout2D, AutoDropoutSequence, DropBlock2D, SpatialDropout2D } from '../../src/layers/tfjs.js';
import type { Pattern } from '../../src/patterns/types.js';
import { repoRoot } from '../helpers.js';

before(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const tile: Pattern = { kind: 'tile', size: [3, 3], stride: [6, 6], repeat: 'all', rotate: 30, shearX: 0.2, shearY: 0, shareC: false, residual: false };
const span: Pattern = { kind: 'span', size: 3, stride: 8, repeat: 'all', shareC: true, noise: 'zero', sublayers: ['attention-output', 'ffn-hidden'] };

type AnyLayer = AutoDropout2D | AutoDropoutSequence | DropBlock2D | SpatialDropout2D;

function train(layer: AnyLayer, x: tf.Tensor): Float32Array {
  const y = layer.apply(x, { training: true }) as tf.Tensor;
  const v = y.dataSync() as Float32Array;
  y.dispose();
  return v;
}
const zeroFraction = (v: Float32Array): number => v.reduce((s, a) => s + (a === 0 ? 1 : 0), 0) / v.length;

test('identity at inference: no kwargs, training false, and model.predict', () => {
  const x = tf.randomUniform([2, 6, 6, 3], 0, 1, 'float32', 1);
  const layers: AnyLayer[] = [
    new AutoDropout2D({ pattern: tile, seed: 1 }),
    new DropBlock2D({ blockSize: 3, keepProb: 0.5, seed: 1 }),
    new SpatialDropout2D({ rate: 0.9, seed: 1 }),
  ];
  for (const l of layers) {
    assert.deepEqual(Array.from((l.apply(x) as tf.Tensor).dataSync()), Array.from(x.dataSync()), l.getClassName());
    assert.deepEqual(Array.from((l.apply(x, { training: false }) as tf.Tensor).dataSync()), Array.from(x.dataSync()));
  }
  const s = tf.randomUniform([2, 5, 4], 0, 1, 'float32', 2);
  const seq = new AutoDropoutSequence({ pattern: { kind: 'dropout', rate: 0.9 }, seed: 1 });
  assert.deepEqual(Array.from((seq.apply(s) as tf.Tensor).dataSync()), Array.from(s.dataSync()));
  const model = tf.sequential({ layers: [new SpatialDropout2D({ rate: 0.9, seed: 3, inputShape: [6, 6, 3] })] });
  assert.deepEqual(Array.from((model.predict(x) as tf.Tensor).dataSync()), Array.from(x.dataSync()));
});

test('dropout: drop fraction near the rate, kept units rescaled by numel/sum per example', () => {
  const x = tf.ones([8, 16, 16, 4]);
  const v = train(new AutoDropout2D({ pattern: { kind: 'dropout', rate: 0.3 }, seed: 11 }), x);
  const f = zeroFraction(v);
  assert.ok(Math.abs(f - 0.3) < 0.03, `drop fraction ${f}`);
  const per = 16 * 16 * 4;
  for (let n = 0; n < 8; n++) {
    const ex = v.subarray(n * per, (n + 1) * per);
    const kept = ex.reduce((s, a) => s + (a !== 0 ? 1 : 0), 0);
    const mean = ex.reduce((s, a) => s + a, 0) / per;
    assert.ok(Math.abs(mean - 1) < 1e-4, `example ${n} mean ${mean}`);
    for (const a of ex) if (a !== 0) assert.ok(Math.abs(a - per / kept) < 1e-4);
  }
});

test('rescaled mean of a random input stays close to the input mean', () => {
  const x = tf.randomUniform([16, 12, 12, 8], 0, 1, 'float32', 5);
  const inMean = x.mean().dataSync()[0];
  for (const l of [new DropBlock2D({ blockSize: 3, keepProb: 0.8, seed: 2 }), new AutoDropout2D({ pattern: tile, seed: 2 }), new SpatialDropout2D({ rate: 0.3, seed: 2 })]) {
    const v = train(l, x);
    const mean = v.reduce((s, a) => s + a, 0) / v.length;
    assert.ok(Math.abs(mean - inMean) < 0.05 * inMean, `${l.getClassName()}: mean ${mean} vs ${inMean}`);
    assert.ok(zeroFraction(v) > 0.02, `${l.getClassName()} dropped ${zeroFraction(v)}`);
  }
});

test('SpatialDropout2D (NHWC): whole channels dropped, fraction near the rate', () => {
  const [N, H, W, C] = [32, 5, 4, 8];
  const v = train(new SpatialDropout2D({ rate: 0.5, seed: 3 }), tf.ones([N, H, W, C]));
  let dropped = 0;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const vals = new Set<number>();
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) vals.add(v[((n * H + y) * W + x) * C + c]);
      assert.equal(vals.size, 1, `channel ${c} of example ${n} is not constant over H, W: ${[...vals]}`);
      if (vals.has(0)) dropped++;
    }
  const f = dropped / (N * C);
  assert.ok(Math.abs(f - 0.5) < 0.12, `channel drop fraction ${f}`);
});

test('DropBlock2D: drop fraction near 1 - keepProb, dropped units in blocks', () => {
  const [N, H, W, C] = [8, 24, 24, 4];
  const v = train(new DropBlock2D({ blockSize: 5, keepProb: 0.85, seed: 4 }), tf.ones([N, H, W, C]));
  const f = zeroFraction(v);
  assert.ok(f > 0.05 && f < 0.25, `drop fraction ${f}`);
  // Blocks: most dropped units have a dropped horizontal neighbour (independent dropout would give ~f).
  let z = 0;
  let zz = 0;
  for (let n = 0; n < N; n++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x + 1 < W; x++)
        for (let c = 0; c < C; c++) {
          const a = v[((n * H + y) * W + x) * C + c];
          const b = v[((n * H + y) * W + x + 1) * C + c];
          if (a === 0) {
            z++;
            if (b === 0) zz++;
          }
        }
  assert.ok(zz / z > 0.6, `P(right neighbour dropped | dropped) = ${zz / z}`);
});

test('channelsFirst applies the NCHW masks unpermuted', () => {
  const [N, C, H, W] = [16, 6, 4, 5];
  const v = train(new SpatialDropout2D({ rate: 0.5, seed: 8, dataFormat: 'channelsFirst' }), tf.ones([N, C, H, W]));
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) assert.equal(new Set(v.subarray((n * C + c) * H * W, (n * C + c + 1) * H * W)).size, 1);
  assert.ok(zeroFraction(v) > 0.2 && zeroFraction(v) < 0.8);
});

test('AutoDropoutSequence (N, T, C): variational masks shared over T, span masks over C', () => {
  const [N, T, C] = [16, 20, 6];
  const x = tf.ones([N, T, C]);
  const vv = train(new AutoDropoutSequence({ pattern: { kind: 'variational', rate: 0.4 }, seed: 6 }), x);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const vals = new Set<number>();
      for (let t = 0; t < T; t++) vals.add(vv[(n * T + t) * C + c]);
      assert.equal(vals.size, 1, `variational: example ${n} channel ${c} varies over time`);
    }
  const fv = zeroFraction(vv);
  assert.ok(Math.abs(fv - 0.4) < 0.12, `variational drop fraction ${fv}`);
  const vs = train(new AutoDropoutSequence({ pattern: span, seed: 6 }), x);
  let droppedTokens = 0;
  for (let n = 0; n < N; n++)
    for (let t = 0; t < T; t++) {
      const row = new Set(vs.subarray((n * T + t) * C, (n * T + t + 1) * C));
      assert.equal(row.size, 1, `span shareC: example ${n} token ${t} varies over channels`);
      if (row.has(0)) droppedTokens++;
    }
  const fs = droppedTokens / (N * T);
  assert.ok(fs > 0.2 && fs < 0.55, `span (3 of every 8 tokens) dropped ${fs}`);
  const vd = train(new AutoDropoutSequence({ pattern: { kind: 'dropout', rate: 0.25 }, seed: 6 }), x);
  assert.ok(Math.abs(zeroFraction(vd) - 0.25) < 0.05);
});

test('the mask stream is seeded and advances at every training call', () => {
  const x = tf.ones([4, 8, 8, 2]);
  const a = new AutoDropout2D({ pattern: { kind: 'dropout', rate: 0.5 }, seed: 42 });
  const b = new AutoDropout2D({ pattern: { kind: 'dropout', rate: 0.5 }, seed: 42 });
  const a1 = train(a, x);
  const a2 = train(a, x);
  assert.notDeepEqual(Array.from(a1), Array.from(a2));
  assert.deepEqual(Array.from(train(b, x)), Array.from(a1));
  assert.deepEqual(Array.from(train(b, x)), Array.from(a2));
  a.resetMasks();
  assert.deepEqual(Array.from(train(a, x)), Array.from(a1));
  const c = new AutoDropout2D({ pattern: { kind: 'dropout', rate: 0.5 }, seed: 43 });
  assert.notDeepEqual(Array.from(train(c, x)), Array.from(a1));
  // Without a seed one is drawn and recorded in the config.
  const d = new DropBlock2D({ blockSize: 2, keepProb: 0.9 });
  assert.ok(Number.isSafeInteger(d.getConfig().seed));
});

test('wrong patterns and inputs are refused', () => {
  assert.throws(() => new AutoDropout2D({ pattern: span }), /pattern kind must be one of/);
  assert.throws(() => new AutoDropoutSequence({ pattern: tile }), /pattern kind must be one of/);
  assert.throws(() => new DropBlock2D({ blockSize: 0, keepProb: 0.9 }), RangeError);
  assert.throws(() => new SpatialDropout2D({ rate: 1 }), RangeError);
  assert.throws(() => new SpatialDropout2D({ rate: 0.1, strength: 2 }), RangeError);
  assert.throws(() => new AutoDropout2D({ pattern: tile }).apply(tf.ones([2, 3, 4]), { training: true }), /rank-4/);
});

/** Sequential models holding each layer, and inputs for them. */
function models(): { model: tf.Sequential; x: tf.Tensor }[] {
  const image = (l: AnyLayer): { model: tf.Sequential; x: tf.Tensor } => ({
    model: tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, padding: 'same' }), l, tf.layers.flatten(), tf.layers.dense({ units: 2 })] }),
    x: tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 9),
  });
  return [
    image(new AutoDropout2D({ pattern: tile, seed: 7, strength: 0.5 })),
    image(new DropBlock2D({ blockSize: 3, keepProb: 0.8, seed: 8 })),
    image(new SpatialDropout2D({ rate: 0.25, seed: 9 })),
    {
      model: tf.sequential({ layers: [tf.layers.dense({ inputShape: [10, 4], units: 6 }), new AutoDropoutSequence({ pattern: span, seed: 10 }), tf.layers.flatten(), tf.layers.dense({ units: 2 })] }),
      x: tf.randomUniform([4, 10, 4], 0, 1, 'float32', 9),
    },
  ];
}

test('models with each layer train with model.fit (masks applied, gradients flow)', async () => {
  for (const { model, x } of models()) {
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'meanSquaredError' });
    const y = tf.zeros([x.shape[0], 2]);
    const h = await model.fit(x, y, { epochs: 2, batchSize: 2, verbose: 0, shuffle: false });
    const losses = h.history.loss as number[];
    assert.equal(losses.length, 2);
    assert.ok(losses.every(Number.isFinite), `${model.layers[1].getClassName()}: ${losses}`);
  }
});

test('toJSON / modelFromJSON and save / loadLayersModel keep class and config', async () => {
  for (const { model, x } of models()) {
    const layer = model.layers[1];
    const name = layer.getClassName();
    const config = layer.getConfig();
    assert.ok('seed' in config);
    if (name.startsWith('AutoDropout')) assert.ok('pattern' in config);

    const json = model.toJSON(undefined, true) as string;
    assert.ok(json.includes(`"${name}"`));
    const fromJson = await tf.models.modelFromJSON(JSON.parse(json));
    assert.equal(fromJson.layers[1].getClassName(), name);
    assert.deepEqual(fromJson.layers[1].getConfig(), config);

    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        artifacts = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    assert.ok(artifacts);
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
    const l2 = loaded.layers[1];
    assert.equal(l2.getClassName(), name);
    assert.deepEqual(l2.getConfig(), config);
    assert.ok(l2 instanceof (layer.constructor as new (...a: never[]) => unknown));
    if (l2 instanceof AutoDropout2D || l2 instanceof AutoDropoutSequence) assert.deepEqual(l2.pattern, (layer as AutoDropout2D).pattern);
    // Same weights, same output at inference; and, both streams fresh from the seed, the same masks in training.
    assert.deepEqual(Array.from((loaded.predict(x) as tf.Tensor).dataSync()), Array.from((model.predict(x) as tf.Tensor).dataSync()));
    const h1 = model.layers[0].apply(x) as tf.Tensor;
    const a = train(layer as AnyLayer, h1);
    const b = train(l2 as AnyLayer, h1);
    assert.deepEqual(Array.from(a), Array.from(b), `${name}: masks after load`);
  }
});

test('TF.js stays out of every other entry point: only layers/tfjs.js loads it', () => {
  // TF.js is CommonJS, so whatever loads it appears in the CommonJS module cache.
  const others = ['src/patterns/index.js', 'src/patterns/masks.js', 'src/patterns/render.js', 'src/layers/patterns.js', 'src/cli/show.js', 'src/index.js']
    .map((p) => join(repoRoot, 'dist', p))
    .filter((p) => existsSync(p));
  assert.ok(others.length >= 4);
  const script = (files: string[]): string =>
    `import { createRequire } from 'node:module';
     for (const f of ${JSON.stringify(files)}) await import(f);
     const cache = Object.keys(createRequire(import.meta.url).cache);
     process.stdout.write(String(cache.some((k) => k.includes('@tensorflow'))));`;
  const run = (files: string[]): string => execFileSync(process.execPath, ['--input-type=module', '-e', script(files)], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(run(others), 'false', `one of ${others.join(', ')} loads TF.js`);
  assert.equal(run([join(repoRoot, 'dist', 'src', 'layers', 'tfjs.js')]), 'true');
});
