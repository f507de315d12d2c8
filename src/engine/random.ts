// Seeded random-number generators (libtorch's Philox/MT CPU generator). All
// randomness in training (init, masks, dropout) takes one of these, so a seed
// reproduces a run on the same backend.
import { native, type NativeGenerator } from './native.js';

export class Generator {
  readonly handle: NativeGenerator;
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`Generator: seed must be a non-negative integer, got ${seed}`);
    this.handle = new native.Generator(seed);
  }
  /** The full generator state, for checkpoints. */
  getState(): Buffer {
    return this.handle.getState();
  }
  setState(state: Buffer): void {
    this.handle.setState(state);
  }
}
