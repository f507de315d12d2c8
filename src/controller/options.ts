// The controller's hyper-parameters: defaults, one-line docs (the CLI turns
// each field into a flag) and validation. Why each default was chosen is in
// the comment block of controller.ts.

export interface ControllerOptions {
  /** Transformer layers of the policy network. */
  layers: number;
  /** Model width (embeddings, attention, residual stream); the FFN is 4x wider. */
  dim: number;
  /** Attention heads; must divide dim. */
  heads: number;
  /** Softmax temperature: logits are divided by it before the tanh clipping (> 1 explores more). */
  temperature: number;
  /** tanh logit clipping constant C: logits = C * tanh(raw / temperature); 0 turns clipping off. */
  tanhClip: number;
  /** Weight of the entropy bonus (per-step entropies summed over the sequence) subtracted from the loss. */
  entropyWeight: number;
  /** Decay of the exponential moving-average reward baseline, applied once per reward. */
  baselineDecay: number;
  /** Adam learning rate. */
  lr: number;
  /** PPO clip epsilon for samples drawn by an older policy version. */
  ppoClip: number;
  /** Largest global L2 norm of the gradient before the Adam step; 0 turns clipping off. */
  maxGradNorm: number;
}

export const CONTROLLER_DEFAULTS: Readonly<ControllerOptions> = Object.freeze({
  layers: 2,
  dim: 64,
  heads: 4,
  temperature: 1,
  tanhClip: 2.5,
  entropyWeight: 1e-3,
  baselineDecay: 0.95,
  lr: 1e-3,
  ppoClip: 0.2,
  maxGradNorm: 1,
});

/** One line per option, for --help texts and docs. */
export const CONTROLLER_OPTION_DOCS: Readonly<Record<keyof ControllerOptions, string>> = Object.freeze({
  layers: 'Transformer layers of the controller',
  dim: 'controller width (embeddings and attention; FFN 4x)',
  heads: 'controller attention heads (must divide dim)',
  temperature: 'sampling temperature: logits / T before the tanh clipping (higher explores more)',
  tanhClip: 'tanh logit clipping C: logits = C*tanh(raw/T), bounds how peaked the policy gets (0: off)',
  entropyWeight: 'entropy bonus weight (entropy summed over the token sequence)',
  baselineDecay: 'EMA decay of the reward baseline, per reward',
  lr: 'controller Adam learning rate',
  ppoClip: 'PPO clip epsilon for samples drawn by an older policy version',
  maxGradNorm: 'controller gradient clipping (global L2 norm; 0: off)',
});

const isInt = (v: number, min: number): boolean => Number.isSafeInteger(v) && v >= min;

/** The defaults overlaid with `options`; throws a RangeError naming every invalid field. */
export function resolveControllerOptions(options: Partial<ControllerOptions> = {}): ControllerOptions {
  for (const k of Object.keys(options)) {
    if (!Object.hasOwn(CONTROLLER_DEFAULTS, k)) {
      throw new RangeError(`controller: unknown option '${k}'; valid: ${Object.keys(CONTROLLER_DEFAULTS).join(', ')}`);
    }
  }
  const o: ControllerOptions = { ...CONTROLLER_DEFAULTS };
  for (const [k, v] of Object.entries(options)) if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  const problems: string[] = [];
  const check = (ok: boolean, field: keyof ControllerOptions, rule: string): void => {
    if (!ok) problems.push(`${field} ${rule}, got ${String(o[field])}`);
  };
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  check(isInt(o.layers, 1), 'layers', 'must be an integer >= 1');
  check(isInt(o.dim, 1), 'dim', 'must be an integer >= 1');
  check(isInt(o.heads, 1) && isInt(o.dim, 1) && o.dim % o.heads === 0, 'heads', `must be an integer >= 1 dividing dim (${o.dim})`);
  check(finite(o.temperature) && o.temperature > 0, 'temperature', 'must be > 0');
  check(finite(o.tanhClip) && o.tanhClip >= 0, 'tanhClip', 'must be >= 0');
  check(finite(o.entropyWeight) && o.entropyWeight >= 0, 'entropyWeight', 'must be >= 0');
  check(finite(o.baselineDecay) && o.baselineDecay >= 0 && o.baselineDecay < 1, 'baselineDecay', 'must be in [0, 1)');
  check(finite(o.lr) && o.lr > 0, 'lr', 'must be > 0');
  check(finite(o.ppoClip) && o.ppoClip > 0 && o.ppoClip < 1, 'ppoClip', 'must be in (0, 1)');
  check(finite(o.maxGradNorm) && o.maxGradNorm >= 0, 'maxGradNorm', 'must be >= 0');
  if (problems.length) throw new RangeError(`controller options: ${problems.join('; ')}`);
  return o;
}
