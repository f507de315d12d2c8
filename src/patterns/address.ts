// Slot addresses: the keys of a pattern file's `slots`. The rules (which
// address reaches which slot, and which wins) are written out at the top of
// resolve.ts and in docs/patterns.md.
import { DEPTH_ADDRESS_RE, NAME_ADDRESS_RE } from './schema.js';
import type { SlotDescriptor } from './types.js';

export type SlotAddress =
  /** A slot's full name, e.g. `stage2.block1.bn2`. */
  | { kind: 'exact'; text: string }
  /** A name with `*` (any run of characters, dots included), e.g. `stage2.*`, `*.bn2`; not the bare `*`. */
  | { kind: 'wildcard'; text: string; regex: RegExp; stars: number; literal: number }
  /** The bare `*`: every slot except skip paths. */
  | { kind: 'any'; text: '*' }
  /** Slots of relative depth in [lo, hi) (hi = 1: [lo, 1]; lo = hi: exactly lo). */
  | { kind: 'depth'; text: string; lo: number; hi: number };

/** What a valid address looks like, for error messages. */
export const ADDRESS_EXPECTED =
  'an exact slot name (letters, digits, _ and -, dot-separated, starting with a letter or _), ' +
  'a wildcard with * (stage2.*, *.bn2, *; never **), or depth:A-B with 0 <= A <= B <= 1';

/** Parses an address; throws RangeError saying what is allowed. */
export function parseSlotAddress(text: string): SlotAddress {
  const d = DEPTH_ADDRESS_RE.exec(text);
  if (d) {
    const lo = Number(d[1]);
    const hi = Number(d[2]);
    if (lo > hi) throw new RangeError(`depth range ${text} is reversed; expected depth:A-B with 0 <= A <= B <= 1`);
    return { kind: 'depth', text, lo, hi };
  }
  if (!NAME_ADDRESS_RE.test(text)) throw new RangeError(`expected ${ADDRESS_EXPECTED}`);
  if (text === '*') return { kind: 'any', text };
  const stars = text.split('*').length - 1;
  if (stars === 0) return { kind: 'exact', text };
  const regex = new RegExp('^' + text.split('*').map(escapeRegex).join('.*') + '$');
  return { kind: 'wildcard', text, regex, stars, literal: text.length - stars };
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

/** Whether an address may reach a skip slot at all: its name, or a wildcard whose last segment is `skip`. */
function reachesSkip(a: SlotAddress): boolean {
  if (a.kind === 'exact') return true;
  if (a.kind === 'wildcard') return a.text.split('.').pop() === 'skip';
  return false;
}

/** Whether `address` matches `slot` (before kind compatibility and span sublayers are considered). */
export function addressMatches(a: SlotAddress, slot: SlotDescriptor): boolean {
  if (slot.kind === 'skip' && !reachesSkip(a)) return false;
  switch (a.kind) {
    case 'exact':
      return a.text === slot.name;
    case 'any':
      return true;
    case 'wildcard':
      return a.regex.test(slot.name);
    case 'depth':
      if (a.lo === a.hi) return slot.depth === a.lo;
      return slot.depth >= a.lo && (a.hi === 1 ? slot.depth <= 1 : slot.depth < a.hi);
  }
}

/**
 * Precedence key, compared lexicographically, smaller first: exact names,
 * then depth ranges (narrower first), then wildcards (fewer `*`, then more
 * literal characters), then the bare `*`. Equal keys that match the same
 * slot are a tie (an error).
 */
export function addressRank(a: SlotAddress): [number, number, number] {
  switch (a.kind) {
    case 'exact':
      return [0, 0, 0];
    case 'depth':
      return [1, Math.round((a.hi - a.lo) * 1e9), 0]; // rounded: 0.3-0.1 and 0.5-0.3 are equally wide
    case 'wildcard':
      return [2, a.stars, -a.literal];
    case 'any':
      return [3, 0, 0];
  }
}
