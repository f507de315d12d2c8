// Tensor files (saveTensors/loadTensors) and Module state dicts.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module, dispose, loadTensors, ops, saveTensors, setNumThreads, tensor, tidy, type Tensor } from '../../src/engine/index.js';

setNumThreads(1);

const dir = mkdtempSync(join(tmpdir(), 'adt-engine-test-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function sample(): Map<string, Tensor> {
  return new Map<string, Tensor>([
    ['f32', tensor([1.5, -2.25, 3e-8, 1e30, -0, 7], [2, 3], 'float32')],
    ['f64', tensor([Math.PI, -Math.E, 1e-300, 2 ** 60], [4], 'float64')],
    ['i32', tensor([2147483647, -2147483648, 0, 5], [2, 2], 'int32')],
    ['i64', tensor(BigInt64Array.from([9007199254740993n, -5n, 0n]), [3], 'int64')],
    ['u8', tensor([0, 255, 128], [3, 1], 'uint8')],
    ['bool', tensor([1, 0, 0, 1], [4], 'bool')],
    ['scalar', tensor([42], [], 'float32')],
    ['empty', tensor([], [0, 3], 'float32')],
    ['transposed', ops.transpose(tensor([1, 2, 3, 4, 5, 6], [2, 3]), 0, 1)],
  ]);
}

test('saveTensors/loadTensors round trip: every dtype, shape and the meta JSON', () => {
  tidy(() => {
    const path = join(dir, 'all.adt');
    const src = sample();
    const meta = { epoch: 3, name: 'wrn', nested: { lr: [0.1, 0.01], ok: true, none: null } };
    saveTensors(path, src, meta);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temporary file left');
    const { tensors, meta: back } = loadTensors(path);
    assert.deepEqual(back, meta);
    assert.deepEqual([...tensors.keys()], [...src.keys()]);
    for (const [k, t] of src) {
      const u = tensors.get(k) as Tensor;
      assert.equal(u.dtype, t.dtype, `${k} dtype`);
      assert.deepEqual(u.shape, t.shape, `${k} shape`);
      assert.deepEqual(u.data(), ops.contiguous(t).data(), `${k} data`);
    }
    assert.equal((tensors.get('i64') as Tensor).data()[0], 9007199254740993n, 'int64 keeps all 64 bits');
    assert.deepEqual((tensors.get('transposed') as Tensor).toArray(), [1, 4, 2, 5, 3, 6]);
    // no meta -> null
    saveTensors(path, new Map([['x', tensor([1])]]));
    assert.equal(loadTensors(path).meta, null);
    dispose(tensors);
  });
});

test('corrupt or truncated tensor files raise errors naming the file', () => {
  tidy(() => {
    const path = join(dir, 'good.adt');
    saveTensors(path, sample(), { a: 1 });
    const good = readFileSync(path);
    const hlen = good.readUInt32LE(10);
    const dataStart = 14 + hlen;
    const bad = join(dir, 'bad.adt');
    const expectBad = (bytes: Buffer, why: RegExp | null, label: string): void => {
      writeFileSync(bad, bytes);
      assert.throws(
        () => loadTensors(bad),
        (e: Error) => e.message.includes(bad) && (why === null || why.test(e.message)),
        label,
      );
    };
    // truncated at every region: magic, length, header, data
    for (const len of [0, 5, 12, 20, dataStart - 1, dataStart, dataStart + 10, good.length - 1]) {
      expectBad(good.subarray(0, len), null, `truncated to ${len} bytes`);
    }
    expectBad(good.subarray(0, good.length - 1), /truncated/, 'last byte missing');
    const wrongMagic = Buffer.from(good);
    wrongMagic[0] ^= 0xff;
    expectBad(wrongMagic, /magic/, 'wrong magic');
    const badJson = Buffer.from(good);
    badJson[14] = 0x7b + 1; // '|' instead of '{'
    expectBad(badJson, /JSON/, 'header not JSON');
    const withHeader = (h: unknown): Buffer => {
      const hb = Buffer.from(JSON.stringify(h));
      const len = Buffer.alloc(4);
      len.writeUInt32LE(hb.length);
      return Buffer.concat([good.subarray(0, 10), len, hb, good.subarray(dataStart)]);
    };
    expectBad(withHeader({ meta: 1 }), /entry list/, 'no entries');
    expectBad(withHeader(null), /entry list/, 'null header');
    expectBad(withHeader({ entries: [{ name: 'x', dtype: 'complex', shape: [1], offset: 0, bytes: 8 }] }), /dtype/, 'unknown dtype');
    expectBad(withHeader({ entries: [{ name: 'x', dtype: 'float32', shape: [2], offset: 0, bytes: 3 }] }), /'x'/, 'byte count vs shape');
    expectBad(withHeader({ entries: [{ name: 'x', dtype: 'float32', shape: ['2'], offset: 0, bytes: 8 }] }), /shape/, 'bad shape');
    expectBad(withHeader({ entries: [{ name: 'x', dtype: 'float32', shape: [2], offset: -4, bytes: 8 }] }), /offset/, 'negative offset');
    expectBad(withHeader({ entries: [{ name: 'x', dtype: 'float64', shape: [1 << 20], offset: 0, bytes: 8 << 20 }] }), /truncated/, 'data past the end');
    assert.throws(() => loadTensors(join(dir, 'missing.adt')), /missing\.adt/);
  });
});

class Inner extends Module {
  readonly w: Tensor;
  readonly stat: Tensor;
  constructor(seed: number) {
    super();
    this.w = this.param('w', tensor([seed, seed + 1, seed + 2, seed + 3], [2, 2]));
    this.stat = this.buffer('stat', tensor([seed * 10], [1]));
  }
}
class Outer extends Module {
  readonly bias: Tensor;
  readonly a: Inner;
  readonly b: Inner;
  constructor(seed: number, biasSize = 3) {
    super();
    this.bias = this.param('bias', ops.full([biasSize], seed));
    this.a = this.child('a', new Inner(seed));
    this.b = this.child('b', new Inner(seed + 100));
  }
}

test('Module.stateDict/loadStateDict round trip through a tensor file', () => {
  const m = new Outer(1);
  const sd = m.stateDict();
  assert.deepEqual([...sd.keys()], ['bias', 'a.w', 'b.w', 'a.stat', 'b.stat']);
  assert.deepEqual(m.parameters().length, 3);
  assert.equal(m.parameterCount(), 3 + 4 + 4);
  const path = join(dir, 'model.adt');
  saveTensors(path, sd, { arch: 'outer' });
  const other = new Outer(7);
  const file = loadTensors(path);
  other.loadStateDict(file.tensors, path);
  dispose(file.tensors);
  for (const [k, t] of other.stateDict()) assert.deepEqual(t.toArray(), (sd.get(k) as Tensor).toArray(), k);
  // parameters stay trainable leaves after loading
  assert.deepEqual(other.a.w.toArray(), [1, 2, 3, 4]);
  other.eval();
  assert.equal(other.a.training, false);
  m.dispose();
  other.dispose();
  assert.ok(m.bias.isDisposed && m.b.stat.isDisposed);
});

test('loadStateDict mismatches name the key and leave the model untouched', () => {
  const m = new Outer(1);
  const before = [...m.stateDict()].map(([k, t]) => [k, t.toArray()]);
  const src2 = new Outer(2);
  const src3 = new Outer(3, 4);
  const sd = src2.stateDict();
  tidy(() => {
    const missing = new Map(sd);
    missing.delete('b.stat');
    assert.throws(() => m.loadStateDict(missing, 'ckpt.adt'), (e: Error) => /ckpt\.adt/.test(e.message) && /missing b\.stat/.test(e.message));
    const extra = new Map(sd);
    extra.set('c.w', tensor([1]));
    assert.throws(() => m.loadStateDict(extra), /unexpected c\.w/);
    const wrongShape = src3.stateDict();
    assert.throws(() => m.loadStateDict(wrongShape), (e: Error) => e.message.includes("'bias'") && e.message.includes('[4]') && e.message.includes('[3]'));
    // 'bias' comes first and is rejected, but nothing else was copied either
    const lateMismatch = new Map(sd);
    lateMismatch.set('b.stat', tensor([1, 2], [2]));
    assert.throws(() => m.loadStateDict(lateMismatch), /'b\.stat'/);
  });
  assert.deepEqual([...m.stateDict()].map(([k, t]) => [k, t.toArray()]), before, 'model unchanged after failed loads');
  for (const x of [m, src2, src3]) x.dispose();
});
