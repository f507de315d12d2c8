// Shape and indexing ops against pure-TS references.
import { test } from 'node:test';
import { ops, setNumThreads, tensor, tidy } from '../../src/engine/index.js';
import { Nd, Prng, assertClose, assertExact, permuteRef, randIntNd, randNd, ravel, toTensor, unravel } from './helpers.js';

setNumThreads(1);

/** out[idx] = x[src(idx)] for every index of outShape (null: fill value). */
function gatherRef(outShape: number[], x: Nd, src: (idx: number[]) => number[] | null, fill = 0): Nd {
  const out = Nd.zeros(outShape);
  for (let i = 0; i < out.data.length; i++) {
    const s = src(unravel(i, outShape));
    out.data[i] = s ? x.data[ravel(s, x.shape)] : fill;
  }
  return out;
}

test('reshape, flatten, squeeze, unsqueeze keep row-major order', () => {
  const rng = new Prng(40);
  tidy(() => {
    const x = randNd(rng, [2, 3, 4]);
    const t = toTensor(x);
    assertExact(ops.reshape(t, [4, 6]), new Nd(x.data, [4, 6]), 'reshape');
    assertExact(ops.reshape(t, [-1, 2]), new Nd(x.data, [12, 2]), 'reshape -1');
    assertExact(ops.flatten(t), new Nd(x.data, [24]), 'flatten');
    assertExact(ops.flatten(t, 1), new Nd(x.data, [2, 12]), 'flatten from 1');
    assertExact(ops.flatten(t, 0, 1), new Nd(x.data, [6, 4]), 'flatten 0..1');
    assertExact(ops.unsqueeze(t, 1), new Nd(x.data, [2, 1, 3, 4]), 'unsqueeze');
    assertExact(ops.unsqueeze(t, -1), new Nd(x.data, [2, 3, 4, 1]), 'unsqueeze -1');
    assertExact(ops.squeeze(ops.unsqueeze(t, 2), 2), x, 'squeeze');
    assertExact(ops.squeeze(t, 0), x, 'squeeze of a non-1 dim is a no-op');
  });
});

test('permute, transpose, expand, repeat', () => {
  const rng = new Prng(41);
  tidy(() => {
    const x = randNd(rng, [2, 3, 4]);
    const t = toTensor(x);
    for (const dims of [
      [0, 1, 2],
      [2, 0, 1],
      [1, 2, 0],
      [2, 1, 0],
      [-1, 0, 1],
    ]) {
      assertExact(ops.permute(t, dims), permuteRef(x, dims), `permute ${dims}`);
      // a permuted view stays correct after further ops
      assertExact(ops.contiguous(ops.permute(t, dims)), permuteRef(x, dims), `contiguous permute ${dims}`);
    }
    assertExact(ops.transpose(t, 0, 2), permuteRef(x, [2, 1, 0]), 'transpose 0 2');
    assertExact(ops.transpose(t, -1, -2), permuteRef(x, [0, 2, 1]), 'transpose -1 -2');
    const y = randNd(rng, [3, 1]);
    assertExact(ops.expand(toTensor(y), [2, 3, 4]), gatherRef([2, 3, 4], y, ([, j]) => [j, 0]), 'expand');
    assertExact(ops.repeat(toTensor(y), [2, 3]), gatherRef([6, 3], y, ([i, j]) => [i % 3, j % 1]), 'repeat');
  });
});

test('slice, select, cat, stack', () => {
  const rng = new Prng(42);
  tidy(() => {
    const x = randNd(rng, [4, 5, 3]);
    const t = toTensor(x);
    assertExact(ops.slice(t, 1, 1, 4), gatherRef([4, 3, 3], x, ([a, b, c]) => [a, b + 1, c]), 'slice');
    assertExact(ops.slice(t, 1, 0, 5, 2), gatherRef([4, 3, 3], x, ([a, b, c]) => [a, 2 * b, c]), 'slice step 2');
    assertExact(ops.slice(t, 0, -2, 4), gatherRef([2, 5, 3], x, ([a, b, c]) => [a + 2, b, c]), 'slice negative start');
    assertExact(ops.slice(t, -1, 1, 100), gatherRef([4, 5, 2], x, ([a, b, c]) => [a, b, c + 1]), 'slice end past size');
    assertExact(ops.select(t, 1, 2), gatherRef([4, 3], x, ([a, c]) => [a, 2, c]), 'select');
    assertExact(ops.select(t, 0, -1), gatherRef([5, 3], x, ([b, c]) => [3, b, c]), 'select -1');

    const a = randNd(rng, [2, 3]);
    const b = randNd(rng, [2, 4]);
    const c = randNd(rng, [2, 1]);
    const cat1 = Nd.zeros([2, 8]);
    for (let i = 0; i < 2; i++) {
      const row = [...a.data.subarray(i * 3, i * 3 + 3), ...b.data.subarray(i * 4, i * 4 + 4), c.data[i]];
      row.forEach((v, j) => cat1.set([i, j], v));
    }
    assertExact(ops.cat([toTensor(a), toTensor(b), toTensor(c)], 1), cat1, 'cat dim 1');
    assertExact(ops.cat([toTensor(a), toTensor(a)], 0), new Nd([...a.data, ...a.data], [4, 3]), 'cat dim 0');
    const p = randNd(rng, [2, 3]);
    const q = randNd(rng, [2, 3]);
    assertExact(ops.stack([toTensor(p), toTensor(q)]), new Nd([...p.data, ...q.data], [2, 2, 3]), 'stack 0');
    const s1 = gatherRef([2, 2, 3], new Nd([...p.data, ...q.data], [2, 2, 3]), ([i, k, j]) => [k, i, j]);
    assertExact(ops.stack([toTensor(p), toTensor(q)], 1), s1, 'stack 1');
    const s2 = gatherRef([2, 3, 2], new Nd([...p.data, ...q.data], [2, 2, 3]), ([i, j, k]) => [k, i, j]);
    assertExact(ops.stack([toTensor(p), toTensor(q)], -1), s2, 'stack -1');
  });
});

test('pad, roll, flip', () => {
  const rng = new Prng(43);
  tidy(() => {
    const x = randNd(rng, [2, 3, 4]);
    const t = toTensor(x);
    // [lastLeft, lastRight, secondLastLeft, secondLastRight]
    const padded = gatherRef(
      [2, 3 + 1 + 2, 4 + 2 + 1],
      x,
      ([a, i, j]) => {
        const si = i - 1;
        const sj = j - 2;
        return si >= 0 && si < 3 && sj >= 0 && sj < 4 ? [a, si, sj] : null;
      },
      -7,
    );
    assertExact(ops.pad(t, [2, 1, 1, 2], -7), padded, 'pad 2 dims');
    const zeroPad = gatherRef([2, 3, 5], x, ([a, i, j]) => (j < 4 ? [a, i, j] : null));
    assertExact(ops.pad(t, [0, 1]), zeroPad, 'pad default 0');
    const cropped = gatherRef([2, 3, 2], x, ([a, i, j]) => [a, i, j + 1]);
    assertExact(ops.pad(t, [-1, -1]), cropped, 'negative pad crops');

    const mod = (v: number, n: number): number => ((v % n) + n) % n;
    assertExact(ops.roll(t, [1], [2]), gatherRef([2, 3, 4], x, ([a, i, j]) => [a, i, mod(j - 1, 4)]), 'roll 1');
    assertExact(ops.roll(t, [-1, 5], [1, 2]), gatherRef([2, 3, 4], x, ([a, i, j]) => [a, mod(i + 1, 3), mod(j - 5, 4)]), 'roll 2 dims');
    assertExact(ops.flip(t, [2]), gatherRef([2, 3, 4], x, ([a, i, j]) => [a, i, 3 - j]), 'flip last');
    assertExact(ops.flip(t, [0, 1]), gatherRef([2, 3, 4], x, ([a, i, j]) => [1 - a, 2 - i, j]), 'flip two');
  });
});

test('gather, indexSelect, index, scatterAdd, oneHot, triu, tril', () => {
  const rng = new Prng(44);
  tidy(() => {
    const x = randNd(rng, [3, 5]);
    const t = toTensor(x);
    const gi = randIntNd(rng, [3, 4], 0, 5);
    assertExact(ops.gather(t, 1, toTensor(gi, 'int64')), gatherRef([3, 4], x, ([i, j]) => [i, gi.get(i, j)]), 'gather dim 1');
    const gi0 = randIntNd(rng, [2, 5], 0, 3);
    assertExact(ops.gather(t, 0, toTensor(gi0, 'int64')), gatherRef([2, 5], x, ([i, j]) => [gi0.get(i, j), j]), 'gather dim 0');

    const sel = [4, 0, 4, 2];
    assertExact(ops.indexSelect(t, 1, tensor(sel, [4], 'int64')), gatherRef([3, 4], x, ([i, j]) => [i, sel[j]]), 'indexSelect dim 1');
    assertExact(ops.indexSelect(t, 0, tensor([2, 0], [2], 'int64')), gatherRef([2, 5], x, ([i, j]) => [[2, 0][i], j]), 'indexSelect dim 0');

    const rows = [2, 0, 1];
    const cols = [4, 4, 0];
    assertExact(ops.index(t, [tensor(rows, [3], 'int64'), tensor(cols, [3], 'int64')]), new Nd(rows.map((r, k) => x.get(r, cols[k])), [3]), 'index pairs');
    assertExact(ops.index(t, [null, tensor([1, 3], [2], 'int64')]), gatherRef([3, 2], x, ([i, j]) => [i, [1, 3][j]]), 'index with null');
    const masked = Array.from(x.data).filter((v) => v > 0);
    assertExact(ops.index(t, [ops.gt(t, 0)]), new Nd(masked, [masked.length]), 'boolean mask index');

    const src = randNd(rng, [2, 5]);
    const si = new Nd([0, 2, 2, 1, 0, 1, 1, 0, 2, 2], [2, 5]);
    const sa = new Nd(x.data, x.shape);
    for (let k = 0; k < 10; k++) {
      const [i, j] = unravel(k, [2, 5]);
      sa.set([si.get(i, j), j], sa.get(si.get(i, j), j) + src.get(i, j));
    }
    const got = ops.scatterAdd(t, 0, toTensor(si, 'int64'), toTensor(src));
    assertClose(got, sa, {}, 'scatterAdd');

    const labels = [2, 0, 3];
    const oh = ops.oneHot(tensor(labels, [3], 'int64'), 4);
    assertExact(oh, new Nd(Array.from({ length: 12 }, (_, k) => Number(labels[Math.floor(k / 4)] === k % 4)), [3, 4]), 'oneHot');

    const m = randNd(rng, [4, 5]);
    for (const k of [0, 1, -1]) {
      assertExact(ops.triu(toTensor(m), k), m.map((v, f) => (unravel(f, [4, 5])[1] - unravel(f, [4, 5])[0] >= k ? v : 0)), `triu ${k}`);
      assertExact(ops.tril(toTensor(m), k), m.map((v, f) => (unravel(f, [4, 5])[1] - unravel(f, [4, 5])[0] <= k ? v : 0)), `tril ${k}`);
    }
  });
});
