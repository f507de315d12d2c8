// Slot lists shaped exactly like the models' (src/models/wrn.ts, tlm.ts), built
// without the tensor engine so the pattern tests run anywhere.
import { TRANSFORMER_SUBLAYERS, type SlotDescriptor } from '../../src/patterns/types.js';

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
