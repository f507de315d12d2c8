// Pattern file -> the trainer's `dropoutFor` hook: the one place where the
// pattern language (src/patterns, resolution rules in resolve.ts) meets the
// mask engine (src/layers/patterns.ts). `train --pattern`, the search's
// executors and the demo all go through here, so a found pattern trains the
// same way wherever it is applied.
import { Generator } from '../engine/index.js';
import { patternDropout, type PatternDropout } from '../layers/patterns.js';
import { createModel, modelFamily, type ModelInput, type SlotDropout, type SlotInfo } from '../models/index.js';
import { resolvePatterns, type ResolveOptions } from '../patterns/resolve.js';
import type { PatternFile } from '../patterns/types.js';

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

const slotCache = new Map<string, SlotInfo[]>();

/**
 * The dropout slots of a named child network. Slot names, kinds, depths and
 * widths depend on the architecture name only (not on the classes, input
 * channels or vocabulary), so the model is built once with a small stand-in
 * input, listed, and freed; the answer is cached per name.
 */
export function modelSlots(model: string): SlotInfo[] {
  const hit = slotCache.get(model);
  if (hit) return hit.map((s) => ({ ...s }));
  const family = modelFamily(model);
  if (!family) throw new RangeError(`unknown model '${model}'`);
  const input: ModelInput = family === 'image' ? { inChannels: 1, numClasses: 10 } : { vocabSize: 8, maxLen: 8 };
  const m = createModel(model, input, new Generator(0));
  try {
    const list = m.slots.list();
    slotCache.set(model, list);
    return list.map((s) => ({ ...s }));
  } finally {
    m.dispose();
  }
}
