// Dynamic loss scaling for float16 training (what torch.cuda.amp.GradScaler
// does): float16 gradients of small values underflow to zero, so the loss is
// multiplied by a large power of two before the backward pass and the
// gradients divided by it before the step. A step whose gradients hold an
// inf or NaN is skipped and the scale halved; after `growthInterval` good
// steps in a row the scale doubles. Powers of two make the round trip exact.
import { clipGradNorm, grad, ops, type Optimizer, type Tensor } from '../engine/index.js';

export interface LossScaleState {
  scale: number;
  /** Good steps in a row since the scale last changed. */
  goodSteps: number;
}

export interface LossScalerOptions {
  initScale?: number;
  growthInterval?: number;
}

/** PyTorch's GradScaler defaults: 2^16, doubling after 2000 good steps, halving on an overflow. */
const DEFAULTS = { initScale: 2 ** 16, growthInterval: 2000 } as const;
/** No clipping: a norm no gradient reaches (and that float32 holds), so clipGradNorm only measures. */
const NO_CLIP = 3e38;

export class LossScaler {
  private state: LossScaleState;
  private readonly growthInterval: number;
  /** Steps skipped for non-finite gradients since the scaler was made. */
  skipped = 0;

  constructor(o: LossScalerOptions = {}) {
    const initScale = o.initScale ?? DEFAULTS.initScale;
    this.growthInterval = o.growthInterval ?? DEFAULTS.growthInterval;
    if (!(initScale > 0) || Math.log2(initScale) % 1 !== 0) throw new RangeError(`loss scale must be a power of two, got ${initScale}`);
    if (!Number.isSafeInteger(this.growthInterval) || this.growthInterval < 1) throw new RangeError(`growthInterval must be a positive integer, got ${this.growthInterval}`);
    this.state = { scale: initScale, goodSteps: 0 };
  }

  get scale(): number {
    return this.state.scale;
  }

  /** The loss to back-propagate: loss × scale. */
  scaled(loss: Tensor): Tensor {
    return ops.mul(loss, this.state.scale);
  }

  /**
   * After backward(scaled(loss)): divides the gradients by the scale, clips
   * them to `clip` (0: no clipping) and steps the optimizer when they are all
   * finite; otherwise leaves the weights alone. Returns whether it stepped.
   */
  unscaleClipStep(params: readonly Tensor[], optimizer: Optimizer, clip: number): boolean {
    const inv = 1 / this.state.scale;
    for (const p of params) {
      const g = grad(p);
      if (g === null) continue;
      ops.scaleInPlace(g, inv);
      g.dispose();
    }
    const norm = clipGradNorm(params, clip > 0 ? clip : NO_CLIP);
    if (!Number.isFinite(norm)) {
      this.skipped++;
      this.state = { scale: this.state.scale / 2, goodSteps: 0 };
      return false;
    }
    optimizer.step();
    const goodSteps = this.state.goodSteps + 1;
    this.state = goodSteps >= this.growthInterval ? { scale: this.state.scale * 2, goodSteps: 0 } : { scale: this.state.scale, goodSteps };
    return true;
  }

  getState(): LossScaleState {
    return { ...this.state };
  }

  setState(s: LossScaleState): void {
    this.state = { ...s };
  }
}
