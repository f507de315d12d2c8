// What the engine runs on: libtorch version and location, BLAS, threads, devices.
import { readFileSync, realpathSync } from 'node:fs';
import { addonFile, native } from './native.js';
import { setDefaultDevice } from './tensor.js';
import { DEVICE_NAMES_HELP, isDeviceName } from './devices.js';

export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`threads must be a positive integer, got ${n}`);
  native.setNumThreads(n);
}
export function getNumThreads(): number {
  return native.getNumThreads();
}
/** OpenBLAS's own thread count (setNumThreads sets it too), or null when libtorch's BLAS is not OpenBLAS. */
export function getBlasThreads(): number | null {
  const n = native.blasThreads();
  return n < 0 ? null : n;
}

/** The shared libraries the process has mapped whose names match re. */
function mappedLibraries(re: RegExp): string[] {
  try {
    const maps = readFileSync('/proc/self/maps', 'utf8');
    const libs = new Set<string>();
    for (const line of maps.split('\n')) {
      const path = line.split(/\s+/)[5];
      if (path && re.test(path)) libs.add(path);
    }
    return [...libs];
  } catch {
    return [];
  }
}

export type BlasKind = 'openblas' | 'mkl' | 'blis' | 'atlas' | 'reference' | 'unknown';
export interface BlasInfo {
  kind: BlasKind;
  library: string | null;
}

/**
 * Which BLAS libtorch's matmuls call. Debian resolves libblas.so.3 through the
 * alternatives system; the reference BLAS it falls back to is ~10x slower.
 */
export function blasInfo(): BlasInfo {
  const libs = mappedLibraries(/blas|mkl|atlas/i);
  const real = libs.map((l) => {
    try {
      return realpathSync(l);
    } catch {
      return l;
    }
  });
  const pick = (re: RegExp): string | undefined => real.find((l) => re.test(l));
  const openblas = pick(/openblas/i);
  if (openblas) return { kind: 'openblas', library: openblas };
  const mkl = pick(/mkl/i);
  if (mkl) return { kind: 'mkl', library: mkl };
  const blis = pick(/blis/i);
  if (blis) return { kind: 'blis', library: blis };
  const atlas = pick(/atlas/i);
  if (atlas) return { kind: 'atlas', library: atlas };
  const ref = pick(/\/blas\/libblas|libblas\.so/);
  if (ref) return { kind: 'reference', library: ref };
  return { kind: 'unknown', library: null };
}

export interface RuntimeInfo {
  libtorchVersion: string;
  libtorchPath: string | null;
  addon: string;
  threads: number;
  /** OpenBLAS's thread count, or null for another BLAS. */
  blasThreads: number | null;
  blas: BlasInfo;
  mkldnn: boolean;
  cuda: { available: boolean; devices: number };
  config: string;
}

export function runtimeInfo(): RuntimeInfo {
  const r = native.runtimeInfo();
  const torchLib = mappedLibraries(/libtorch_cpu\.so/)[0] ?? null;
  return {
    libtorchVersion: r.version,
    libtorchPath: torchLib,
    addon: addonFile,
    threads: native.getNumThreads(),
    blasThreads: getBlasThreads(),
    blas: blasInfo(),
    mkldnn: r.mkldnnAvailable,
    cuda: { available: r.cudaAvailable, devices: r.cudaDeviceCount },
    config: r.config,
  };
}

/** Picks 'cuda' when asked and available; 'auto' prefers CUDA. Throws when CUDA is asked for but absent, and (RangeError) for a name that is no device. */
export function useDevice(request: 'cpu' | 'cuda' | 'auto' | string): string {
  if (!isDeviceName(request)) throw new RangeError(`device '${request}': not a device; expected ${DEVICE_NAMES_HELP}`);
  const { cudaAvailable } = native.runtimeInfo();
  let device = request;
  if (request === 'auto') device = cudaAvailable ? 'cuda' : 'cpu';
  if (device.startsWith('cuda') && !cudaAvailable) {
    throw new Error(
      `device '${request}': this libtorch has no CUDA (or no GPU is visible). Install a CUDA build of libtorch, ` +
        'set LIBTORCH to it and run `npm rebuild autodropout`, or use --device cpu.',
    );
  }
  setDefaultDevice(device);
  return device;
}
