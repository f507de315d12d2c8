// matmul/bmm/linear, conv2d and pooling against pure-TS references.
import { test } from 'node:test';
import { ops, setNumThreads, tidy } from '../../src/engine/index.js';
import { Nd, Prng, assertClose, randNd, toTensor } from './helpers.js';

setNumThreads(1);

function matmulRef(a: Nd, b: Nd): Nd {
  const [n, k] = a.shape;
  const m = b.shape[1];
  const out = Nd.zeros([n, m]);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a.get(i, t) * b.get(t, j);
      out.set([i, j], s);
    }
  return out;
}
function bmmRef(a: Nd, b: Nd): Nd {
  const [B, n, k] = a.shape;
  const m = b.shape[2];
  const out = Nd.zeros([B, n, m]);
  for (let z = 0; z < B; z++)
    for (let i = 0; i < n; i++)
      for (let j = 0; j < m; j++) {
        let s = 0;
        for (let t = 0; t < k; t++) s += a.get(z, i, t) * b.get(z, t, j);
        out.set([z, i, j], s);
      }
  return out;
}

test('matmul, bmm and linear', () => {
  const rng = new Prng(10);
  tidy(() => {
    for (const [n, k, m] of [
      [1, 1, 1],
      [3, 5, 2],
      [7, 4, 9],
    ]) {
      const a = randNd(rng, [n, k]);
      const b = randNd(rng, [k, m]);
      assertClose(ops.matmul(toTensor(a), toTensor(b)), matmulRef(a, b), {}, `matmul ${n}x${k}x${m}`);
    }
    // matrix-vector and batched broadcast
    const a = randNd(rng, [4, 3]);
    const v = randNd(rng, [3]);
    const mv = matmulRef(a, new Nd(v.data, [3, 1]));
    assertClose(ops.matmul(toTensor(a), toTensor(v)), new Nd(mv.data, [4]), {}, 'matmul matrix-vector');
    const A = randNd(rng, [2, 4, 3]);
    const B = randNd(rng, [2, 3, 5]);
    assertClose(ops.bmm(toTensor(A), toTensor(B)), bmmRef(A, B), {}, 'bmm');
    assertClose(ops.matmul(toTensor(A), toTensor(B)), bmmRef(A, B), {}, 'batched matmul');

    const x = randNd(rng, [5, 3]);
    const w = randNd(rng, [4, 3]);
    const bias = randNd(rng, [4]);
    const xw = matmulRef(x, new Nd(Array.from({ length: 12 }, (_, i) => w.get(i % 4, Math.floor(i / 4))), [3, 4]));
    assertClose(ops.linear(toTensor(x), toTensor(w)), xw, {}, 'linear without bias');
    assertClose(ops.linear(toTensor(x), toTensor(w), toTensor(bias)), xw.map((val, i) => val + bias.data[i % 4]), {}, 'linear');
  });
});

interface ConvCfg {
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
}
function conv2dRef(x: Nd, w: Nd, b: Nd | null, c: ConvCfg = {}): Nd {
  const [N, C, H, W] = x.shape;
  const [O, Cg, KH, KW] = w.shape;
  const [sh, sw] = c.stride ?? [1, 1];
  const [ph, pw] = c.padding ?? [0, 0];
  const [dh, dw] = c.dilation ?? [1, 1];
  const groups = c.groups ?? 1;
  if (Cg * groups !== C) throw new Error('conv2dRef: channel mismatch');
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  const Og = O / groups;
  const out = Nd.zeros([N, O, OH, OW]);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / Og);
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let s = b ? b.data[o] : 0;
          for (let ci = 0; ci < Cg; ci++)
            for (let kh = 0; kh < KH; kh++)
              for (let kw = 0; kw < KW; kw++) {
                const ih = oh * sh - ph + kh * dh;
                const iw = ow * sw - pw + kw * dw;
                if (ih >= 0 && ih < H && iw >= 0 && iw < W) s += x.get(n, g * Cg + ci, ih, iw) * w.get(o, ci, kh, kw);
              }
          out.set([n, o, oh, ow], s);
        }
    }
  return out;
}

test('conv2d: stride, padding, dilation, odd sizes, H != W, groups, depthwise', () => {
  const rng = new Prng(11);
  const cases: { name: string; x: number[]; w: number[]; bias: boolean; cfg: ConvCfg }[] = [
    { name: 'plain 3x3', x: [2, 3, 5, 5], w: [4, 3, 3, 3], bias: true, cfg: {} },
    { name: 'stride 2, padding 1, H != W', x: [2, 3, 7, 6], w: [5, 3, 3, 3], bias: true, cfg: { stride: [2, 2], padding: [1, 1] } },
    { name: 'stride 2 on odd sizes, no padding', x: [1, 2, 9, 7], w: [3, 2, 3, 3], bias: false, cfg: { stride: [2, 2] } },
    { name: 'asymmetric stride and padding', x: [1, 2, 6, 8], w: [3, 2, 3, 2], bias: true, cfg: { stride: [1, 2], padding: [2, 0] } },
    { name: 'dilation 2', x: [1, 2, 8, 9], w: [2, 2, 3, 3], bias: true, cfg: { dilation: [2, 2], padding: [2, 2] } },
    { name: '1x1', x: [2, 4, 3, 5], w: [6, 4, 1, 1], bias: true, cfg: {} },
    { name: 'groups 2', x: [2, 4, 5, 6], w: [6, 2, 3, 3], bias: true, cfg: { groups: 2, padding: [1, 1] } },
    { name: 'groups 3, stride 2', x: [1, 6, 7, 5], w: [3, 2, 3, 3], bias: false, cfg: { groups: 3, stride: [2, 2], padding: [1, 1] } },
    { name: 'depthwise', x: [2, 4, 6, 5], w: [4, 1, 3, 3], bias: true, cfg: { groups: 4, padding: [1, 1] } },
    { name: 'depthwise multiplier 2, stride 2', x: [1, 3, 7, 7], w: [6, 1, 3, 3], bias: true, cfg: { groups: 3, stride: [2, 2], padding: [1, 1] } },
  ];
  for (const c of cases) {
    tidy(() => {
      const x = randNd(rng, c.x);
      const w = randNd(rng, c.w);
      const b = c.bias ? randNd(rng, [c.w[0]]) : null;
      const got = ops.conv2d(toTensor(x), toTensor(w), b ? toTensor(b) : undefined, c.cfg);
      assertClose(got, conv2dRef(x, w, b, c.cfg), { atol: 1e-5, rtol: 1e-4 }, `conv2d ${c.name}`);
    });
  }
  // scalar options are the same as pairs
  tidy(() => {
    const x = randNd(rng, [1, 2, 6, 5]);
    const w = randNd(rng, [2, 2, 3, 3]);
    const got = ops.conv2d(toTensor(x), toTensor(w), undefined, { stride: 2, padding: 1, dilation: 1 });
    assertClose(got, conv2dRef(x, w, null, { stride: [2, 2], padding: [1, 1] }), { atol: 1e-5, rtol: 1e-4 }, 'conv2d scalar options');
  });
});

function poolOut(size: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const num = size + 2 * p - d * (k - 1) - 1;
  let out = (ceil ? Math.ceil(num / s) : Math.floor(num / s)) + 1;
  if (ceil && (out - 1) * s >= size + p) out--;
  return out;
}
interface PoolCfg {
  k: [number, number];
  s: [number, number];
  p: [number, number];
  d?: [number, number];
  ceil?: boolean;
}
function maxPoolRef(x: Nd, c: PoolCfg): Nd {
  const [N, C, H, W] = x.shape;
  const [d0, d1] = c.d ?? [1, 1];
  const OH = poolOut(H, c.k[0], c.s[0], c.p[0], d0, !!c.ceil);
  const OW = poolOut(W, c.k[1], c.s[1], c.p[1], d1, !!c.ceil);
  const out = Nd.zeros([N, C, OH, OW]);
  for (let n = 0; n < N; n++)
    for (let ch = 0; ch < C; ch++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let m = -Infinity;
          for (let i = 0; i < c.k[0]; i++)
            for (let j = 0; j < c.k[1]; j++) {
              const ih = oh * c.s[0] - c.p[0] + i * d0;
              const iw = ow * c.s[1] - c.p[1] + j * d1;
              if (ih >= 0 && ih < H && iw >= 0 && iw < W) m = Math.max(m, x.get(n, ch, ih, iw));
            }
          out.set([n, ch, oh, ow], m);
        }
  return out;
}
/** avg_pool2d with count_include_pad = true (ATen's divisor rule). */
function avgPoolRef(x: Nd, c: PoolCfg): Nd {
  const [N, C, H, W] = x.shape;
  const OH = poolOut(H, c.k[0], c.s[0], c.p[0], 1, !!c.ceil);
  const OW = poolOut(W, c.k[1], c.s[1], c.p[1], 1, !!c.ceil);
  const out = Nd.zeros([N, C, OH, OW]);
  for (let n = 0; n < N; n++)
    for (let ch = 0; ch < C; ch++)
      for (let oh = 0; oh < OH; oh++)
        for (let ow = 0; ow < OW; ow++) {
          let hs = oh * c.s[0] - c.p[0];
          let ws = ow * c.s[1] - c.p[1];
          let he = Math.min(hs + c.k[0], H + c.p[0]);
          let we = Math.min(ws + c.k[1], W + c.p[1]);
          const poolSize = (he - hs) * (we - ws);
          hs = Math.max(hs, 0);
          ws = Math.max(ws, 0);
          he = Math.min(he, H);
          we = Math.min(we, W);
          let s = 0;
          for (let ih = hs; ih < he; ih++) for (let iw = ws; iw < we; iw++) s += x.get(n, ch, ih, iw);
          out.set([n, ch, oh, ow], s / poolSize);
        }
  return out;
}
function adaptiveAvgRef(x: Nd, oh: number, ow: number): Nd {
  const [N, C, H, W] = x.shape;
  const out = Nd.zeros([N, C, oh, ow]);
  for (let n = 0; n < N; n++)
    for (let ch = 0; ch < C; ch++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          const h0 = Math.floor((i * H) / oh);
          const h1 = Math.ceil(((i + 1) * H) / oh);
          const w0 = Math.floor((j * W) / ow);
          const w1 = Math.ceil(((j + 1) * W) / ow);
          let s = 0;
          for (let a = h0; a < h1; a++) for (let b = w0; b < w1; b++) s += x.get(n, ch, a, b);
          out.set([n, ch, i, j], s / ((h1 - h0) * (w1 - w0)));
        }
  return out;
}

test('maxPool2d, avgPool2d and adaptiveAvgPool2d', () => {
  const rng = new Prng(12);
  const maxCases: PoolCfg[] = [
    { k: [2, 2], s: [2, 2], p: [0, 0] },
    { k: [3, 3], s: [2, 2], p: [1, 1] },
    { k: [3, 2], s: [1, 2], p: [1, 0] },
    { k: [2, 2], s: [1, 1], p: [0, 0], d: [2, 2] },
    { k: [3, 3], s: [2, 2], p: [0, 0], ceil: true },
  ];
  for (const c of maxCases) {
    tidy(() => {
      const x = randNd(rng, [2, 3, 7, 6]);
      const got = ops.maxPool2d(toTensor(x), c.k, { stride: c.s, padding: c.p, dilation: c.d ?? 1, ceilMode: c.ceil });
      assertClose(got, maxPoolRef(x, c), { atol: 0, rtol: 0 }, `maxPool2d ${JSON.stringify(c)}`);
    });
  }
  tidy(() => {
    const x = randNd(rng, [1, 2, 6, 6]);
    assertClose(ops.maxPool2d(toTensor(x), 2), maxPoolRef(x, { k: [2, 2], s: [2, 2], p: [0, 0] }), {}, 'maxPool2d default stride');
  });
  const avgCases: PoolCfg[] = [
    { k: [2, 2], s: [2, 2], p: [0, 0] },
    { k: [3, 3], s: [2, 2], p: [1, 1] },
    { k: [3, 2], s: [1, 2], p: [1, 1] },
    { k: [3, 3], s: [2, 2], p: [1, 1], ceil: true },
  ];
  for (const c of avgCases) {
    tidy(() => {
      const x = randNd(rng, [2, 3, 7, 6]);
      const got = ops.avgPool2d(toTensor(x), c.k, { stride: c.s, padding: c.p, ceilMode: c.ceil });
      assertClose(got, avgPoolRef(x, c), {}, `avgPool2d ${JSON.stringify(c)}`);
    });
  }
  for (const [oh, ow] of [
    [1, 1],
    [3, 2],
    [2, 4],
    [5, 7],
  ]) {
    tidy(() => {
      const x = randNd(rng, [2, 3, 5, 7]);
      assertClose(ops.adaptiveAvgPool2d(toTensor(x), [oh, ow]), adaptiveAvgRef(x, oh, ow), {}, `adaptiveAvgPool2d ${oh}x${ow}`);
    });
  }
});
