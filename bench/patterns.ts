// The patterns the benchmarks put at every slot (bench/masks, bench/gpu), declared once.
import { TRANSFORMER_SUBLAYERS, type SpanPattern, type TilePattern } from '../src/patterns/types.js';

/** A rotated, sheared lattice of 2x2 holes every 4 pixels, per channel, skip paths too. */
export const BENCH_TILE: TilePattern = {
  kind: 'tile',
  size: [2, 2],
  stride: [4, 4],
  repeat: 'all',
  rotate: 30,
  shearX: 0.2,
  shearY: -0.1,
  shareC: false,
  residual: true,
};

/** 4 tokens of every 16, per channel, at every sublayer. */
export const BENCH_SPAN: SpanPattern = { kind: 'span', size: 4, stride: 16, repeat: 'all', shareC: false, noise: 'zero', sublayers: [...TRANSFORMER_SUBLAYERS] };
