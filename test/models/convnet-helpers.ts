// Shared pieces of the ResNet and EfficientNet tests: inputs, a float32
// finite-difference gradient check, pattern-at-every-slot checks and a short
// SGD run on a generated, learnable image set.
import assert from 'node:assert/strict';
import { Generator, backward, grad, liveTensorCount, noGrad, ops, sgd, tensor, tidy, zeroGrad, type Tensor } from '../../src/engine/index.js';
import { patternDropout } from '../../src/layers/index.js';
import { createModel, type ChildModel, type SlotDropout, type SlotInfo } from '../../src/models/index.js';
import type { Pattern } from '../../src/patterns/types.js';

export function randomImages(n: number, c: number, hw: number, seed: number): Tensor {
  return ops.randn([n, c, hw, hw], new Generator(seed));
}

export function labels(values: number[]): Tensor {
  return tensor(values, [values.length], 'int64');
}

/** Mean cross-entropy, computed in float64 from the float32 logits so the last step adds no rounding. */
export function lossOf(model: ChildModel, x: Tensor, y: Tensor): Tensor {
  return ops.crossEntropy(ops.to(model.forward(x), 'float64'), y);
}

const numbers = (t: Tensor): number[] => t.toArray();

/**
 * Checks autograd's gradient of lossOf against central finite differences on
 * the named parameters. The models are float32 (the layers have no float64
 * path), so steps are sized for float32 and for the ReLU / max-pool kinks:
 *  - per tensor, along d = (g/|g| + r/|r|) normalised, r a seeded random
 *    direction: the derivative must be g·d. The gradient part gives a signal
 *    far above float32 noise; the random part catches an error orthogonal to
 *    g. The step h makes the first-order loss change `lossStep` (3e-3: small
 *    enough for the curvature, large enough against rounding), h <= 1e-2;
 *  - per tensor, the entry with the largest |g| alone (tolerance `entryRtol`:
 *    one entry moves many pre-activations across ReLU kinks in a ReLU
 *    network, so its difference quotient is coarser there).
 * Measured errors (resnet-18/-50, efficientnet-b0): < 1e-2 along d; entries
 * < 1e-2 in the smooth EfficientNet, up to 6e-2 in the ResNets.
 */
export function checkGradients(
  model: ChildModel,
  x: Tensor,
  y: Tensor,
  paramNames: readonly string[],
  o: { rtol?: number; entryRtol?: number; lossStep?: number } = {},
): void {
  const rtol = o.rtol ?? 2e-2;
  const entryRtol = o.entryRtol ?? 2e-2;
  const lossStep = o.lossStep ?? 3e-3;
  const params = new Map(model.namedParameters());
  zeroGrad(model.parameters());
  tidy(() => backward(lossOf(model, x, y)));
  const loss = (): number => tidy(() => noGrad(() => lossOf(model, x, y).item()));
  const base = loss();
  assert.ok(Number.isFinite(base), `loss ${base}`);
  paramNames.forEach((name, k) => {
    const p = params.get(name);
    assert.ok(p, `no parameter '${name}'; the model has ${[...params.keys()].slice(0, 8).join(', ')}, ...`);
    tidy(() => {
      const g = grad(p) as Tensor;
      assert.ok(g, `${name} has no gradient`);
      const gv = numbers(g);
      assert.ok(gv.every(Number.isFinite), `${name}: finite gradient`);
      const saved = noGrad(() => ops.clone(p));
      const gNorm = ops.norm(g).item();
      assert.ok(gNorm > 0, `${name}: zero gradient (cut from the graph?)`);
      const r = ops.randn(p.shape, new Generator(100 + k));
      const mixed = ops.add(ops.div(g, gNorm), ops.div(r, ops.norm(r).item()));
      const d = ops.div(mixed, ops.norm(mixed).item());
      let top = 0;
      gv.forEach((v, i) => {
        if (Math.abs(v) > Math.abs(gv[top])) top = i;
      });
      const oneHot = new Float32Array(gv.length);
      oneHot[top] = 1;
      const directions: [string, Tensor, number][] = [
        ['along g and a random direction', d, rtol],
        [`entry ${top}`, tensor(oneHot, p.shape), entryRtol],
      ];
      for (const [what, dir, tol] of directions) {
        const predicted = ops.sum(ops.mul(g, dir)).item();
        const h = Math.min(1e-2, lossStep / Math.abs(predicted));
        // Each side starts from a saved copy, so rounding never accumulates in the weights.
        noGrad(() => ops.addScaledInPlace(p, dir, h));
        const up = loss();
        noGrad(() => ops.addScaledInPlace(ops.copyInto(p, saved), dir, -h));
        const down = loss();
        noGrad(() => ops.copyInto(p, saved));
        const measured = (up - down) / (2 * h);
        const err = Math.abs(measured - predicted) / Math.abs(predicted);
        assert.ok(err <= tol, `${name}, ${what}: autograd ${predicted.toExponential(4)}, finite differences ${measured.toExponential(4)} (relative error ${err.toExponential(2)} > ${tol})`);
      }
    });
  });
  assert.equal(loss(), base, 'the parameters are back where they started');
}

export const TILE: Pattern = { kind: 'tile', size: [2, 2], stride: [4, 4], repeat: 'all', rotate: 30, shearX: 0.1, shearY: 0, shareC: false, residual: true };
export const DROPBLOCK: Pattern = { kind: 'dropblock', blockSize: 3, keepProb: 0.8 };

/**
 * With `pattern` at every slot (skip paths included), the training-mode output
 * differs from the plain one and backward gives finite gradients; at inference
 * the slots are the identity: the same output as with nothing assigned.
 */
export function checkPatternEverywhere(model: ChildModel, x: Tensor, pattern: Pattern): void {
  const layer = patternDropout(pattern);
  tidy(() => {
    model.slots.assignAll(() => null);
    model.train();
    const plainTrain = numbers(noGrad(() => model.forward(x)));
    model.slots.assignAll(() => layer);
    model.slots.setContext({ generator: new Generator(11), progress: 1 });
    const logits = model.forward(x);
    const masked = numbers(logits);
    assert.ok(masked.every(Number.isFinite), `${pattern.kind}: finite logits`);
    assert.notDeepEqual(masked, plainTrain, `${pattern.kind} at every slot changed nothing in training mode`);
    backward(ops.sum(logits));
    for (const [name, p] of model.namedParameters()) {
      const g = grad(p);
      assert.ok(g && numbers(g).every(Number.isFinite), `${pattern.kind}: ${name} has a finite gradient`);
    }
    // Evaluation-mode batch norm reads the running statistics, which the
    // training passes above moved: compare two eval passes with and without
    // the assignment, back to back.
    model.eval();
    const withPattern = numbers(noGrad(() => model.forward(x)));
    model.slots.assignAll(() => null);
    assert.deepEqual(withPattern, numbers(noGrad(() => model.forward(x))), `${pattern.kind} must be the identity at inference`);
  });
  model.slots.setContext(null);
  model.train();
  zeroGrad(model.parameters());
}

/**
 * A learnable image set: each class is a fixed random template (per class,
 * smooth enough to survive striding) plus noise of half its scale.
 */
export function learnableImages(n: number, classes: number, c: number, hw: number, seed: number): { x: Tensor; y: Tensor } {
  return tidy(() => {
    const gen = new Generator(seed);
    const coarse = Math.max(2, hw >> 2);
    const templates = ops.randn([classes, c, coarse, coarse], gen);
    // Bilinear upsampling to hw x hw through an identity affine grid.
    const identity = ops.expand(tensor([1, 0, 0, 0, 1, 0], [1, 2, 3]), [classes, 2, 3]);
    const up = ops.gridSample(templates, ops.affineGrid(identity, [classes, c, hw, hw]), 'bilinear', 'border');
    const ys = Array.from({ length: n }, (_, i) => i % classes);
    const y = labels(ys);
    const x = ops.add(ops.indexSelect(up, 0, y), ops.mul(ops.randn([n, c, hw, hw], gen), 0.5));
    return { x, y };
  });
}

/**
 * `steps` SGD steps (momentum 0.9) on the whole set as one batch, each in its
 * own scope. Returns the loss before each step and the live tensor count after
 * each; training state is left as it was.
 */
export function sgdSteps(model: ChildModel, x: Tensor, y: Tensor, steps: number, lr: number): { losses: number[]; live: number[] } {
  const opt = sgd(model.parameters(), { lr, momentum: 0.9 });
  const losses: number[] = [];
  const live: number[] = [];
  model.train();
  for (let s = 0; s < steps; s++) {
    tidy(() => {
      opt.zeroGrad();
      const loss = lossOf(model, x, y);
      losses.push(loss.item());
      backward(loss);
      opt.step();
    });
    live.push(liveTensorCount());
  }
  opt.zeroGrad();
  return { losses, live };
}

/** Slot names, kinds and channels as tuples, for compact expectations. */
export function slotTuples(slots: readonly SlotInfo[]): [string, string, number][] {
  return slots.map((s) => [s.name, s.kind, s.channels]);
}

/** A slot dropout that zeroes its input: shows whether a slot reaches the output. */
export class ZeroDropout implements SlotDropout {
  readonly description = 'zero';
  apply(x: Tensor): Tensor {
    return ops.zerosLike(x);
  }
}

/** Zeroing any single slot of `model` changes its output on x (training mode, where slots act). */
export function assertEverySlotWired(model: ChildModel, x: Tensor): void {
  model.slots.setContext({ generator: new Generator(1), progress: 0 });
  model.train();
  tidy(() => {
    const base = noGrad(() => model.forward(x)).toArray();
    for (const s of model.slots.list()) {
      model.slots.assignAll((t) => (t.name === s.name ? new ZeroDropout() : null));
      assert.notDeepEqual(noGrad(() => model.forward(x)).toArray(), base, `zeroing ${s.name} changed nothing`);
    }
    model.slots.assignAll(() => null);
  });
}

/**
 * Builds `name`, trains it 8 SGD steps on a learnable set of 16 images and
 * asserts the loss halves, the live tensor count is flat across steps and
 * nothing is left once the model is disposed.
 */
export function assertLearnsWithFlatMemory(name: string, input: { inChannels: number; numClasses: number; imageSize?: number }, hw: number): void {
  const before = liveTensorCount();
  const m = createModel(name, input, new Generator(0));
  try {
    const { x, y } = learnableImages(16, input.numClasses, input.inChannels, hw, 8);
    const { losses, live } = sgdSteps(m, x, y, 8, 0.02);
    assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
    assert.ok(losses[losses.length - 1] < 0.5 * losses[0], `loss went from ${losses[0]} to ${losses[losses.length - 1]}`);
    assert.ok(
      live.slice(1).every((n) => n === live[1]),
      `live tensors per step: ${live}`,
    );
    x.dispose();
    y.dispose();
  } finally {
    m.dispose();
  }
  assert.equal(liveTensorCount(), before, 'building, training and disposing leaves nothing behind');
}

/** Builds `name`, runs `fn` on it inside one scope, and disposes the model whatever happens. */
export function withModel(name: string, input: { inChannels: number; numClasses: number; imageSize?: number }, fn: (m: ChildModel) => void): void {
  const m = createModel(name, input, new Generator(0));
  try {
    tidy(() => fn(m));
  } finally {
    m.dispose();
  }
}
