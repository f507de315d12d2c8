// The classic element-wise dropout (Srivastava et al. 2014) as a SlotDropout,
// for `train --dropout dropout:RATE`: Bernoulli(1 - rate) per element drawn
// from the run's seeded generator, inverted scaling by 1/(1 - rate).
import { ops, tidy, type Tensor } from '../engine/index.js';
import type { DropoutContext, SlotDropout, SlotInfo } from '../models/slots.js';
import type { DropoutSpec } from './dropout-spec.js';

export { parseDropoutSpec, type DropoutSpec } from './dropout-spec.js';

export class ElementwiseDropout implements SlotDropout {
  readonly description: string;
  constructor(readonly rate: number) {
    if (!(rate >= 0 && rate < 1)) throw new RangeError(`dropout rate must be in [0, 1), got ${rate}`);
    this.description = `dropout(rate=${rate})`;
  }
  apply(x: Tensor, ctx: DropoutContext, _slot: SlotInfo): Tensor {
    if (this.rate === 0) return x;
    return tidy(() => {
      const keep = ops.ge(ops.rand(x.shape, ctx.generator, 'float32', x.device), this.rate);
      return ops.mul(x, ops.mul(ops.to(keep, x.dtype), 1 / (1 - this.rate)));
    });
  }
}

/** The SlotDropout for a spec, or null for none. */
export function dropoutFromSpec(spec: DropoutSpec): SlotDropout | null {
  return spec.kind === 'dropout' ? new ElementwiseDropout(spec.rate) : null;
}
