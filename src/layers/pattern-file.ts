// Pattern file -> the trainer's `dropoutFor` hook: the one place where the
// pattern language (src/patterns, resolution rules in resolve.ts) meets the
// mask engine (patterns.ts here). `train --pattern`, the search's executors
// and the demo all go through here, so a found pattern trains the same way
// wherever it is applied.
import type { SlotDropout, SlotInfo } from '../models/index.js';
import { resolvePatterns, type ResolveOptions } from '../patterns/resolve.js';
import type { PatternFile } from '../patterns/types.js';
import { patternDropout, type PatternDropout } from './patterns.js';

/** A `dropoutFor` hook that also frees what its dropouts cached (canvas tensors). */
export type PatternHook = ((slot: SlotInfo) => SlotDropout | null) & {
  /** Frees the cached canvases of every dropout this hook handed out. */
  dispose(): void;
  /** The pattern resolved at each slot (slots with `none` included), for logs. */
  readonly resolved: ReadonlyMap<string, string>;
};

/**
 * Resolves `file` against the model's slots once (so every resolution error,
 * e.g. a tile pattern reaching a Transformer slot, surfaces before training)
 * and returns the hook: one PatternDropout per slot with the file's schedule,
 * null where the slot's pattern is `none` (the identity, at no cost).
 */
export function dropoutForPatternFile(file: PatternFile, slots: readonly SlotInfo[], options: ResolveOptions = {}): PatternHook {
  const byName = resolvePatterns(file, slots, options);
  const made: PatternDropout[] = [];
  const resolved = new Map<string, string>();
  for (const [name, p] of byName) resolved.set(name, p.kind);
  const hook = (slot: SlotInfo): SlotDropout | null => {
    const p = byName.get(slot.name);
    if (p === undefined) throw new Error(`pattern hook: slot '${slot.name}' is not one of the slots the pattern was resolved against (${[...byName.keys()].join(', ')})`);
    if (p.kind === 'none') return null;
    const d = patternDropout(p, file.schedule);
    made.push(d);
    return d;
  };
  return Object.assign(hook, {
    dispose(): void {
      for (const d of made.splice(0)) d.dispose();
    },
    resolved,
  });
}
