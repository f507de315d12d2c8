// Slot lists shaped exactly like the models' (src/models/wrn.ts, tlm.ts), built
// without the tensor engine so the pattern tests run anywhere, and tile / span
// patterns with test defaults.
import { TRANSFORMER_SUBLAYERS, type SlotDescriptor, type SpanPattern, type TilePattern } from '../../src/patterns/types.js';

/** An axis-aligned shared-channel lattice of 2x2 holes every 4 pixels, with `o` on top. */
export const tile = (o: Partial<TilePattern>): TilePattern => ({
  kind: 'tile',
  size: [2, 2],
  stride: [4, 4],
  repeat: 'all',
  rotate: 0,
  shearX: 0,
  shearY: 0,
  shareC: true,
  residual: false,
  ...o,
});

/** 2-token spans every 5 tokens on ffn-output, shared over channels, with `o` on top. */
export const span = (o: Partial<SpanPattern>): SpanPattern => ({
  kind: 'span',
  size: 2,
  stride: 5,
  repeat: 'all',
  shareC: true,
  noise: 'zero',
  sublayers: ['ffn-output'],
  ...o,
});

function withDepth(infos: Omit<SlotDescriptor, 'depth'>[]): SlotDescriptor[] {
  const n = infos.length;
  return infos.map((s, i) => ({ ...s, depth: n > 1 ? i / (n - 1) : 0 }));
}

/** wrn-D-K: per block bn1, bn2 (conv) and skip; then final.bn. */
export function wrnSlots(depth = 10, widen = 1): SlotDescriptor[] {
  const n = (depth - 4) / 6;
  const widths = [16, 16 * widen, 32 * widen, 64 * widen];
  const infos: Omit<SlotDescriptor, 'depth'>[] = [];
  let inC = widths[0];
  for (let s = 0; s < 3; s++) {
    for (let b = 0; b < n; b++) {
      const outC = widths[s + 1];
      const p = `stage${s + 1}.block${b + 1}`;
      infos.push({ name: `${p}.bn1`, kind: 'conv', channels: inC });
      infos.push({ name: `${p}.bn2`, kind: 'conv', channels: outC });
      infos.push({ name: `${p}.skip`, kind: 'skip', channels: outC });
      inC = outC;
    }
  }
  infos.push({ name: 'final.bn', kind: 'conv', channels: inC });
  return withDepth(infos);
}

/** tlm-L-D: embedding, then per layer query, key, value, attention-output, ffn-hidden, ffn-output. */
export function tlmSlots(layers = 2, dim = 64): SlotDescriptor[] {
  const infos: Omit<SlotDescriptor, 'depth'>[] = [{ name: 'embedding', kind: 'sequence', sublayer: 'embedding', channels: dim }];
  for (let i = 0; i < layers; i++) {
    for (const s of TRANSFORMER_SUBLAYERS.slice(1)) infos.push({ name: `layer${i}.${s}`, kind: 'sequence', sublayer: s, channels: s === 'ffn-hidden' ? 4 * dim : dim });
  }
  return withDepth(infos);
}

/** Conv slots at chosen depths (names s0, s1, ...). */
export function slotsAtDepths(depths: number[]): SlotDescriptor[] {
  return depths.map((depth, i) => ({ name: `s${i}`, kind: 'conv', depth, channels: 4 }));
}

/**
 * Variance of a gaussian span multiplier, 1 + sigma z clipped to [0, 2]
 * (gaussianSpanMultiplier), by Simpson's rule: E[min(sigma^2 z^2, 1)].
 */
export function clippedNoiseVariance(sigma: number): number {
  const a = 1 / sigma;
  const phi = (z: number): number => Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI);
  const steps = 2000;
  const h = a / steps;
  let inner = 0; // ∫_0^a sigma^2 z^2 phi(z) dz
  let mass = 0; // ∫_0^a phi(z) dz
  for (let i = 0; i <= steps; i++) {
    const z = i * h;
    const wgt = i === 0 || i === steps ? 1 : i % 2 ? 4 : 2;
    inner += wgt * sigma * sigma * z * z * phi(z);
    mass += wgt * phi(z);
  }
  return 2 * ((inner * h) / 3) + 2 * (0.5 - (mass * h) / 3);
}
