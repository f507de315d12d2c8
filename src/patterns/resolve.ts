// Resolution: which pattern acts at each slot of a model.
//
// Rules (also in docs/patterns.md, "Addressing"):
//  1. Addresses. An exact name (`stage2.block1.bn2`); a wildcard, where each
//     `*` matches any run of characters, dots included (`stage2.*`, `*.bn2`);
//     the bare `*`; or `depth:A-B`, the slots whose relative depth d (0 = first
//     slot, 1 = last) has A <= d < B, with B = 1 meaning A <= d <= 1 and A = B
//     meaning d = A exactly. Half-open ranges let `depth:0-0.5` and
//     `depth:0.5-1` split a model without a tie at 0.5.
//  2. Skip paths are opt-in. A skip slot (a residual block's shortcut) is
//     matched only by its exact name or by a wildcard whose last dot-separated
//     segment is literally `skip` (`*.skip`, `stage3.*.skip`); `*`, `stage2.*`
//     and depth ranges never reach it. Masking a shortcut is a different
//     regulariser from masking the residual branch (DropBlock reports it
//     separately; the paper makes it a token), so `"*": dropout` must not
//     silently perturb every identity path.
//  3. Precedence, highest first: exact name > depth range (narrower first) >
//     wildcard (fewer `*` first, then more literal characters) > `*`. The
//     order of keys in the file never matters. Two matching addresses of equal
//     precedence that both apply to a slot are an error naming both.
//  4. Span sublayers. At a sequence slot whose sublayer is not in its
//     `sublayers`, a span address is skipped and the next matching address
//     (in precedence order) decides, or none. (At a conv or skip slot a span
//     is a kind error, rule 6.)
//  5. Residual inheritance (the tile space's `residual` token). A skip slot
//     `X.skip` that no address reaches takes the tile pattern of the last conv
//     slot of the same block before it (`X.bn2` in a WRN block: the residual
//     branch's output, the same shape as the shortcut) when that pattern is a
//     tile with `residual: true`; otherwise none. An explicit skip address
//     always wins over inheritance. The block's other conv slots' `residual`
//     masks the shortcut's input in the model (SlotDropout.residual); at a
//     slot in no block with a skip path it has nothing to mask, and the tile
//     space gives such slots no residual token (spaces.ts).
//  6. Kind compatibility (a pattern that reaches a slot it cannot act on is an
//     error, not a silent skip, except rule 4):
//       none, dropout, droppath           conv, skip, sequence
//       spatial, dropblock, tile          conv, skip   (need an H x W map)
//       variational, span                 sequence     (need a time axis)
//     droppath drops a whole example's tensor; it is stochastic depth where
//     the slot is a residual branch's last activation (`*.bn2` in WRN: conv2
//     has no bias, so F(x) = 0; `*.attention-output`, `*.ffn-output` in the
//     Transformer); on a skip slot it drops the shortcut instead.
//  7. An exact address that names no slot of the model is an error by default
//     (a typo would otherwise do nothing); `unmatched: 'ignore'` allows it, for
//     moving a file to a model with fewer blocks. Wildcards and depth ranges
//     may match nothing (presets cover both model families).
//  8. Every slot gets a pattern; a slot nothing reaches gets `{ kind: 'none' }`.
import { addressMatches, addressRank, parseSlotAddress, type SlotAddress } from './address.js';
import type { Pattern, PatternFile, PatternKind, SlotDescriptor } from './types.js';
import { PatternError, didYouMean, validatePatternFile, type PatternProblem } from './validate.js';

type SlotKind = SlotDescriptor['kind'];

/** The slot kinds each pattern kind can act on (rule 6). */
export const PATTERN_SLOT_KINDS: { readonly [K in PatternKind]: readonly SlotKind[] } = {
  none: ['conv', 'skip', 'sequence'],
  dropout: ['conv', 'skip', 'sequence'],
  droppath: ['conv', 'skip', 'sequence'],
  spatial: ['conv', 'skip'],
  dropblock: ['conv', 'skip'],
  tile: ['conv', 'skip'],
  variational: ['sequence'],
  span: ['sequence'],
};

export interface ResolveOptions {
  /** Names the pattern file in errors (default `pattern file`). */
  source?: string;
  /** An exact address naming no slot: 'error' (default) or 'ignore'. */
  unmatched?: 'error' | 'ignore';
}

/** A slot's pattern and where it came from. */
export interface ResolvedSlot {
  pattern: Pattern;
  /** The address that decided it; null when nothing matched (none) or when inherited. */
  address: string | null;
  /** For a skip slot that took its block's tile (rule 5): that conv slot's name. */
  inheritedFrom: string | null;
}

const NONE: Pattern = Object.freeze({ kind: 'none' });

interface Entry {
  address: SlotAddress;
  pattern: Pattern;
  rank: [number, number, number];
}

const sameRank = (a: Entry, b: Entry): boolean => a.rank[0] === b.rank[0] && a.rank[1] === b.rank[1] && a.rank[2] === b.rank[2];
const compareRank = (a: Entry, b: Entry): number => a.rank[0] - b.rank[0] || a.rank[1] - b.rank[1] || a.rank[2] - b.rank[2];

function listNames(names: readonly string[], max = 3): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

function checkSlots(slots: readonly SlotDescriptor[]): void {
  const seen = new Set<string>();
  for (const s of slots) {
    if (seen.has(s.name)) throw new Error(`duplicate slot name '${s.name}'`);
    seen.add(s.name);
    if (!(s.depth >= 0 && s.depth <= 1)) throw new RangeError(`slot '${s.name}': depth must be in [0, 1], got ${s.depth}`);
    if (!['conv', 'skip', 'sequence'].includes(s.kind)) throw new RangeError(`slot '${s.name}': unknown kind '${String(s.kind)}'`);
  }
}

/** Rule 4: a span skips a sequence slot whose sublayer it does not list (at conv/skip slots it is a kind error instead). */
function skipsSpan(p: Pattern, slot: SlotDescriptor): boolean {
  return p.kind === 'span' && slot.kind === 'sequence' && !(slot.sublayer !== undefined && (p.sublayers as string[]).includes(slot.sublayer));
}

/** The conv slot whose tile a skip slot `X.skip` inherits (rule 5), or null. */
export function residualSource(skip: SlotDescriptor, slots: readonly SlotDescriptor[]): SlotDescriptor | null {
  if (skip.kind !== 'skip' || !skip.name.endsWith('.skip')) return null;
  const prefix = skip.name.slice(0, -'skip'.length);
  const at = slots.indexOf(skip);
  let found: SlotDescriptor | null = null;
  for (let i = 0; i < (at < 0 ? slots.length : at); i++) {
    if (slots[i].kind === 'conv' && slots[i].name.startsWith(prefix)) found = slots[i];
  }
  return found;
}

/** Like resolvePatterns, and says which address (or inheritance) decided each slot. */
export function explainPatterns(file: PatternFile, slots: readonly SlotDescriptor[], options: ResolveOptions = {}): Map<string, ResolvedSlot> {
  const source = options.source ?? 'pattern file';
  validatePatternFile(file, source);
  checkSlots(slots);
  const entries: Entry[] = Object.entries(file.slots).map(([text, pattern]) => {
    const address = parseSlotAddress(text);
    return { address, pattern, rank: addressRank(address) };
  });
  entries.sort(compareRank);

  const problems: PatternProblem[] = [];
  const ties = new Map<string, { a: string; b: string; slots: string[] }>();
  const misfits = new Map<string, { address: string; kind: PatternKind; slotKind: SlotKind; slots: string[] }>();
  const named = new Set<string>();
  const out = new Map<string, ResolvedSlot>();

  for (const slot of slots) {
    const candidates = entries.filter((e) => addressMatches(e.address, slot));
    for (const c of candidates) if (c.address.kind === 'exact') named.add(c.address.text);
    let chosen: Entry | null = null;
    for (let i = 0; i < candidates.length && !chosen; ) {
      let j = i;
      while (j < candidates.length && sameRank(candidates[j], candidates[i])) j++;
      const group = candidates.slice(i, j).filter((e) => !skipsSpan(e.pattern, slot));
      if (group.length > 1) {
        const key = `${group[0].address.text}\u0000${group[1].address.text}`;
        const t = ties.get(key) ?? { a: group[0].address.text, b: group[1].address.text, slots: [] };
        t.slots.push(slot.name);
        ties.set(key, t);
      }
      if (group.length) chosen = group[0];
      i = j;
    }
    out.set(slot.name, { pattern: chosen?.pattern ?? NONE, address: chosen?.address.text ?? null, inheritedFrom: null });
  }

  for (const slot of slots) {
    const r = out.get(slot.name)!;
    if (slot.kind === 'skip' && r.address === null) {
      const src = residualSource(slot, slots);
      const p = src ? out.get(src.name)!.pattern : NONE;
      if (src && p.kind === 'tile' && p.residual) out.set(slot.name, { pattern: p, address: null, inheritedFrom: src.name });
    }
    const { pattern, address } = out.get(slot.name)!;
    if (address !== null && !PATTERN_SLOT_KINDS[pattern.kind].includes(slot.kind)) {
      const key = `${address}\u0000${slot.kind}`;
      const m = misfits.get(key) ?? { address, kind: pattern.kind, slotKind: slot.kind, slots: [] };
      m.slots.push(slot.name);
      misfits.set(key, m);
    }
  }

  // Problems in the order of the addresses in the file.
  const order = Object.keys(file.slots);
  const pos = (address: string): number => order.indexOf(address);
  for (const t of [...ties.values()].sort((x, y) => pos(x.a) - pos(y.a))) {
    problems.push({
      path: `slots[${JSON.stringify(t.a)}]`,
      message: `ties with slots[${JSON.stringify(t.b)}] (equal precedence) at slot${t.slots.length > 1 ? 's' : ''} ${listNames(t.slots)}; make one address more specific or add an exact address`,
    });
  }
  for (const m of [...misfits.values()].sort((x, y) => pos(x.address) - pos(y.address))) {
    problems.push({
      path: `slots[${JSON.stringify(m.address)}]`,
      message: `${m.kind} cannot act on ${m.slotKind} slots (${listNames(m.slots)}); ${m.kind} acts on ${PATTERN_SLOT_KINDS[m.kind].join(' and ')} slots`,
    });
  }
  if ((options.unmatched ?? 'error') === 'error') {
    const names = slots.map((s) => s.name);
    for (const e of entries) {
      if (e.address.kind === 'exact' && !named.has(e.address.text)) {
        problems.push({
          path: `slots[${JSON.stringify(e.address.text)}]`,
          message: `names no slot of this model${didYouMean(e.address.text, names)}; its slots: ${listNames(names, 6)} (resolve with unmatched: 'ignore' to allow this)`,
        });
      }
    }
  }
  if (problems.length) throw new PatternError(source, problems, 'cannot apply the patterns to this model');
  return out;
}

/**
 * The pattern acting at each slot (every slot of `slots`, `none` where
 * nothing applies), by the rules at the top of this file. Throws PatternError
 * for ties, kind mismatches and (by default) exact addresses naming no slot.
 * The patterns are the file's own objects: do not mutate them.
 */
export function resolvePatterns(file: PatternFile, slots: readonly SlotDescriptor[], options: ResolveOptions = {}): Map<string, Pattern> {
  const out = new Map<string, Pattern>();
  for (const [name, r] of explainPatterns(file, slots, options)) out.set(name, r.pattern);
  return out;
}
