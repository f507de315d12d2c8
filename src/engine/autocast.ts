// Mixed precision: regions in which libtorch's autocast runs convolutions,
// matmuls and linear layers in bfloat16 or float16 while the weights, their
// gradients and the optimizer stay float32 (the master weights). As in
// torch.autocast, the forward pass and the loss run inside a region and the
// backward pass outside it. The state is the thread's, so regions do not nest
// here: one region at a time, opened and closed by the trainer.
import { native } from './native.js';
import { getDefaultDevice, type HalfDType } from './tensor.js';

let open: { deviceType: 'cpu' | 'cuda' } | null = null;

/** The device type autocast keys on for a device name ('cuda:1' -> 'cuda'). */
function deviceTypeOf(device: string): 'cpu' | 'cuda' {
  if (device === 'cpu') return 'cpu';
  if (device.startsWith('cuda')) return 'cuda';
  throw new RangeError(`autocast: no autocast for device '${device}'`);
}

/**
 * Runs fn with autocast to `dtype` on the default device's type (null: plain
 * float32, fn runs as it is). A promise returned by fn keeps the region open
 * until it settles. float16 on the CPU is refused: libtorch 1.13's CPU
 * autocast supports bfloat16 only.
 */
export function autocast<T>(dtype: HalfDType | null, fn: () => T): T {
  if (dtype === null) return fn();
  if (open !== null) throw new Error('autocast: a region is already open (regions do not nest)');
  const deviceType = deviceTypeOf(getDefaultDevice());
  if (deviceType === 'cpu' && dtype === 'float16') throw new RangeError('autocast: float16 needs a CUDA device; on the CPU use bfloat16');
  native.autocastEnter(deviceType, dtype);
  open = { deviceType };
  let settlesLater = false;
  try {
    const result = fn();
    if (result instanceof Promise) {
      settlesLater = true;
      return result.finally(close) as T;
    }
    return result;
  } finally {
    if (!settlesLater) close();
  }
}

function close(): void {
  if (open === null) return;
  native.autocastExit(open.deviceType);
  open = null;
}

/** Whether an autocast region is open. */
export function inAutocast(): boolean {
  return open !== null;
}
