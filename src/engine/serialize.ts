// The tensor blob format: magic, u32 little-endian header length, JSON header
// {entries, meta}, raw little-endian data. One encoder and one checked decoder
// serve both the tensor files (training checkpoints, written atomically so a
// crash never leaves half a file) and the blobs the search stores in SQLite
// (controller checkpoints): a blob written to a file loads with loadTensors().
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { DTYPE_BYTES, tensor, type DType, type Tensor } from './tensor.js';

const MAGIC = Buffer.from('ADTENSOR1\n');
const DTYPES = Object.keys(DTYPE_BYTES) as DType[];

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  offset: number;
  bytes: number;
}

/** Tensors (and optional JSON metadata) as one blob. */
export function encodeTensors(tensors: ReadonlyMap<string, Tensor>, meta: unknown = null): Buffer {
  const entries: Entry[] = [];
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const d = t.data();
    const b = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    entries.push({ name, dtype: t.dtype, shape: [...t.shape], offset, bytes: b.length });
    blobs.push(b);
    offset += b.length;
  }
  const header = Buffer.from(JSON.stringify({ entries, meta }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  // concat copies: the blob does not share memory with the tensors' data views.
  return Buffer.concat([MAGIC, len, header, ...blobs]);
}

/** Writes the tensors (and optional JSON metadata) to path, atomically. */
export function saveTensors(path: string, tensors: ReadonlyMap<string, Tensor>, meta: unknown = null): void {
  writeAtomically(path, [encodeTensors(tensors, meta)]);
}

export function writeAtomically(path: string, chunks: readonly Buffer[]): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const c of chunks) writeSync(fd, c);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export interface TensorFile {
  tensors: Map<string, Tensor>;
  meta: unknown;
}

/** Reads a file written by saveTensors; corrupt or truncated files raise an error naming the file. */
export function loadTensors(path: string): TensorFile {
  return decodeTensors(readFileSync(path), path, 'autodropout tensor file');
}

/**
 * A blob from encodeTensors → CPU tensors (the caller disposes them) and its
 * metadata; a corrupt or truncated blob raises an error naming `source` (and
 * `what` it was meant to be) before any tensor is made.
 */
export function decodeTensors(buf: Buffer, source: string, what = 'tensor blob'): TensorFile {
  const bad = (why: string): Error => new Error(`${source}: not a valid ${what} (${why})`);
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw bad('wrong magic bytes');
  const hlen = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4 + hlen;
  if (start > buf.length) throw bad('header is truncated');
  let header: { entries: Entry[]; meta: unknown };
  try {
    header = JSON.parse(buf.subarray(MAGIC.length + 4, start).toString('utf8'));
  } catch {
    throw bad('header is not JSON');
  }
  // Validate every entry before creating any tensor: a corrupt header must
  // raise an error naming the file (not a TypeError/RangeError from deep
  // inside) and must not leave half the tensors allocated.
  if (header === null || typeof header !== 'object' || !Array.isArray(header.entries)) throw bad('header has no entry list');
  const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  for (const e of header.entries) {
    if (e === null || typeof e !== 'object' || typeof e.name !== 'string') throw bad('an entry has no name');
    if (!DTYPES.includes(e.dtype)) throw bad(`entry '${e.name}' has unknown dtype ${e.dtype}`);
    if (!Array.isArray(e.shape) || !e.shape.every(isCount)) throw bad(`entry '${e.name}' has an invalid shape`);
    if (!isCount(e.offset) || !isCount(e.bytes)) throw bad(`entry '${e.name}' has an invalid offset or length`);
    const expected = e.shape.reduce((a, b) => a * b, 1);
    if (e.bytes !== expected * DTYPE_BYTES[e.dtype]) {
      throw bad(`'${e.name}' holds ${e.bytes} bytes but shape [${e.shape}] of ${e.dtype} needs ${expected * DTYPE_BYTES[e.dtype]}`);
    }
    if (start + e.offset + e.bytes > buf.length) throw bad(`data of '${e.name}' is truncated`);
  }
  const tensors = new Map<string, Tensor>();
  for (const e of header.entries) {
    const raw = buf.subarray(start + e.offset, start + e.offset + e.bytes);
    const copy = new Uint8Array(raw); // aligned copy
    const view =
      e.dtype === 'float32' ? new Float32Array(copy.buffer)
      : e.dtype === 'float64' ? new Float64Array(copy.buffer)
      : e.dtype === 'int32' ? new Int32Array(copy.buffer)
      : e.dtype === 'int64' ? new BigInt64Array(copy.buffer)
      : e.dtype === 'bfloat16' || e.dtype === 'float16' ? new Uint16Array(copy.buffer)
      : copy;
    tensors.set(e.name, tensor(view, e.shape, e.dtype, 'cpu'));
  }
  return { tensors, meta: header.meta };
}
