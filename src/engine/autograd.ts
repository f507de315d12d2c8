// Autograd: gradients, backward passes and the no-grad scope.
import { native } from './native.js';
import { Tensor } from './tensor.js';

/** Marks a tensor as a leaf whose gradient is recorded (in place). */
export function requiresGrad(x: Tensor, on = true): Tensor {
  native.setRequiresGrad(x.handle, on);
  return x;
}
export function isRequiringGrad(x: Tensor): boolean {
  return native.requiresGrad(x.handle);
}
/** Back-propagates from a scalar (or from `grad` for a non-scalar). */
export function backward(x: Tensor, grad?: Tensor, retainGraph = false): void {
  native.backward(x.handle, grad?.handle, retainGraph);
}
/** The accumulated gradient of a leaf, or null before any backward pass. */
export function grad(x: Tensor): Tensor | null {
  const g = native.grad(x.handle);
  return g ? new Tensor(g) : null;
}
/** Drops the gradients of these leaves (the next backward starts from zero). */
export function zeroGrad(params: readonly Tensor[]): void {
  native.zeroGrad(params.map((p) => p.handle));
}
/** Runs fn without recording operations for autograd. */
export function noGrad<R>(fn: () => R): R {
  const was = native.isGradEnabled();
  native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(was);
  }
}
/** Scales gradients so their global p-norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: readonly Tensor[], maxNorm: number, p = 2): number {
  return native.clipGradNorm(params.map((t) => t.handle), maxNorm, p);
}
