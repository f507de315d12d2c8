// Tensor files: a small self-describing format (magic, JSON header, raw
// little-endian data), written atomically so a crash never leaves half a file.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { tensor, type DType, type Tensor } from './tensor.js';

const MAGIC = Buffer.from('ADTENSOR1\n');
const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'int64', 'uint8', 'bool'];
const BYTES: Record<DType, number> = { float32: 4, float64: 8, int32: 4, int64: 8, uint8: 1, bool: 1 };

interface Entry {
  name: string;
  dtype: DType;
  shape: number[];
  offset: number;
  bytes: number;
}

/** Writes the tensors (and optional JSON metadata) to path, atomically. */
export function saveTensors(path: string, tensors: ReadonlyMap<string, Tensor>, meta: unknown = null): void {
  const entries: Entry[] = [];
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    const d = t.data();
    const b = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    entries.push({ name, dtype: t.dtype, shape: t.shape, offset, bytes: b.length });
    blobs.push(b);
    offset += b.length;
  }
  const header = Buffer.from(JSON.stringify({ entries, meta }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  writeAtomically(path, [MAGIC, len, header, ...blobs]);
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
  const buf = readFileSync(path);
  const bad = (why: string): Error => new Error(`${path}: not a valid autodropout tensor file (${why})`);
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
    if (e.bytes !== expected * BYTES[e.dtype]) {
      throw bad(`'${e.name}' holds ${e.bytes} bytes but shape [${e.shape}] of ${e.dtype} needs ${expected * BYTES[e.dtype]}`);
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
      : copy;
    tensors.set(e.name, tensor(view, e.shape, e.dtype, 'cpu'));
  }
  return { tensors, meta: header.meta };
}
