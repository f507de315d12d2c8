// The AutoDropout controller: a policy over dropout-pattern token sequences,
// trained with REINFORCE (fresh samples) and a PPO-clipped importance-weighted
// surrogate (samples drawn by an older policy version).
//
// What comes from where ([P] paper, [I] this project's choice; see
// docs/architecture.md §5 and §11):
//  [P] The controller is a Transformer that emits the pattern tokens one at a
//      time like a language model, one group of tokens per dropout slot; it is
//      trained with REINFORCE on the child's validation score; with many
//      parallel workers it learns from samples of older controller versions,
//      corrected by importance sampling (PPO-like clipping is the paper's
//      wording as we recall it, not checked against the PDF).
//  [I] Everything else: the architecture (pre-LN, 2 layers, width 64, 4 heads,
//      GELU FFN 4x); the input embedding = previous token (a table per token
//      type, learned start token) + token type + group index; one head per
//      distinct token type, zero-initialised so the first policy is exactly
//      uniform (the search starts as random search); logits C·tanh(raw/T)
//      (ENAS's order: temperature, then tanh clipping); the entropy bonus on the
//      summed per-step entropies; the EMA baseline (initialised to the first
//      batch's mean reward, advantages taken against the baseline before the
//      batch, then updated once per reward in the given order); Adam; the
//      REINFORCE / PPO split by policy version; gradient-norm clipping; and
//      every default value.
//
// Defaults (CONTROLLER_DEFAULTS) and why:
//  - temperature 1, tanhClip 2.5: ENAS used T = 5, C = 2.5 with an LSTM.
//    C = 2.5 bounds a token's logit range to 5 nats, so no token's probability
//    falls below about 1/(1 + 148·(V-1)) (0.07 % .. 0.7 % for V = 10 .. 2):
//    the policy never stops exploring, which a search on noisy rewards needs,
//    while a learned token still reaches 94-99 % probability. T = 5 divides the
//    raw logits' gradient by 5: in the synthetic test
//    (test/controller/learning.test.ts: 32 tokens, batches of 64, 3200
//    samples) the policy's mean reward reached 0.41 with T = 5 against 0.79
//    with T = 1 (and T = 1.5 trailed T = 1 with batches of 16); the clipping
//    already keeps the policy from collapsing, so T = 1.
//  - lr 1e-3 (ENAS 3.5e-4): searches here afford hundreds to a few thousand
//    children; in the same test 3.5e-4 reached 0.52. With batches of 16, 2e-3
//    learned more slowly than 1e-3 and 5e-3 collapsed onto wrong tokens (the
//    REINFORCE gradient of a 32-token sequence is noisy).
//  - entropyWeight 1e-3 (ENAS 1e-4): the bonus is on the entropy summed over
//    the sequence, the loss averages over the batch; its pull stays small next
//    to advantages of a few hundredths (synthetic test at 3200 samples: policy
//    mean reward 0.79 with 0 and with 1e-3, 0.69 with 1e-2), and it slows
//    collapse when the rewards are noise-dominated.
//  - baselineDecay 0.95 per reward (ENAS 0.99 per update): with batches of
//    ~10-60 rewards the baseline mostly forgets a batch within an update,
//    tracking an improving policy.
//  - ppoClip 0.2 (PPO's default), maxGradNorm 1 (guards against the unbounded
//    r·A term of a stale sample with a negative advantage).
//
// Determinism: parameters are initialised from Generator(seed); sampling draws
// one uniform per token from an Rng (src/util/rng.ts) derived from the seed,
// inverse-CDF over the probabilities, so a search is replayable: the same seed
// and the same sequence of sample/update calls give the same samples. The
// controller always computes on the CPU (it is tiny, and sampling reads each
// step's probabilities back anyway), whatever the default device is.
import {
  Generator,
  adam,
  backward,
  clipGradNorm,
  getDefaultDevice,
  noGrad,
  ops,
  setDefaultDevice,
  tensor,
  tidy,
  type Optimizer,
  type Tensor,
} from '../engine/index.js';
import { Rng } from '../util/rng.js';
import { resolveControllerOptions, type ControllerOptions } from './options.js';
import { PolicyNet, resolvePositions, type ControllerPosition, type KvCache, type ResolvedPosition } from './policy.js';

export const CONTROLLER_STATE_FORMAT = 'autodropout/controller@1';

/** One sampled token sequence. */
export interface ControllerSample {
  tokens: number[];
  /** log π(tokens) under the sampling policy (sum of tokenLogProbs), with temperature and clipping applied. */
  logProb: number;
  tokenLogProbs: number[];
  /** Sum over positions of the entropy of each step's distribution (given the sampled prefix). */
  entropy: number;
  /** The controller's version (number of updates) when it was drawn. */
  policyVersion: number;
}

/** A scored sample, as update() takes it. */
export interface UpdateSample {
  tokens: readonly number[];
  /** log-prob under the policy that drew it (ControllerSample.logProb). */
  logProbOld: number;
  reward: number;
  /** ControllerSample.policyVersion; older than the current version = stale (PPO branch). */
  policyVersion: number;
}

export interface UpdateStats {
  /** Version after the update. */
  version: number;
  samples: number;
  /** Samples drawn by an older policy version. */
  stale: number;
  meanReward: number;
  /** The baseline the advantages were taken against. */
  baselineBefore: number;
  /** The baseline after folding in this batch's rewards. */
  baseline: number;
  meanAdvantage: number;
  /** Mean over the batch of the summed per-step entropies, before the step. */
  entropy: number;
  /** Mean per-sample policy loss (REINFORCE or PPO surrogate), before the entropy bonus. */
  policyLoss: number;
  /** policyLoss − entropyWeight · entropy: what was minimised. */
  loss: number;
  /** Fraction of the batch whose (stale) ratio lies outside [1 − ε, 1 + ε]. */
  clipFraction: number;
  /** exp(logπ_now − logProbOld) over the batch (fresh samples ≈ 1). */
  ratioMean: number;
  ratioMin: number;
  ratioMax: number;
  /** Largest |logπ_now − logProbOld| over fresh samples: should be ~1e-5; more means a wrongly tagged version. */
  freshLogProbError: number;
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
}

export interface ControllerMeta {
  format: typeof CONTROLLER_STATE_FORMAT;
  positions: ResolvedPosition[];
  options: ControllerOptions;
  seed: number;
  version: number;
  /** null until the first update. */
  baseline: number | null;
  /** State of the sampling Rng. */
  rngState: number[];
  /** Rewards seen by update() so far. */
  rewardsSeen: number;
}

/** Everything needed to continue a controller exactly (JSON-serialisable meta, tensors, Adam state). */
export interface ControllerState {
  /** Copies of the parameters by name; the caller owns (and disposes) them. */
  tensors: Map<string, Tensor>;
  /** Adam's moments and step counts (libtorch archive). */
  optimizer: Buffer;
  meta: ControllerMeta;
}

/** Runs fn with CPU as the default device (the controller's tensors all live there). */
function onCpu<R>(fn: () => R): R {
  const device = getDefaultDevice();
  if (device === 'cpu') return fn();
  setDefaultDevice('cpu');
  try {
    return fn();
  } finally {
    setDefaultDevice(device);
  }
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

export class Controller {
  readonly positions: readonly ResolvedPosition[];
  readonly options: Readonly<ControllerOptions>;
  readonly net: PolicyNet;
  /** The default sampling stream (sample() without an rng argument draws from it). */
  readonly rng: Rng;
  private readonly opt: Optimizer;
  private versionCount = 0;
  private baselineValue: number | null = null;
  private rewardsSeen = 0;

  /**
   * positions: the whole token sequence (e.g. 8 token types × G slot groups,
   * see positionsFor); options: overrides of CONTROLLER_DEFAULTS; seed: a
   * non-negative integer that fixes the initial weights and the sampling stream.
   */
  constructor(positions: readonly ControllerPosition[], options: Partial<ControllerOptions> = {}, readonly seed = 0) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`controller: seed must be a non-negative integer, got ${seed}`);
    this.positions = Object.freeze(resolvePositions(positions).map((p) => Object.freeze(p)));
    this.options = Object.freeze(resolveControllerOptions(options));
    const o = this.options;
    this.net = onCpu(() => new PolicyNet(this.positions, o.dim, o.heads, o.layers, o.temperature, o.tanhClip, new Generator(seed)));
    this.opt = adam(this.net.parameters(), { lr: o.lr });
    this.rng = Controller.samplingRng(seed);
  }

  /** Tokens per sequence. */
  get length(): number {
    return this.net.length;
  }
  /** Number of updates so far; samples carry it as policyVersion. */
  get version(): number {
    return this.versionCount;
  }
  /** The EMA reward baseline, or null before the first update. */
  get baseline(): number | null {
    return this.baselineValue;
  }
  parameterCount(): number {
    return this.net.parameterCount();
  }

  /** Draws one token sequence (no gradients). Consumes exactly `length` uniforms of rng. */
  sample(rng: Rng = this.rng): ControllerSample {
    return this.sampleBatch(1, rng)[0];
  }

  /**
   * Draws n sequences at once. It consumes rng exactly as n calls of sample()
   * would (sample-major, one uniform per token), so the results match those
   * calls up to float rounding in the batched arithmetic.
   */
  sampleBatch(n: number, rng: Rng = this.rng): ControllerSample[] {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`controller: sampleBatch needs n >= 1, got ${n}`);
    const t = this.length;
    const u = new Float64Array(n * t);
    for (let i = 0; i < u.length; i++) u[i] = rng.nextFloat();
    const tokenLogProbs = Array.from({ length: n }, () => new Array<number>(t));
    const entropy = new Float64Array(n);
    const tokens = this.decode(n, (b, i, lp) => {
      // Inverse CDF in double precision over the float32 log-probs.
      let total = 0;
      for (const l of lp) total += Math.exp(l);
      const target = u[b * t + i] * total;
      let cum = 0;
      let pick = -1;
      let h = 0;
      for (let j = 0; j < lp.length; j++) {
        const p = Math.exp(lp[j]);
        cum += p;
        if (p > 0) h -= p * lp[j];
        if (pick < 0 && target < cum) pick = j;
      }
      if (pick < 0) for (let j = lp.length - 1; j >= 0 && pick < 0; j--) if (Math.exp(lp[j]) > 0) pick = j;
      tokenLogProbs[b][i] = lp[pick];
      entropy[b] += h;
      return pick;
    });
    return tokens.map((tk, b) => ({
      tokens: tk,
      logProb: tokenLogProbs[b].reduce((a, c) => a + c, 0),
      tokenLogProbs: tokenLogProbs[b],
      entropy: entropy[b],
      policyVersion: this.versionCount,
    }));
  }

  /** The most likely token at every step (argmax decoding); consumes no randomness. */
  greedy(): number[] {
    return this.decode(1, (_b, _i, lp) => {
      let best = 0;
      for (let j = 1; j < lp.length; j++) if (lp[j] > lp[best]) best = j;
      return best;
    })[0];
  }

  /** Autoregressive decoding of n sequences with the KV cache; pick(b, t, logProbs of step t) chooses each token. */
  private decode(n: number, pick: (b: number, t: number, lp: Float32Array) => number): number[][] {
    const net = this.net;
    const out = Array.from({ length: n }, () => new Array<number>(net.length));
    onCpu(() =>
      noGrad(() =>
        tidy(() => {
          const ctx = net.context(); // (T, D)
          let caches: (KvCache | null)[] = net.blocks.map(() => null);
          for (let t = 0; t < net.length; t++) {
            const r = tidy(() => {
              const rows = out.map((tk) => net.inputRow(t, t > 0 ? tk[t - 1] : 0));
              const e = ops.add(net.tokenEmbedding.forward(tensor(rows, [n], 'int64', 'cpu')), ops.select(ctx, 0, t));
              return net.step(ops.unsqueeze(e, 1), t, caches);
            });
            for (const c of caches) {
              c?.k.dispose();
              c?.v.dispose();
            }
            caches = r.caches;
            const lp = r.logp.data() as Float32Array;
            r.logp.dispose();
            const v = lp.length / n;
            for (let b = 0; b < n; b++) out[b][t] = pick(b, t, lp.subarray(b * v, (b + 1) * v));
          }
        }),
      ),
    );
    return out;
  }

  private checkTokens(batch: readonly (readonly number[])[], what: string): void {
    if (!Array.isArray(batch) || batch.length === 0) throw new RangeError(`controller.${what}: needs a non-empty batch of token sequences`);
    batch.forEach((tk, b) => {
      if (!Array.isArray(tk) || tk.length !== this.length) {
        throw new RangeError(`controller.${what}: sequence ${b} has ${tk?.length} tokens, expected ${this.length}`);
      }
      tk.forEach((v, i) => {
        const p = this.positions[i];
        if (!Number.isInteger(v) || v < 0 || v >= p.vocabSize) {
          throw new RangeError(`controller.${what}: sequence ${b}, position ${i} ('${p.type}'): token ${v} is outside 0..${p.vocabSize - 1}`);
        }
      });
    });
  }

  /**
   * Teacher-forced log-probs and entropies: logProb and entropy (N), per-step
   * stepLogProbs and stepEntropy (N, T), with gradients. Call inside tidy().
   */
  evaluate(tokensBatch: readonly (readonly number[])[]): { logProb: Tensor; entropy: Tensor; stepLogProbs: Tensor; stepEntropy: Tensor } {
    this.checkTokens(tokensBatch, 'evaluate');
    return onCpu(() => {
      const { logProbs, entropy } = this.net.stepStats(tokensBatch);
      return { logProb: ops.sum(logProbs, 1), entropy: ops.sum(entropy, 1), stepLogProbs: logProbs, stepEntropy: entropy };
    });
  }

  /** log π(tokens) per sequence, (N), with gradients (same temperature and clipping as sampling). */
  logProbs(tokensBatch: readonly (readonly number[])[]): Tensor {
    return tidy(() => this.evaluate(tokensBatch).logProb);
  }

  /** Summed per-step entropy per sequence, (N), with gradients. */
  entropy(tokensBatch: readonly (readonly number[])[]): Tensor {
    return tidy(() => this.evaluate(tokensBatch).entropy);
  }

  /** The heads' raw logits (before temperature and clipping) per sequence and position, teacher-forced. */
  rawLogits(tokensBatch: readonly (readonly number[])[]): number[][][] {
    this.checkTokens(tokensBatch, 'rawLogits');
    const n = tokensBatch.length;
    const net = this.net;
    const out = Array.from({ length: n }, () => new Array<number[]>(net.length));
    onCpu(() =>
      noGrad(() =>
        tidy(() => {
          const byType = net.rawLogitsByType(net.hidden(tokensBatch));
          byType.forEach((raw, k) => {
            const data = raw.toArray();
            const v = net.types[k].vocabSize;
            const pos = net.typeOf.flatMap((tk, i) => (tk === k ? [i] : []));
            for (let b = 0; b < n; b++) {
              pos.forEach((p, j) => (out[b][p] = data.slice((b * pos.length + j) * v, (b * pos.length + j + 1) * v)));
            }
          });
        }),
      ),
    );
    return out;
  }

  /**
   * One policy-gradient step on a batch of scored samples, then version++.
   *
   * Baseline: b = the EMA baseline, or the batch's mean reward at the first
   * update; advantages A_i = reward_i − b for the whole batch; then the EMA
   * folds in the rewards one at a time in the given order
   * (b ← d·b + (1 − d)·reward).
   * Loss = mean_i L_i − entropyWeight · mean_i H_i, where H_i is the summed
   * per-step entropy and L_i is, for samples of the current version,
   * REINFORCE −A_i·logπ(x_i), and for older ones the PPO-clipped surrogate
   * −min(r_i·A_i, clip(r_i, 1−ε, 1+ε)·A_i), r_i = exp(logπ(x_i) − logProbOld_i)
   * (log r clamped to ±20). (For the current version r = 1 and the surrogate's
   * gradient equals REINFORCE's; the split only makes that exact.)
   * Then gradient-norm clipping and one Adam step.
   */
  update(samples: readonly UpdateSample[]): UpdateStats {
    if (!Array.isArray(samples) || samples.length === 0) throw new RangeError('controller.update: needs at least one sample');
    samples.forEach((s, i) => {
      if (!Number.isFinite(s.reward)) throw new RangeError(`controller.update: sample ${i} has reward ${s.reward}; rewards must be finite`);
      if (!Number.isFinite(s.logProbOld) || s.logProbOld > 1e-3) {
        throw new RangeError(`controller.update: sample ${i} has logProbOld ${s.logProbOld}; expected a finite log-probability`);
      }
      if (!Number.isSafeInteger(s.policyVersion) || s.policyVersion < 0 || s.policyVersion > this.versionCount) {
        throw new RangeError(`controller.update: sample ${i} has policyVersion ${s.policyVersion}; the controller is at version ${this.versionCount}`);
      }
    });
    const tokens = samples.map((s) => s.tokens);
    this.checkTokens(tokens, 'update');
    const o = this.options;
    const rewards = samples.map((s) => s.reward);
    const baselineBefore = this.baselineValue ?? mean(rewards);
    const adv = rewards.map((r) => r - baselineBefore);
    const stale = samples.map((s) => s.policyVersion < this.versionCount);
    const n = samples.length;

    const r = onCpu(() => {
      this.opt.zeroGrad();
      const res = tidy(() => {
        const { logProb, entropy } = this.evaluate(tokens);
        const a = tensor(adv, [n], 'float32', 'cpu');
        const old = tensor(samples.map((s) => s.logProbOld), [n], 'float32', 'cpu');
        const ratio = ops.exp(ops.clamp(ops.sub(logProb, old), -20, 20));
        const surrogate = ops.minimum(ops.mul(ratio, a), ops.mul(ops.clamp(ratio, 1 - o.ppoClip, 1 + o.ppoClip), a));
        const perSample = ops.where(tensor(stale.map(Number), [n], 'bool', 'cpu'), ops.neg(surrogate), ops.neg(ops.mul(a, logProb)));
        const policyLoss = ops.mean(perSample);
        const meanEntropy = ops.mean(entropy);
        const loss = ops.sub(policyLoss, ops.mul(meanEntropy, o.entropyWeight));
        backward(loss);
        return {
          policyLoss: policyLoss.item(),
          loss: loss.item(),
          entropy: meanEntropy.item(),
          ratio: ratio.toArray(),
          logProb: logProb.toArray(),
        };
      });
      const gradNorm = clipGradNorm(this.net.parameters(), o.maxGradNorm > 0 ? o.maxGradNorm : Infinity);
      this.opt.step();
      this.opt.zeroGrad();
      return { ...res, gradNorm };
    });

    let b = baselineBefore;
    for (const x of rewards) b = o.baselineDecay * b + (1 - o.baselineDecay) * x;
    this.baselineValue = b;
    this.rewardsSeen += n;
    this.versionCount++;

    let clipped = 0;
    let freshErr = 0;
    r.ratio.forEach((x, i) => {
      if (stale[i] && Math.abs(x - 1) > o.ppoClip) clipped++;
      if (!stale[i]) freshErr = Math.max(freshErr, Math.abs(r.logProb[i] - samples[i].logProbOld));
    });
    return {
      version: this.versionCount,
      samples: n,
      stale: stale.filter(Boolean).length,
      meanReward: mean(rewards),
      baselineBefore,
      baseline: b,
      meanAdvantage: mean(adv),
      entropy: r.entropy,
      policyLoss: r.policyLoss,
      loss: r.loss,
      clipFraction: clipped / n,
      ratioMean: mean(r.ratio),
      ratioMin: Math.min(...r.ratio),
      ratioMax: Math.max(...r.ratio),
      freshLogProbError: freshErr,
      gradNorm: r.gradNorm,
    };
  }

  /** A snapshot to continue from exactly (see ControllerState). */
  saveState(): ControllerState {
    const tensors = onCpu(() => noGrad(() => new Map([...this.net.stateDict()].map(([k, t]) => [k, ops.clone(t)] as [string, Tensor]))));
    return {
      tensors,
      optimizer: this.opt.saveState(),
      meta: {
        format: CONTROLLER_STATE_FORMAT,
        positions: this.positions.map((p) => ({ ...p })),
        options: { ...this.options },
        seed: this.seed,
        version: this.versionCount,
        baseline: this.baselineValue,
        rngState: this.rng.getState(),
        rewardsSeen: this.rewardsSeen,
      },
    };
  }

  /**
   * Loads a snapshot of a controller with the same positions and options
   * (anything else is refused: the parameters or the sampling would differ).
   */
  loadState(state: Pick<ControllerState, 'tensors' | 'optimizer'> & { meta: ControllerMeta }): void {
    const m = state.meta;
    if (m?.format !== CONTROLLER_STATE_FORMAT) throw new Error(`controller state: format is ${String(m?.format)}, expected ${CONTROLLER_STATE_FORMAT}`);
    if (JSON.stringify(m.positions) !== JSON.stringify(this.positions)) throw new Error('controller state: its token positions differ from this controller\'s');
    const diff = (Object.keys(this.options) as (keyof ControllerOptions)[]).filter((k) => m.options?.[k] !== this.options[k]);
    if (diff.length) throw new Error(`controller state: options differ (${diff.map((k) => `${k}: ${m.options?.[k]} vs ${this.options[k]}`).join(', ')})`);
    if (!Number.isSafeInteger(m.version) || m.version < 0) throw new Error(`controller state: invalid version ${m.version}`);
    if (m.baseline !== null && !Number.isFinite(m.baseline)) throw new Error(`controller state: invalid baseline ${m.baseline}`);
    onCpu(() => this.net.loadStateDict(state.tensors, 'controller state'));
    this.opt.loadState(state.optimizer);
    this.rng.setState(m.rngState);
    this.versionCount = m.version;
    this.baselineValue = m.baseline;
    this.rewardsSeen = m.rewardsSeen ?? 0;
  }

  /** The sampling stream a controller of this seed starts with. */
  static samplingRng(seed: number): Rng {
    return Rng.derive(seed, 'controller', 'sample');
  }

  /** A new controller continuing from a snapshot (same positions, options and seed as the saved one). */
  static restore(state: Pick<ControllerState, 'tensors' | 'optimizer'> & { meta: ControllerMeta }): Controller {
    const m = state.meta;
    if (m?.format !== CONTROLLER_STATE_FORMAT) throw new Error(`controller state: format is ${String(m?.format)}, expected ${CONTROLLER_STATE_FORMAT}`);
    const c = new Controller(m.positions, m.options, m.seed);
    c.loadState(state);
    return c;
  }

  /** Frees the parameters (the controller is unusable afterwards). */
  dispose(): void {
    this.net.dispose();
  }
}
