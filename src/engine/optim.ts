// libtorch's own optimizers; the TS side only picks hyper-parameters.
import { native, type NativeOptimizer } from './native.js';
import type { Tensor } from './tensor.js';

export interface SgdOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}
export interface AdamOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Decoupled for AdamW (default 0.01), L2 for Adam (default 0). */
  weightDecay?: number;
}

export class Optimizer {
  private readonly handle: NativeOptimizer;
  constructor(
    readonly kind: 'sgd' | 'adam' | 'adamw',
    readonly params: readonly Tensor[],
    options: SgdOptions | AdamOptions,
  ) {
    if (!(options.lr > 0)) throw new RangeError(`${kind}: lr must be > 0, got ${options.lr}`);
    this.handle = new native.Optimizer(kind, params.map((p) => p.handle), { ...options });
  }
  step(): void {
    this.handle.step();
  }
  /** Clears the parameters' gradients (sets them to undefined, as set_to_none). */
  zeroGrad(): void {
    native.zeroGrad(this.params.map((p) => p.handle));
  }
  get lr(): number {
    return this.handle.getLr();
  }
  set lr(value: number) {
    this.handle.setLr(value);
  }
  /** Momentum buffers / Adam moments and step counts, in libtorch's archive format. */
  saveState(): Buffer {
    return this.handle.saveState();
  }
  loadState(state: Buffer): void {
    this.handle.loadState(state);
  }
}

export const sgd = (params: readonly Tensor[], o: SgdOptions): Optimizer => new Optimizer('sgd', params, o);
export const adam = (params: readonly Tensor[], o: AdamOptions): Optimizer => new Optimizer('adam', params, o);
export const adamw = (params: readonly Tensor[], o: AdamOptions): Optimizer => new Optimizer('adamw', params, o);
