// The Tensor handle and deterministic memory release through scopes.
//
// Every tensor created inside `tidy(fn)` is freed when fn returns, except the
// tensors fn returns (they move to the enclosing scope) and tensors passed to
// `keep()` (parameters, optimizer-visible state). Garbage collection frees
// what escapes both (the addon's finalizer), but training loops must not rely
// on it: native memory is invisible to V8's heuristics.
import { native, type DType, type NativeTensor } from './native.js';

export type { DType } from './native.js';
export type Shape = readonly number[];
export type TypedArrayFor<D extends DType> = D extends 'float32'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int32'
      ? Int32Array
      : D extends 'int64'
        ? BigInt64Array
        : D extends HalfDType
          ? Uint16Array
          : Uint8Array;
export type AnyTypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;
/** The 16-bit floating-point types mixed precision computes in (src/engine/autocast.ts). */
export type HalfDType = 'bfloat16' | 'float16';
export const isHalfDType = (d: DType): d is HalfDType => d === 'bfloat16' || d === 'float16';

const scopes: Set<Tensor>[] = [];
let defaultDevice = 'cpu';

/** Sets the device new tensors are created on ('cpu', 'cuda', 'cuda:1'). */
export function setDefaultDevice(device: string): void {
  defaultDevice = device;
}
export function getDefaultDevice(): string {
  return defaultDevice;
}

export class Tensor {
  /** The addon's handle; only src/engine reads it. */
  readonly handle: NativeTensor;
  private kept = false;

  constructor(handle: NativeTensor) {
    this.handle = handle;
    const scope = scopes[scopes.length - 1];
    if (scope) scope.add(this);
  }

  get shape(): number[] {
    return this.handle.shape();
  }
  get dtype(): DType {
    return this.handle.dtype();
  }
  get device(): string {
    return this.handle.device();
  }
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
  get isDisposed(): boolean {
    return this.handle.isDisposed();
  }

  /** Frees the native memory now. Safe to call twice. */
  dispose(): void {
    this.handle.dispose();
  }

  /** Exempts this tensor from every scope; the caller frees it. */
  keep(): this {
    this.kept = true;
    for (const s of scopes) s.delete(this);
    return this;
  }
  get isKept(): boolean {
    return this.kept;
  }

  /** A copy of the data in a typed array matching the dtype (bool -> Uint8Array; bfloat16/float16 -> their raw 16-bit words). */
  data(): AnyTypedArray {
    const buf = native.toArrayBuffer(this.handle);
    switch (this.dtype) {
      case 'bfloat16':
      case 'float16':
        return new Uint16Array(buf);
      case 'float32':
        return new Float32Array(buf);
      case 'float64':
        return new Float64Array(buf);
      case 'int32':
        return new Int32Array(buf);
      case 'int64':
        return new BigInt64Array(buf);
      default:
        return new Uint8Array(buf);
    }
  }
  /** The data as plain numbers (int64 converted with Number(), bfloat16/float16 widened to float32 exactly). */
  toArray(): number[] {
    if (isHalfDType(this.dtype)) {
      const wide = native.to(this.handle, 'float32');
      try {
        return Array.from(new Float32Array(native.toArrayBuffer(wide)));
      } finally {
        wide.dispose();
      }
    }
    const d = this.data();
    return d instanceof BigInt64Array ? Array.from(d, (v) => Number(v)) : Array.from(d);
  }
  /** The single value of a one-element tensor. */
  item(): number {
    return native.item(this.handle);
  }
  toString(): string {
    if (this.isDisposed) return 'Tensor(disposed)';
    return `Tensor(${JSON.stringify(this.shape)}, ${this.dtype}, ${this.device})`;
  }
}

function collect(value: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value instanceof Tensor) {
    out.add(value);
  } else if (value !== null && typeof value === 'object' && !seen.has(value)) {
    seen.add(value);
    if (value instanceof Map) {
      for (const v of value.values()) collect(v, out, seen);
    } else if (Array.isArray(value)) {
      for (const v of value) collect(v, out, seen);
    } else if (Object.getPrototypeOf(value) === Object.prototype) {
      for (const v of Object.values(value)) collect(v, out, seen);
    }
  }
}

/**
 * Runs fn and frees every tensor it created, except those it returns (found in
 * the result, arrays, Maps and plain objects), which move to the outer scope.
 * fn must be synchronous: an awaited continuation would run outside the scope.
 */
export function tidy<R>(fn: () => R): R {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: R;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw err;
  }
  scopes.pop();
  if (result instanceof Promise) {
    for (const t of scope) t.dispose();
    throw new Error('tidy(fn): fn returned a Promise; scopes only track synchronous work');
  }
  const returned = new Set<Tensor>();
  collect(result, returned);
  const outer = scopes[scopes.length - 1];
  for (const t of scope) {
    if (returned.has(t)) {
      if (outer) outer.add(t);
    } else {
      t.dispose();
    }
  }
  return result;
}

/** Exempts tensors from scopes (see Tensor.keep). */
export function keep<X extends Tensor>(t: X): X {
  return t.keep();
}

/** Frees tensors now (arrays, Maps and objects of tensors too). */
export function dispose(value: unknown): void {
  const found = new Set<Tensor>();
  collect(value, found);
  for (const t of found) t.dispose();
}

/** Number of tensors alive in the addon: a memory-leak probe for tests. */
export function liveTensorCount(): number {
  return native.liveTensorCount();
}

export function wrap(handle: NativeTensor): Tensor {
  return new Tensor(handle);
}

function defaultDtypeFor(data: AnyTypedArray | number[]): DType {
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Uint8Array) return 'uint8';
  if (data instanceof Uint16Array) throw new TypeError('tensor: a Uint16Array holds raw bfloat16 or float16 words: pass the dtype');
  return 'float32';
}

function toTypedArray(data: AnyTypedArray | number[], dtype: DType): AnyTypedArray {
  if (!Array.isArray(data)) return data;
  switch (dtype) {
    case 'float64':
      return Float64Array.from(data);
    case 'int32':
      return Int32Array.from(data);
    case 'int64':
      return BigInt64Array.from(data, (v) => BigInt(v));
    case 'uint8':
    case 'bool':
      return Uint8Array.from(data);
    default:
      return Float32Array.from(data);
  }
}

/** Bytes per element of each dtype (the one table: tensor(), the tensor blob format). */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = { float32: 4, float64: 8, int32: 4, int64: 8, uint8: 1, bool: 1, bfloat16: 2, float16: 2 };

/**
 * Copies JS data into a new tensor. The typed array's element type must match
 * dtype (an Int32Array cannot become int64 silently: use .to('int64')).
 */
export function tensor(data: AnyTypedArray | number[], shape?: Shape, dtype?: DType, device = defaultDevice): Tensor {
  const dt = dtype ?? defaultDtypeFor(data);
  if (isHalfDType(dt) && Array.isArray(data)) {
    // Numbers are rounded to the 16-bit type by libtorch, from float32.
    const wide = native.fromTypedArray(Float32Array.from(data), shape ? [...shape] : [data.length], 'float32', device);
    try {
      return new Tensor(native.to(wide, dt));
    } finally {
      wide.dispose();
    }
  }
  const arr = toTypedArray(data, dt);
  const shp = shape ? [...shape] : [arr.length];
  if (arr.BYTES_PER_ELEMENT !== DTYPE_BYTES[dt]) {
    throw new TypeError(
      `tensor: a ${arr.constructor.name} cannot hold dtype ${dt}; pass a matching typed array or a number[]`,
    );
  }
  return new Tensor(native.fromTypedArray(arr, shp, dt, device));
}

/** A tensor holding one number. */
export function scalar(value: number, dtype: DType = 'float32', device = defaultDevice): Tensor {
  return new Tensor(native.full([], value, dtype, device));
}
