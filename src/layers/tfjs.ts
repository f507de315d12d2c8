// TF.js layers that apply exported AutoDropout patterns in TF.js pipelines
// (docs/architecture.md §1, §7). A separate entry point (dist/src/layers/tfjs.js, meant to
// be published as the package subpath `autodropout/tfjs`): nothing else in the
// project imports it, so the libtorch engine path never loads TF.js (a test
// checks the import graph).
//
//   import * as tf from '@tensorflow/tfjs';
//   import { AutoDropout2D } from 'autodropout/tfjs';
//   const model = tf.sequential({ layers: [
//     tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3 }),
//     tf.layers.batchNormalization(),
//     new AutoDropout2D({ pattern: file.slots['*'], seed: 1 }),
//     ...
//
// Every layer here:
// - is training-only: the identity unless `call(x, { training: true })`
//   (model.fit passes it; predict/evaluate do not);
// - draws its masks with the project's pure-TS mask sampler (`sampleMasks`,
//   through `sampleMultipliers`) from a seeded Rng that advances at every
//   training call, so a run is repeatable from the seed (after save/load the
//   stream restarts from the seed);
// - rescales per example by numel / sum(mask), with the all-zero guard of
//   `rescaleFactors`/`maskMultipliers` (an all-zero example passes unmasked;
//   droppath scales by 1/(1 - rate); gaussian spans are not rescaled), so the
//   expected activation is unchanged and the engine's layers agree;
// - serialises with model.toJSON() / model.save(): getConfig() carries the
//   pattern (or the baseline's own parameters) and the seed, and the classes are
//   registered with tf.serialization.registerClass. Note that TF.js writes config
//   keys in snake_case in model.json (`block_size`) and converts them back on load.
//
// Layouts. TF.js images are NHWC (channelsLast), the masks NCHW: a mask batch of
// shape (N, C, H, W) is transposed with perm [0, 2, 3, 1] to (N, H, W, C), so
// mask[n][c][y][x] multiplies x[n][y][x][c]. With dataFormat 'channelsFirst'
// inputs are NCHW and the masks apply as they are. Sequences are (N, T, C); their
// masks have MaskShape (n, c, T, 1) and are transposed with perm [0, 2, 1].
import * as tf from '@tensorflow/tfjs';
import { sampleMultipliers } from '../patterns/masks.js';
import type { MaskShape, Pattern, PatternKind } from '../patterns/types.js';
import { validatePattern } from '../patterns/validate.js';
import { Rng } from '../util/rng.js';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;
type Kwargs = Parameters<tf.layers.Layer['call']>[1];
type ConfigDict = tf.serialization.ConfigDict;

/** Pattern kinds that act on images (N, H, W, C). */
export const IMAGE_KINDS: readonly PatternKind[] = ['none', 'dropout', 'spatial', 'dropblock', 'tile', 'droppath'];
/** Pattern kinds that act on sequences (N, T, C). */
export const SEQUENCE_KINDS: readonly PatternKind[] = ['none', 'dropout', 'span', 'variational', 'droppath'];

export interface PatternLayerArgs extends LayerArgs {
  /**
   * Seed of the mask stream. Default: drawn at random once and recorded in
   * getConfig(), so a saved model reproduces its masks.
   */
  seed?: number;
  /** Scales the pattern (a schedule's ramp value), in [0, 1]; default 1. Settable later via `layer.strength`. */
  strength?: number;
}

function checkSeed(seed: number | undefined): number {
  if (seed === undefined) return Math.floor(Math.random() * 2 ** 31);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  return seed;
}

function checkStrength(s: number | undefined): number {
  if (s === undefined) return 1;
  if (!(s >= 0 && s <= 1)) throw new RangeError(`strength must be in [0, 1], got ${s}`);
  return s;
}

function onlyTensor(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  if (!Array.isArray(inputs)) return inputs;
  if (inputs.length !== 1) throw new Error(`expected exactly one input tensor, got ${inputs.length}`);
  return inputs[0];
}

/**
 * Shared machinery: sample masks for the input's batch, scale each example by
 * numel/sum, bring them to the input's layout and multiply.
 */
abstract class PatternLayer extends tf.layers.Layer {
  readonly seed: number;
  strength: number;
  private rng: Rng;

  constructor(args: PatternLayerArgs) {
    super(args);
    this.seed = checkSeed(args.seed);
    this.strength = checkStrength(args.strength);
    this.rng = new Rng(this.seed);
    this.supportsMasking = true;
  }

  /** The pattern sampled at each training call. */
  abstract get pattern(): Pattern;
  /** MaskShape for an input of this shape (with a concrete batch size). */
  protected abstract maskShape(shape: readonly number[]): MaskShape;
  /** The (rescaled) NCHW masks, as a tensor in the input's layout. */
  protected abstract toInputLayout(masks: Float32Array, shape: MaskShape): tf.Tensor;

  /** Restarts the mask stream from the seed (or a new seed). */
  resetMasks(seed = this.seed): void {
    this.rng = new Rng(checkSeed(seed));
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor {
    const x = onlyTensor(inputs);
    this.invokeCallHook(inputs, kwargs);
    if (kwargs?.['training'] !== true || this.pattern.kind === 'none' || this.strength === 0) return x;
    const shape = this.maskShape(x.shape);
    // Masks times their per-example rescaling, exactly as the engine's layers multiply.
    const masks = sampleMultipliers(this.pattern, shape, this.rng, { strength: this.strength });
    return tf.tidy(() => {
      const m = this.toInputLayout(masks, shape);
      return tf.mul(x, x.dtype === 'float32' ? m : tf.cast(m, x.dtype));
    });
  }

  override getConfig(): ConfigDict {
    return { ...super.getConfig(), seed: this.seed, strength: this.strength };
  }
}

/** A validated copy of the pattern (PatternError listing every problem otherwise), of one of `kinds`. */
function requireKind(layer: string, p: Pattern, kinds: readonly PatternKind[]): Pattern {
  const valid = validatePattern(structuredClone(p), `${layer} pattern`);
  if (!kinds.includes(valid.kind)) {
    const other = kinds === IMAGE_KINDS ? 'AutoDropoutSequence' : 'AutoDropout2D';
    throw new Error(`${layer}: pattern kind must be one of ${kinds.join(', ')}, got '${valid.kind}' (use ${other})`);
  }
  return valid;
}

export type DataFormat = 'channelsLast' | 'channelsFirst';

function checkFormat(f: DataFormat | undefined): DataFormat {
  if (f === undefined) return 'channelsLast';
  if (f !== 'channelsLast' && f !== 'channelsFirst') throw new Error(`dataFormat must be channelsLast or channelsFirst, got '${String(f)}'`);
  return f;
}

function imageMaskShape(layer: string, shape: readonly number[], format: DataFormat): MaskShape {
  if (shape.length !== 4) throw new Error(`${layer} expects a rank-4 input (N, H, W, C or N, C, H, W), got shape [${shape.join(', ')}]`);
  const [n, a, b, c] = shape;
  return format === 'channelsLast' ? { n, c, h: a, w: b } : { n, c: a, h: b, w: c };
}

function imageLayout(masks: Float32Array, s: MaskShape, format: DataFormat): tf.Tensor {
  const m = tf.tensor4d(masks, [s.n, s.c, s.h, s.w]);
  return format === 'channelsLast' ? tf.transpose(m, [0, 2, 3, 1]) : m;
}

abstract class ImagePatternLayer extends PatternLayer {
  readonly dataFormat: DataFormat;
  constructor(args: PatternLayerArgs & { dataFormat?: DataFormat }) {
    super(args);
    this.dataFormat = checkFormat(args.dataFormat);
  }
  protected maskShape(shape: readonly number[]): MaskShape {
    return imageMaskShape(this.getClassName(), shape, this.dataFormat);
  }
  protected toInputLayout(masks: Float32Array, shape: MaskShape): tf.Tensor {
    return imageLayout(masks, shape, this.dataFormat);
  }
  override getConfig(): ConfigDict {
    return { ...super.getConfig(), dataFormat: this.dataFormat };
  }
}

export interface AutoDropout2DArgs extends PatternLayerArgs {
  /** An image-space pattern: tile, dropblock, spatial, dropout, droppath or none. `tile.residual` has no meaning for a single layer and is ignored. */
  pattern: Pattern;
  /** 'channelsLast' (NHWC, TF.js default) or 'channelsFirst' (NCHW). */
  dataFormat?: DataFormat;
}

/** Any image-space pattern on (N, H, W, C) feature maps, typically after a batch norm. */
export class AutoDropout2D extends ImagePatternLayer {
  static className = 'AutoDropout2D';
  private readonly p: Pattern;
  constructor(args: AutoDropout2DArgs) {
    super(args);
    this.p = requireKind('AutoDropout2D', args.pattern, IMAGE_KINDS);
  }
  get pattern(): Pattern {
    return this.p;
  }
  override getConfig(): ConfigDict {
    return { ...super.getConfig(), pattern: structuredClone(this.p) as unknown as ConfigDict };
  }
}
tf.serialization.registerClass(AutoDropout2D);

export interface AutoDropoutSequenceArgs extends PatternLayerArgs {
  /** A sequence pattern: span, variational, dropout, droppath or none. `span.sublayers` is informational here: the layer applies where you put it. */
  pattern: Pattern;
}

/** Span, variational (time-shared) or element-wise dropout on (N, T, C) hidden states. */
export class AutoDropoutSequence extends PatternLayer {
  static className = 'AutoDropoutSequence';
  private readonly p: Pattern;
  constructor(args: AutoDropoutSequenceArgs) {
    super(args);
    this.p = requireKind('AutoDropoutSequence', args.pattern, SEQUENCE_KINDS);
  }
  get pattern(): Pattern {
    return this.p;
  }
  protected maskShape(shape: readonly number[]): MaskShape {
    if (shape.length !== 3) throw new Error(`AutoDropoutSequence expects a rank-3 input (N, T, C), got shape [${shape.join(', ')}]`);
    const [n, t, c] = shape;
    return { n, c, h: t, w: 1 };
  }
  protected toInputLayout(masks: Float32Array, s: MaskShape): tf.Tensor {
    return tf.transpose(tf.tensor3d(masks, [s.n, s.c, s.h]), [0, 2, 1]);
  }
  override getConfig(): ConfigDict {
    return { ...super.getConfig(), pattern: structuredClone(this.p) as unknown as ConfigDict };
  }
}
tf.serialization.registerClass(AutoDropoutSequence);

export interface DropBlock2DArgs extends PatternLayerArgs {
  /** Side of the square blocks. */
  blockSize: number;
  /** Fraction of units kept (DropBlock's keep_prob), in (0, 1]. */
  keepProb: number;
  dataFormat?: DataFormat;
}

/** DropBlock (Ghiasi et al. 2018): blockSize×blockSize blocks per channel, on (N, H, W, C). */
export class DropBlock2D extends ImagePatternLayer {
  static className = 'DropBlock2D';
  readonly blockSize: number;
  readonly keepProb: number;
  private readonly p: Pattern;
  constructor(args: DropBlock2DArgs) {
    super(args);
    if (!Number.isSafeInteger(args.blockSize) || args.blockSize < 1) throw new RangeError(`DropBlock2D: blockSize must be a positive integer, got ${args.blockSize}`);
    if (!(args.keepProb > 0 && args.keepProb <= 1)) throw new RangeError(`DropBlock2D: keepProb must be in (0, 1], got ${args.keepProb}`);
    this.blockSize = args.blockSize;
    this.keepProb = args.keepProb;
    this.p = { kind: 'dropblock', blockSize: args.blockSize, keepProb: args.keepProb };
  }
  get pattern(): Pattern {
    return this.p;
  }
  override getConfig(): ConfigDict {
    return { ...super.getConfig(), blockSize: this.blockSize, keepProb: this.keepProb };
  }
}
tf.serialization.registerClass(DropBlock2D);

export interface SpatialDropout2DArgs extends PatternLayerArgs {
  /** Probability of dropping a whole channel of an example, in [0, 1). */
  rate: number;
  dataFormat?: DataFormat;
}

/** Whole channels dropped per example (Tompson et al. 2015), on (N, H, W, C). */
export class SpatialDropout2D extends ImagePatternLayer {
  static className = 'SpatialDropout2D';
  readonly rate: number;
  private readonly p: Pattern;
  constructor(args: SpatialDropout2DArgs) {
    super(args);
    if (!(args.rate >= 0 && args.rate < 1)) throw new RangeError(`SpatialDropout2D: rate must be in [0, 1), got ${args.rate}`);
    this.rate = args.rate;
    this.p = { kind: 'spatial', rate: args.rate };
  }
  get pattern(): Pattern {
    return this.p;
  }
  override getConfig(): ConfigDict {
    return { ...super.getConfig(), rate: this.rate };
  }
}
tf.serialization.registerClass(SpatialDropout2D);
