// Network building blocks shared by the child models and the controller
// (src/nn/transformer.ts builds the Transformer block from them). Not to be
// confused with src/layers/, what acts at a model's dropout slots.
//
// Standard layers built on the engine's Module. Initialisations follow
// PyTorch's defaults unless a model overrides them, and draw from a seeded
// Generator so a model is reproducible from its seed.
import { Module, ops, type Generator, type Tensor } from '../engine/index.js';

/** U(-bound, bound) */
function uniform(shape: readonly number[], bound: number, gen: Generator): Tensor {
  // Intermediates are freed here: a model is usually built outside any tidy() scope.
  const u = ops.rand(shape, gen);
  const scaled = ops.mul(u, 2 * bound);
  u.dispose();
  const out = ops.sub(scaled, bound);
  scaled.dispose();
  return out;
}

function normal(shape: readonly number[], std: number, gen: Generator): Tensor {
  const n = ops.randn(shape, gen);
  const out = ops.mul(n, std);
  n.dispose();
  return out;
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias?: Tensor;
  constructor(inFeatures: number, outFeatures: number, gen: Generator, o: { bias?: boolean; std?: number } = {}) {
    super();
    // PyTorch's default (kaiming_uniform with a=sqrt(5)) is U(±1/sqrt(fan_in)).
    const bound = 1 / Math.sqrt(inFeatures);
    this.weight = this.param('weight', o.std !== undefined ? normal([outFeatures, inFeatures], o.std, gen) : uniform([outFeatures, inFeatures], bound, gen));
    if (o.bias ?? true) this.bias = this.param('bias', o.std !== undefined ? ops.zeros([outFeatures]) : uniform([outFeatures], bound, gen));
  }
  forward(x: Tensor): Tensor {
    return ops.linear(x, this.weight, this.bias);
  }
}

export interface Conv2dConfig {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  bias?: boolean;
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias?: Tensor;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernel: number,
    gen: Generator,
    readonly config: Conv2dConfig = {},
  ) {
    super();
    const groups = config.groups ?? 1;
    // Kaiming normal, fan_out, for ReLU networks (He et al. 2015; the WRN and
    // ResNet reference code use it for every convolution).
    const fanOut = (outChannels * kernel * kernel) / groups;
    this.weight = this.param('weight', normal([outChannels, inChannels / groups, kernel, kernel], Math.sqrt(2 / fanOut), gen));
    if (config.bias) this.bias = this.param('bias', ops.zeros([outChannels]));
  }
  forward(x: Tensor): Tensor {
    const c = this.config;
    return ops.conv2d(x, this.weight, this.bias, { stride: c.stride ?? 1, padding: c.padding ?? 0, dilation: c.dilation ?? 1, groups: c.groups ?? 1 });
  }
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  constructor(channels: number, readonly momentum = 0.1, readonly eps = 1e-5) {
    super();
    this.weight = this.param('weight', ops.ones([channels]));
    this.bias = this.param('bias', ops.zeros([channels]));
    this.runningMean = this.buffer('runningMean', ops.zeros([channels]));
    this.runningVar = this.buffer('runningVar', ops.ones([channels]));
  }
  forward(x: Tensor): Tensor {
    return ops.batchNorm(x, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = this.param('weight', ops.ones([dim]));
    this.bias = this.param('bias', ops.zeros([dim]));
  }
  forward(x: Tensor): Tensor {
    return ops.layerNorm(x, [this.dim], this.weight, this.bias, this.eps);
  }
}

export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(count: number, dim: number, gen: Generator, std = 0.02) {
    super();
    this.weight = this.param('weight', normal([count, dim], std, gen));
  }
  /** indices: int64 */
  forward(indices: Tensor): Tensor {
    return ops.embedding(this.weight, indices);
  }
}
