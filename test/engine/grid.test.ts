// affineGrid + gridSample against a TS inverse-mapping reference
// (align_corners = false: pixel centres sit at (2i + 1) / size - 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ops, setNumThreads, tidy } from '../../src/engine/index.js';
import { Nd, Prng, assertClose, fromTensor, randNd, rint, toTensor } from './helpers.js';

setNumThreads(1);

type Theta = [[number, number, number], [number, number, number]];
const rotation = (a: number, tx = 0, ty = 0): Theta => [
  [Math.cos(a), -Math.sin(a), tx],
  [Math.sin(a), Math.cos(a), ty],
];
const shear = (sx: number, sy: number, tx = 0, ty = 0): Theta => [
  [1, sx, tx],
  [sy, 1, ty],
];
const scaled = (s: number, a: number): Theta => {
  const r = rotation(a);
  return [
    [s * r[0][0], s * r[0][1], 0.1],
    [s * r[1][0], s * r[1][1], -0.05],
  ];
};

/** affine_grid (align_corners = false) for an output of H x W: (N, H, W, 2) of (x, y). */
function affineGridRef(thetas: Theta[], H: number, W: number): Nd {
  const out = Nd.zeros([thetas.length, H, W, 2]);
  thetas.forEach((th, n) => {
    for (let i = 0; i < H; i++)
      for (let j = 0; j < W; j++) {
        const x = (2 * j + 1) / W - 1;
        const y = (2 * i + 1) / H - 1;
        out.set([n, i, j, 0], th[0][0] * x + th[0][1] * y + th[0][2]);
        out.set([n, i, j, 1], th[1][0] * x + th[1][1] * y + th[1][2]);
      }
  });
  return out;
}

/** Where a normalised coordinate lands in input pixels (align_corners = false). */
const unnormalise = (g: number, size: number): number => ((g + 1) * size - 1) / 2;

interface Sampled {
  out: Nd;
  /** Output positions whose nearest pixel is ambiguous (a .5 tie): skipped. */
  ties: Set<number>;
}
function gridSampleRef(x: Nd, grid: Nd, mode: 'nearest' | 'bilinear'): Sampled {
  const [N, C, H, W] = x.shape;
  const [, OH, OW] = grid.shape;
  const out = Nd.zeros([N, C, OH, OW]);
  const ties = new Set<number>();
  const at = (n: number, c: number, iy: number, ix: number): number =>
    iy >= 0 && iy < H && ix >= 0 && ix < W ? x.get(n, c, iy, ix) : 0; // zeros padding
  for (let n = 0; n < N; n++)
    for (let i = 0; i < OH; i++)
      for (let j = 0; j < OW; j++) {
        const ix = unnormalise(grid.get(n, i, j, 0), W);
        const iy = unnormalise(grid.get(n, i, j, 1), H);
        for (let c = 0; c < C; c++) {
          const o = ((n * C + c) * OH + i) * OW + j;
          if (mode === 'nearest') {
            if (Math.abs(Math.abs(ix % 1) - 0.5) < 1e-9 || Math.abs(Math.abs(iy % 1) - 0.5) < 1e-9) ties.add(o);
            out.data[o] = at(n, c, rint(iy), rint(ix));
          } else {
            const x0 = Math.floor(ix);
            const y0 = Math.floor(iy);
            const fx = ix - x0;
            const fy = iy - y0;
            out.data[o] =
              at(n, c, y0, x0) * (1 - fx) * (1 - fy) +
              at(n, c, y0, x0 + 1) * fx * (1 - fy) +
              at(n, c, y0 + 1, x0) * (1 - fx) * fy +
              at(n, c, y0 + 1, x0 + 1) * fx * fy;
          }
        }
      }
  return { out, ties };
}

const cases: { name: string; thetas: Theta[]; inHW: [number, number]; outHW: [number, number] }[] = [
  { name: 'identity', thetas: [rotation(0)], inHW: [5, 7], outHW: [5, 7] },
  { name: 'rotation 30 deg + rotation -70 deg', thetas: [rotation(Math.PI / 6), rotation((-7 * Math.PI) / 18, 0.2, -0.1)], inHW: [6, 9], outHW: [6, 9] },
  { name: 'shear x and y', thetas: [shear(0.4, 0), shear(-0.3, 0.25, 0.1, 0)], inHW: [7, 5], outHW: [7, 5] },
  { name: 'zoom out (samples outside the input)', thetas: [scaled(1.6, 0.3)], inHW: [6, 6], outHW: [4, 8] },
];

test('affineGrid matches the align_corners=false base grid times theta', () => {
  for (const c of cases) {
    tidy(() => {
      const [OH, OW] = c.outHW;
      const theta = toTensor(new Nd(c.thetas.flat(2), [c.thetas.length, 2, 3]), 'float64');
      const grid = ops.affineGrid(theta, [c.thetas.length, 3, OH, OW]);
      assertClose(grid, affineGridRef(c.thetas, OH, OW), { atol: 1e-12, rtol: 1e-12 }, `affineGrid ${c.name}`);
      const grid32 = ops.affineGrid(toTensor(new Nd(c.thetas.flat(2), [c.thetas.length, 2, 3])), [c.thetas.length, 3, OH, OW]);
      assertClose(grid32, affineGridRef(c.thetas, OH, OW), { atol: 1e-6, rtol: 1e-6 }, `affineGrid float32 ${c.name}`);
    });
  }
});

test("gridSample 'nearest' of affine grids matches inverse mapping (rotation, shear, zoom)", () => {
  const rng = new Prng(50);
  for (const c of cases) {
    tidy(() => {
      const N = c.thetas.length;
      const [H, W] = c.inHW;
      const [OH, OW] = c.outHW;
      const x = randNd(rng, [N, 2, H, W], -1, 1, 'float64');
      const theta = toTensor(new Nd(c.thetas.flat(2), [N, 2, 3]), 'float64');
      const grid = ops.affineGrid(theta, [N, 2, OH, OW]);
      const got = fromTensor(ops.gridSample(toTensor(x, 'float64'), grid, 'nearest', 'zeros', false));
      const ref = gridSampleRef(x, affineGridRef(c.thetas, OH, OW), 'nearest');
      assert.deepEqual(got.shape, ref.out.shape);
      let compared = 0;
      let outside = 0;
      for (let i = 0; i < got.data.length; i++) {
        if (ref.ties.has(i)) continue;
        compared++;
        if (ref.out.data[i] === 0) outside++;
        assert.equal(got.data[i], ref.out.data[i], `${c.name}: output element ${i}`);
      }
      // identity sits exactly on pixel centres; the rest must compare nearly everything
      assert.ok(compared >= got.data.length * 0.8, `${c.name}: only ${compared} of ${got.data.length} compared`);
      if (c.name.startsWith('zoom')) assert.ok(outside > 0, 'zoom-out samples outside the input read zeros');
      if (c.name === 'identity') assertClose(got, x, { atol: 0, rtol: 0 }, 'identity is a copy');
    });
  }
});

test("gridSample 'bilinear' matches the reference too", () => {
  const rng = new Prng(51);
  for (const c of cases.slice(1)) {
    tidy(() => {
      const N = c.thetas.length;
      const [H, W] = c.inHW;
      const [OH, OW] = c.outHW;
      const x = randNd(rng, [N, 3, H, W], -1, 1, 'float64');
      const grid = ops.affineGrid(toTensor(new Nd(c.thetas.flat(2), [N, 2, 3]), 'float64'), [N, 3, OH, OW]);
      const got = ops.gridSample(toTensor(x, 'float64'), grid);
      assertClose(got, gridSampleRef(x, affineGridRef(c.thetas, OH, OW), 'bilinear').out, { atol: 1e-10, rtol: 1e-10 }, `bilinear ${c.name}`);
    });
  }
});
