/**
 * IDX files (the MNIST family's format): a 4-byte magic `00 00 <dtype> <ndim>`, ndim big-endian
 * uint32 dimension sizes, then the data. Only unsigned bytes (dtype 0x08) are accepted because
 * that is all the image/label files use; anything else is reported, not converted.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DataError } from './errors.js';

export interface IdxArray {
  /** Dimension sizes from the header, outermost first. */
  dims: number[];
  /** Row-major data, a view into the decoded file (no copy). */
  data: Uint8Array;
  file: string;
}

const DTYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

function hex(bytes: Uint8Array, n: number): string {
  return Array.from(bytes.subarray(0, n), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** True when the bytes start with the gzip magic 1f 8b (names are not trusted). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Gunzips when the content is gzip, otherwise returns the bytes unchanged. */
export function maybeGunzip(bytes: Uint8Array, file: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new DataError(`${file}: gunzip failed (${why}); the file is corrupt or truncated`, { cause: e });
  }
}

/**
 * Parses decoded IDX bytes. `expectDims` is the required number of dimensions (3 for images,
 * 1 for labels); a mismatch usually means image and label files were swapped.
 */
export function parseIdx(bytes: Uint8Array, file: string, expectDims?: number): IdxArray {
  if (bytes.length < 4) {
    throw new DataError(`${file}: ${bytes.length} bytes is too short for an IDX header (truncated or empty file)`);
  }
  const dtype = bytes[2];
  const ndim = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || DTYPE_NAMES[dtype] === undefined || ndim === 0) {
    throw new DataError(
      `${file}: bad magic ${hex(bytes, 4)}; expected an IDX file starting 00 00 08 0${expectDims ?? 'N'}`,
    );
  }
  if (dtype !== 0x08) {
    throw new DataError(
      `${file}: wrong dtype 0x${dtype.toString(16).padStart(2, '0')} (${DTYPE_NAMES[dtype]}); ` +
        'expected 0x08 (unsigned byte)',
    );
  }
  if (expectDims !== undefined && ndim !== expectDims) {
    throw new DataError(`${file}: header has ${ndim} dimension(s), expected ${expectDims}`);
  }
  const headerLen = 4 + 4 * ndim;
  if (bytes.length < headerLen) {
    throw new DataError(
      `${file}: header declares ${ndim} dimensions (${headerLen} header bytes) but the file has only ${bytes.length} bytes`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let size = 1;
  for (let i = 0; i < ndim; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    size *= d;
  }
  const have = bytes.length - headerLen;
  if (have < size) {
    throw new DataError(
      `${file}: header says ${dims[0]} items of shape [${dims.join(', ')}] (${size} data bytes) ` +
        `but the file has only ${have}; it is truncated`,
    );
  }
  if (have > size) {
    throw new DataError(
      `${file}: ${have - size} unexpected bytes after the ${size} data bytes the header [${dims.join(', ')}] describes`,
    );
  }
  return { dims, data: bytes.subarray(headerLen), file };
}

/** Reads, gunzips if needed, and parses one IDX file. */
export function readIdxFile(file: string, expectDims?: number): IdxArray {
  let raw: Uint8Array;
  try {
    raw = readFileSync(file);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new DataError(`${file}: cannot read (${why})`, { cause: e, paths: [file] });
  }
  return parseIdx(maybeGunzip(raw, file), file, expectDims);
}

/** Encodes an unsigned-byte IDX file; used by tests and tools that write fixtures. */
export function encodeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const headerLen = 4 + 4 * dims.length;
  const out = new Uint8Array(headerLen + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, headerLen);
  return out;
}
