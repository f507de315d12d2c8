// Schedules: how a pattern's effect grows over training (docs/architecture.md §4;
// DropBlock, Ghiasi et al. 2018, found a fixed keep_prob hurts and ramps it
// linearly from 1 to the target). `progress` is the fraction of training done
// (0 at the first step, 1 at the end).
//
//  - constant (also: no schedule): full strength, mask always applied.
//  - linear-ramp { until }: factor r = min(1, progress / until), so 0 at the
//    first step and 1 from fraction `until` of training on. What r scales:
//      applies: 'strength' (default) — the drop strength: rates are r * rate,
//        DropBlock's keepProb is 1 - r * (1 - keepProb) (interpolated from 1);
//      applies: 'probability' — the mask at full strength, applied to each
//        example with probability r (left as the identity otherwise).
//    Tile and span patterns have no rate token: their strength is their
//    geometry, and scaling a size or a stride would make a different pattern,
//    not a weaker one. For them a ramp always uses 'probability' semantics,
//    whatever `applies` says. `none` ignores schedules.
import type { Pattern, PatternKind, Schedule } from './types.js';

export interface ScheduleFactor {
  /** Multiplier of the drop strength, in [0, 1]. */
  strength: number;
  /** Probability that an example gets the mask, in [0, 1]. */
  probability: number;
}

/** Kinds whose strength is a number (rate or keepProb) that a schedule can scale. */
export const SCALABLE_KINDS: readonly PatternKind[] = ['dropout', 'spatial', 'variational', 'droppath', 'dropblock'];

/**
 * The schedule's factors at `progress` (clamped to [0, 1]). Pass the pattern's
 * kind to get the factors that really apply to it: for tile and span a
 * strength ramp becomes a probability ramp.
 */
export function scheduleFactor(schedule: Schedule | undefined, progress: number, kind?: PatternKind): ScheduleFactor {
  if (Number.isNaN(progress)) throw new RangeError('schedule progress is NaN');
  if (!schedule || schedule.kind === 'constant') return { strength: 1, probability: 1 };
  if (!(schedule.until > 0 && schedule.until <= 1)) throw new RangeError(`linear-ramp until must be in (0, 1], got ${schedule.until}`);
  const p = Math.min(1, Math.max(0, progress));
  const r = Math.min(1, p / schedule.until);
  const applies = kind !== undefined && !SCALABLE_KINDS.includes(kind) ? 'probability' : (schedule.applies ?? 'strength');
  return applies === 'strength' ? { strength: r, probability: 1 } : { strength: 1, probability: r };
}

/**
 * The pattern at a fraction `strength` in [0, 1] of its drop strength: rates
 * times strength; keepProb interpolated from 1 (1 - strength * (1 - keepProb)).
 * Kinds without a rate (none, tile, span) come back unchanged. strength 1
 * returns an equal copy, 0 a pattern that drops nothing.
 */
export function scalePattern(pattern: Pattern, strength: number): Pattern {
  if (!(strength >= 0 && strength <= 1)) throw new RangeError(`pattern strength must be in [0, 1], got ${strength}`);
  switch (pattern.kind) {
    case 'dropout':
    case 'spatial':
    case 'variational':
    case 'droppath':
      return { ...pattern, rate: strength === 1 ? pattern.rate : pattern.rate * strength };
    case 'dropblock':
      return { ...pattern, keepProb: strength === 1 ? pattern.keepProb : 1 - strength * (1 - pattern.keepProb) };
    default:
      return pattern;
  }
}

/** What a slot applies at `progress`: the (scaled) pattern, and the probability that an example gets its mask. */
export function scheduledPattern(pattern: Pattern, schedule: Schedule | undefined, progress: number): { pattern: Pattern; probability: number } {
  const f = scheduleFactor(schedule, progress, pattern.kind);
  return { pattern: scalePattern(pattern, f.strength), probability: pattern.kind === 'none' ? 1 : f.probability };
}
