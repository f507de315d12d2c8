// Parameter containers: a Module owns named parameters, buffers and child
// modules, like torch.nn.Module, so optimizers, checkpoints and the dropout
// slots can walk a model by name.
import { requiresGrad } from './autograd.js';
import { copyInto } from './ops.js';
import { noGrad } from './autograd.js';
import { keep, type Tensor } from './tensor.js';

export abstract class Module {
  private readonly ownParams = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly ownChildren = new Map<string, Module>();
  training = true;

  /** Registers a trainable leaf (kept out of scopes, gradient recorded). */
  protected param(name: string, value: Tensor): Tensor {
    this.checkName(name);
    const t = requiresGrad(keep(value));
    this.ownParams.set(name, t);
    return t;
  }
  /** Registers non-trainable state saved with the model (e.g. batch-norm statistics). */
  protected buffer(name: string, value: Tensor): Tensor {
    this.checkName(name);
    const t = keep(value);
    this.ownBuffers.set(name, t);
    return t;
  }
  protected child<M extends Module>(name: string, m: M): M {
    this.checkName(name);
    this.ownChildren.set(name, m);
    return m;
  }
  private checkName(name: string): void {
    if (this.ownParams.has(name) || this.ownBuffers.has(name) || this.ownChildren.has(name) || name.includes('.')) {
      throw new Error(`${this.constructor.name}: duplicate or dotted member name '${name}'`);
    }
  }

  *namedChildren(prefix = ''): Generator<[string, Module]> {
    for (const [n, m] of this.ownChildren) {
      const full = prefix ? `${prefix}.${n}` : n;
      yield [full, m];
      yield* m.namedChildren(full);
    }
  }
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.ownParams) out.push([prefix ? `${prefix}.${n}` : n, t]);
    for (const [n, m] of this.ownChildren) out.push(...m.namedParameters(prefix ? `${prefix}.${n}` : n));
    return out;
  }
  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, t] of this.ownBuffers) out.push([prefix ? `${prefix}.${n}` : n, t]);
    for (const [n, m] of this.ownChildren) out.push(...m.namedBuffers(prefix ? `${prefix}.${n}` : n));
    return out;
  }
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }
  parameterCount(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }
  /** Parameters and buffers by dotted name. */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }
  /** Copies values in; every name must match in both directions, with equal shapes. */
  loadStateDict(state: ReadonlyMap<string, Tensor>, source = 'state dict'): void {
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const extra = [...state.keys()].filter((k) => !own.has(k));
    if (missing.length || extra.length) {
      throw new Error(
        `${source}: does not match ${this.constructor.name}` +
          (missing.length ? `; missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}` : '') +
          (extra.length ? `; unexpected ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}` : ''),
      );
    }
    // Check every shape before copying anything, so a mismatch leaves the model untouched.
    for (const [k, dst] of own) {
      const src = state.get(k) as Tensor;
      if (JSON.stringify(src.shape) !== JSON.stringify(dst.shape)) {
        throw new Error(`${source}: '${k}' has shape [${src.shape}] but the model expects [${dst.shape}]`);
      }
    }
    noGrad(() => {
      for (const [k, dst] of own) copyInto(dst, state.get(k) as Tensor);
    });
  }
  /** Sets training mode here and below (dropout slots and batch norm read it). */
  train(on = true): this {
    this.training = on;
    for (const [, m] of this.ownChildren) m.train(on);
    return this;
  }
  eval(): this {
    return this.train(false);
  }
  /** Frees every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.stateDict()) t.dispose();
  }
}
