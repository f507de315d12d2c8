// Learning-rate schedules, as functions of the optimizer step.

/**
 * Linear warm-up from 0 to baseLr over warmupSteps, then cosine decay to
 * minLr at totalSteps (Loshchilov & Hutter's SGDR without restarts; the
 * warm-up avoids early divergence at large lr, Goyal et al. 2017).
 */
export function warmupCosineLr(step: number, totalSteps: number, warmupSteps: number, baseLr: number, minLr = 0): number {
  if (warmupSteps > 0 && step < warmupSteps) return (baseLr * (step + 1)) / warmupSteps;
  const span = Math.max(1, totalSteps - warmupSteps);
  const t = Math.min(1, Math.max(0, (step - warmupSteps) / span));
  return minLr + 0.5 * (baseLr - minLr) * (1 + Math.cos(Math.PI * t));
}

/** Warm-up steps for a run: a fraction of all steps, capped. */
export function warmupSteps(totalSteps: number, fraction: number, cap = 1000): number {
  return Math.min(cap, Math.floor(totalSteps * fraction));
}
