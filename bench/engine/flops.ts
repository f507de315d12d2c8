// Analytic FLOP counts of the benchmark models (multiply-add = 2 FLOPs). A
// training step is counted as 3x the forward pass (forward, input gradients,
// weight gradients), the usual convention (Kaplan et al. 2020).

/** Forward FLOPs of wrn-D-K on (batch, inC, size, size) inputs. */
export function wrnForwardFlops(depth: number, widen: number, batch: number, inC: number, size: number, classes: number): number {
  const n = (depth - 4) / 6;
  const w = [16, 16 * widen, 32 * widen, 64 * widen];
  let flops = 0;
  const conv = (cin: number, cout: number, k: number, hw: number): number => 2 * cin * cout * k * k * hw * hw * batch;
  let hw = size;
  flops += conv(inC, w[0], 3, hw);
  let c = w[0];
  for (let s = 0; s < 3; s++) {
    for (let b = 0; b < n; b++) {
      const stride = b === 0 && s > 0 ? 2 : 1;
      const out = Math.ceil(hw / stride);
      flops += conv(c, w[s + 1], 3, out) + conv(w[s + 1], w[s + 1], 3, out);
      if (c !== w[s + 1] || stride !== 1) flops += conv(c, w[s + 1], 1, out);
      hw = out;
      c = w[s + 1];
    }
  }
  return flops + 2 * c * classes * batch;
}

/** Forward FLOPs of tlm-L-D over (batch, seq) tokens with a vocab-sized tied output. */
export function tlmForwardFlops(layers: number, d: number, batch: number, seq: number, vocab: number): number {
  const tokens = batch * seq;
  const perLayer = 2 * tokens * d * 3 * d + 2 * 2 * batch * seq * seq * d + 2 * tokens * d * d + 2 * 2 * tokens * d * 4 * d;
  return layers * perLayer + 2 * tokens * d * vocab;
}
