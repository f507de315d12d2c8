// The search spaces as data (docs/architecture.md §4, paper §3-4): ordered token types,
// each with a vocabulary of at most 10 values. The controller samples one
// token per type, reading the vocabulary sizes from here, so changing a
// vocabulary is a data change. spaces/tile.json and spaces/span.json are
// these objects written out by scripts/write-pattern-data.mjs (a test
// compares them).
//
// Vocabularies are ours (the paper's values are not known to us: docs/architecture.md §11): chosen
// with experiments/space-strength so that uniform points cover weak to strong
// regularisation (expected drop fractions of a few % to about half) at the
// map sizes of the WRN children (28/14/7, 32/16/8) and the tlm sequence
// lengths (32-128), and no point drops everything: every size is below every
// stride on at least one axis. docs/patterns.md gives the reasons and the
// measured distribution.
//
// Token groups. A model's pattern file is a sequence of token groups:
//  - tile: one group per conv slot, in slot order; skip slots have no group,
//    their pattern follows the residual token of their block's last conv slot
//    (resolve.ts rule 5); the block's other conv slots' residual tokens mask
//    the shortcut's input (the models, src/models/slots.ts). A conv slot in no
//    block with a skip path (a stem, WRN's final.bn, EfficientNet's head and
//    classifier and the first block of each stage) has nothing its residual
//    token could mask, so its group has no residual token (`requires: skip`):
//    every token of a sequence acts. Absent tokens decode to their first
//    value (residual: false);
//  - span: one group per layer (slots sharing the name prefix before the last
//    dot: `layer3.query` -> layer3); a slot with no prefix (`embedding`) joins
//    the next layer's group (the embedding is layer 0's input). The group's
//    pattern acts on the group's slots whose sublayer token is true. All
//    sublayer tokens false decodes to `none`: the controller can switch a
//    layer off, and every token sequence decodes to a valid pattern.
import { createHash } from 'node:crypto';
import { explainPatterns, residualSource } from './resolve.js';
import { PATTERN_FIELDS } from './schema.js';
import { PATTERN_FORMAT, TRANSFORMER_SUBLAYERS, type Pair, type Pattern, type PatternFile, type SlotDescriptor } from './types.js';
import { showValue } from './validate.js';

export const SPACE_FORMAT = 'autodropout/space@1';
/** Name prefix of the span space's one-per-sublayer boolean tokens. */
export const SUBLAYER_TOKEN_PREFIX = 'sublayer.';

export type TokenValue = number | boolean | string | Readonly<Pair>;

export interface TokenType {
  /** A pattern field (`size`, `shareC`, ...) or `sublayer.<name>` (span: whether the group acts on that sublayer). */
  readonly name: string;
  readonly doc: string;
  readonly values: readonly TokenValue[];
  /**
   * `skip`: only groups whose conv slot belongs to a block with a skip path
   * (an `X.skip` slot) have this token; elsewhere it is absent and decodes
   * to its first value.
   */
  readonly requires?: 'skip';
}

export interface SearchSpace {
  readonly format: typeof SPACE_FORMAT;
  readonly name: 'tile' | 'span';
  readonly description: string;
  readonly tokens: readonly TokenType[];
}

function deepFreeze<T>(x: T): T {
  if (typeof x === 'object' && x !== null) {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}

const BOOL = [false, true] as const;
const SHEAR = [-0.4, -0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3, 0.4];

/** The paper's ConvNet space: 8 tokens per conv slot. */
export const TILE_SPACE: SearchSpace = deepFreeze({
  format: SPACE_FORMAT,
  name: 'tile',
  description:
    'ConvNet tile patterns (AutoDropout §3): one group per conv slot, 8 tokens (7 where the slot has no skip path: no residual token); skip slots follow their block residual token.',
  tokens: [
    {
      name: 'size',
      doc: 'dropped rectangle [h, w]: squares 2-3, 3:4 blocks and bars up to 8 long both ways; min(h, w) <= 3 < every stride, so each period keeps a row or a column',
      values: [[2, 2], [3, 3], [3, 4], [4, 3], [1, 8], [8, 1], [2, 8], [8, 2], [3, 8], [8, 3]],
    },
    {
      name: 'stride',
      doc: 'tiling period [sy, sx], start to start: 4-6 both ways (a bar at least as long as the period makes stripes)',
      values: [[4, 4], [5, 5], [6, 6], [4, 5], [5, 4], [4, 6], [6, 4], [5, 6], [6, 5]],
    },
    {
      name: 'repeat',
      doc: 'tiles [ry, rx] (rows and columns of tiles: 4x4 a local patch, 16x16 wider than any map), or "all" = periodic over the whole map',
      values: [[4, 4], [6, 6], [8, 8], [12, 12], [6, 12], [12, 6], [16, 16], 'all'],
    },
    { name: 'rotate', doc: 'degrees; [0, 90) suffices since sizes and strides come in both orientations', values: [0, 15, 30, 45, 60, 75] },
    { name: 'shearX', doc: 'shear factor along x (tan of the angle), symmetric', values: SHEAR },
    { name: 'shearY', doc: 'shear factor along y, symmetric', values: SHEAR },
    { name: 'shareC', doc: 'one placement for all channels (true) or one per channel', values: BOOL },
    {
      name: 'residual',
      doc: "also mask the block's skip path with the slot's pattern (last conv slot: where the skip enters the sum; others: the shortcut's input); only slots in a block with a skip path have it",
      values: BOOL,
      requires: 'skip',
    },
  ],
});

/** The Transformer space: one group of 12 tokens per layer. */
export const SPAN_SPACE: SearchSpace = deepFreeze({
  format: SPACE_FORMAT,
  name: 'span',
  description:
    'Transformer span patterns (AutoDropout §4): one group per layer; the embedding joins the first layer; all sublayer tokens false = none.',
  tokens: [
    { name: 'size', doc: 'contiguous tokens dropped per span: 1-5, below every stride, so each period keeps a token', values: [1, 2, 3, 4, 5] },
    { name: 'stride', doc: 'period along T, start to start: 6-24', values: [6, 8, 10, 12, 16, 24] },
    { name: 'repeat', doc: 'number of spans (32 x 6 covers any sequence of up to 192 tokens), or "all" = periodic over the whole sequence', values: [4, 8, 12, 16, 24, 32, 'all'] },
    { name: 'shareC', doc: 'one temporal mask for all channels (true) or one per channel group', values: BOOL },
    { name: 'noise', doc: 'zero: drop the spans; gaussian: multiplicative N(1, f/(1-f)) noise on them, clipped to [0, 2] (f: the drop fraction)', values: ['zero', 'gaussian'] },
    ...TRANSFORMER_SUBLAYERS.map((s) => ({ name: `${SUBLAYER_TOKEN_PREFIX}${s}`, doc: `whether the layer's pattern acts on its ${s} slot`, values: BOOL })),
  ],
});

export const SEARCH_SPACES = { tile: TILE_SPACE, span: SPAN_SPACE } as const;

/** A search space by name. */
export function getSpace(name: string): SearchSpace {
  const s = (SEARCH_SPACES as Record<string, SearchSpace>)[name];
  if (!s || !Object.hasOwn(SEARCH_SPACES, name)) throw new RangeError(`unknown search space '${name}'; valid: ${Object.keys(SEARCH_SPACES).join(', ')}`);
  return s;
}

/** JSON with object keys sorted at every level and no whitespace: equal for equal data, whatever the key order. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/**
 * `sha256:` and the first 16 hex digits of the SHA-256 of the space's
 * canonical JSON (spaces/<name>.json's content up to layout). Studies record
 * it at creation: stored token indices mean the same patterns only under the
 * same vocabularies and token layout, so resume and replay refuse a study
 * whose space has changed since.
 */
export function spaceFingerprint(space: SearchSpace): string {
  return `sha256:${createHash('sha256').update(canonicalJson(space)).digest('hex').slice(0, 16)}`;
}

/** Token types in emission order with their vocabulary sizes (what the controller's heads need). */
export function tokenTypes(space: SearchSpace): { name: string; vocabSize: number }[] {
  return space.tokens.map((t) => ({ name: t.name, vocabSize: t.values.length }));
}

/** Number of distinct token sequences for one group. */
export function spaceSize(space: SearchSpace): number {
  return space.tokens.reduce((n, t) => n * t.values.length, 1);
}

/** A vocabulary value's lookup key: arrays as `[a,b]` strings (told apart from strings by the array check in encode), others as themselves. */
const valueKey = (v: unknown): unknown => (Array.isArray(v) ? `[${v.join(',')}]` : v);
const copy = (v: TokenValue): unknown => (Array.isArray(v) ? [...v] : v);
const showValues = (t: TokenType): string => t.values.map((v) => showValue(v)).join(', ');

/** Per-space lookup tables, built once (the spaces are frozen): value key -> index, and field -> token. */
interface Plan {
  index: Map<unknown, number>[];
  /** Pattern fields in canonical order, each with its token position (-1: `sublayers`, built from the sublayer tokens). */
  fields: [string, number][];
  /** Sublayer name of each token position, or null. */
  sublayer: (string | null)[];
}
const plans = new WeakMap<SearchSpace, Plan>();

function plan(space: SearchSpace): Plan {
  let p = plans.get(space);
  if (!p) {
    const names = space.tokens.map((t) => t.name);
    const fields = PATTERN_FIELDS[space.name].map(([f]): [string, number] => [f, f === 'sublayers' ? -1 : names.indexOf(f)]);
    for (const [f, i] of fields) if (f !== 'sublayers' && i < 0) throw new Error(`search space ${space.name} has no '${f}' token`);
    p = {
      index: space.tokens.map((t) => new Map(t.values.map((v, i) => [valueKey(v), i]))),
      fields,
      sublayer: names.map((n) => (n.startsWith(SUBLAYER_TOKEN_PREFIX) ? n.slice(SUBLAYER_TOKEN_PREFIX.length) : null)),
    };
    plans.set(space, p);
  }
  return p;
}

/**
 * Token indices (one per token type, in order) of a pattern of the space.
 * tile: a tile pattern; span: a span pattern, or `none` (encoded as all
 * zeros, which has every sublayer token false). Throws RangeError for another
 * kind or a value outside a vocabulary.
 */
export function encode(space: SearchSpace, pattern: Pattern): number[] {
  if (space.name === 'span' && pattern.kind === 'none') return space.tokens.map(() => 0);
  if (pattern.kind !== space.name) throw new RangeError(`the ${space.name} space encodes ${space.name} patterns${space.name === 'span' ? ' (or none)' : ''}, not ${pattern.kind}`);
  const { index, sublayer } = plan(space);
  const rec = pattern as unknown as Record<string, unknown>;
  const out = new Array<number>(index.length);
  for (let k = 0; k < index.length; k++) {
    const sl = sublayer[k];
    const value = sl !== null ? (rec.sublayers as string[]).includes(sl) : rec[space.tokens[k].name];
    const i = index[k].get(valueKey(value));
    if (i === undefined || Array.isArray(space.tokens[k].values[i]) !== Array.isArray(value)) {
      const t = space.tokens[k];
      throw new RangeError(`${space.name} token '${t.name}': ${showValue(value)} is not in the vocabulary (${showValues(t)})`);
    }
    out[k] = i;
  }
  return out;
}

/** The pattern of a token sequence (inverse of encode; span with no sublayer selected gives none). */
export function decode(space: SearchSpace, tokens: readonly number[]): Pattern {
  const { fields, sublayer } = plan(space);
  if (tokens.length !== space.tokens.length) throw new RangeError(`the ${space.name} space has ${space.tokens.length} tokens per group, got ${tokens.length}`);
  const sublayers: string[] = [];
  for (let k = 0; k < tokens.length; k++) {
    const i = tokens[k];
    const t = space.tokens[k];
    if (!Number.isInteger(i) || i < 0 || i >= t.values.length) throw new RangeError(`${space.name} token '${t.name}': index ${i} is outside 0..${t.values.length - 1}`);
    const sl = sublayer[k];
    if (sl !== null && t.values[i] === true) sublayers.push(sl);
  }
  if (space.name === 'span' && sublayers.length === 0) return { kind: 'none' };
  const out: Record<string, unknown> = { kind: space.name };
  for (const [f, k] of fields) out[f] = k < 0 ? TRANSFORMER_SUBLAYERS.filter((s) => sublayers.includes(s)) : copy(space.tokens[k].values[tokens[k]]);
  return out as unknown as Pattern;
}

/** The slots one token group governs; `name` is the conv slot (tile) or layer prefix (span). */
export interface TokenGroup {
  name: string;
  slots: string[];
  /** The group's tokens: indices into space.tokens, in emission order (all of them unless a token's `requires` rules it out). */
  tokens: number[];
}

/** Whether conv slot `conv` belongs to a block with a skip path: an `X.skip` slot with `conv` named `X.…` (as resolve.ts rule 5 pairs them). */
function inSkipBlock(conv: SlotDescriptor, slots: readonly SlotDescriptor[]): boolean {
  return slots.some((k) => k.kind === 'skip' && k.name.endsWith('.skip') && conv.name.startsWith(k.name.slice(0, -'skip'.length)));
}

/** The token indices of a group: every token, less those whose `requires` the group does not meet. */
function groupTokens(space: SearchSpace, hasSkip: boolean): number[] {
  return space.tokens.flatMap((t, k) => (t.requires === 'skip' && !hasSkip ? [] : [k]));
}

/** A model's token groups for a space, in emission order (see the top of this file). */
export function tokenGroups(space: SearchSpace, slots: readonly SlotDescriptor[]): TokenGroup[] {
  if (space.name === 'tile') {
    const groups = slots.filter((s) => s.kind === 'conv').map((s) => ({ name: s.name, slots: [s.name], tokens: groupTokens(space, inSkipBlock(s, slots)) }));
    if (!groups.length) throw new RangeError('the tile space needs conv slots; this model has none');
    return groups;
  }
  const seq = slots.filter((s) => s.kind === 'sequence');
  const groups: TokenGroup[] = [];
  let pending: string[] = [];
  for (const s of seq) {
    if (!s.sublayer || !(TRANSFORMER_SUBLAYERS as readonly string[]).includes(s.sublayer)) {
      throw new RangeError(`slot '${s.name}': the span space needs a sublayer from ${TRANSFORMER_SUBLAYERS.join(', ')}, got ${s.sublayer ?? 'none'}`);
    }
    const dot = s.name.lastIndexOf('.');
    if (dot < 0) {
      pending.push(s.name);
      continue;
    }
    const prefix = s.name.slice(0, dot);
    let g = groups.find((x) => x.name === prefix);
    if (!g) groups.push((g = { name: prefix, slots: [], tokens: groupTokens(space, false) }));
    g.slots.push(...pending, s.name);
    pending = [];
  }
  if (!groups.length) throw new RangeError('the span space needs layered sequence slots (`layer0.query`, ...); this model has none');
  groups[groups.length - 1].slots.push(...pending);
  return groups;
}

/** The pattern of one group's tokens (group.tokens.length of them): absent tokens take their first value. */
export function decodeGroup(space: SearchSpace, group: TokenGroup, tokens: readonly number[]): Pattern {
  if (tokens.length !== group.tokens.length) {
    throw new RangeError(`${space.name} group '${group.name}' has ${group.tokens.length} tokens (${group.tokens.map((k) => space.tokens[k].name).join(', ')}), got ${tokens.length}`);
  }
  const full = space.tokens.map(() => 0);
  group.tokens.forEach((k, i) => (full[k] = tokens[i]));
  return decode(space, full);
}

/** Every token position of a model's sequence in emission order, with its type, vocabulary size and group (the controller's positions). */
export function tokenPositions(space: SearchSpace, slots: readonly SlotDescriptor[]): { type: string; vocabSize: number; group: number }[] {
  return tokenGroups(space, slots).flatMap((g, group) => g.tokens.map((k) => ({ type: space.tokens[k].name, vocabSize: space.tokens[k].values.length, group })));
}

/** A model's flat token sequence (as samplers draw and studies store it) cut into its groups. */
export function splitTokens(space: SearchSpace, slots: readonly SlotDescriptor[], tokens: readonly number[]): number[][] {
  const groups = tokenGroups(space, slots);
  const want = groups.reduce((n, g) => n + g.tokens.length, 0);
  if (tokens.length !== want) throw new RangeError(`this model's ${space.name} sequence has ${want} tokens, got ${tokens.length}`);
  let at = 0;
  return groups.map((g) => tokens.slice(at, (at += g.tokens.length)));
}

/**
 * The pattern file of a token sequence (one group per tokenGroups entry):
 * tile: each conv slot's exact name -> its tile; span: `<layer>.*` (and the
 * exact name of a joined slot such as `embedding`) -> the group's span,
 * restricted to the sublayers the group has, or none.
 */
export function decodeFile(space: SearchSpace, tokens: readonly (readonly number[])[], slots: readonly SlotDescriptor[]): PatternFile {
  const groups = tokenGroups(space, slots);
  if (tokens.length !== groups.length) throw new RangeError(`this model has ${groups.length} ${space.name} token groups, got ${tokens.length}`);
  const out: PatternFile = { format: PATTERN_FORMAT, space: space.name, slots: {} };
  const sublayerOf = new Map(slots.map((s) => [s.name, s.sublayer]));
  groups.forEach((g, i) => {
    let p = decodeGroup(space, g, tokens[i]);
    if (space.name === 'tile') {
      out.slots[g.name] = p;
      return;
    }
    if (p.kind === 'span') {
      const present = new Set(g.slots.map((n) => sublayerOf.get(n)));
      const sublayers = p.sublayers.filter((s) => present.has(s));
      p = sublayers.length ? { ...p, sublayers } : { kind: 'none' };
    }
    // A joined slot (the embedding) gets the span only if it selects that slot's sublayer, else an explicit none.
    for (const n of g.slots) {
      if (n.startsWith(`${g.name}.`)) continue;
      const on = p.kind === 'span' && (p.sublayers as string[]).includes(sublayerOf.get(n) ?? '');
      out.slots[n] = on ? p : { kind: 'none' };
    }
    out.slots[`${g.name}.*`] = p;
  });
  return out;
}

/**
 * Patterns compared by effect: a span's `sublayers` only decides where it
 * applies, which resolution already did; a tile's `residual` does nothing at
 * a slot with no skip path (`inert`).
 */
function effect(p: Pattern, inert: readonly string[] = []): string {
  if (p.kind === 'tile' && inert.includes('residual')) return effect({ ...p, residual: false });
  if (p.kind !== 'span') return JSON.stringify(p, Object.keys(p).sort());
  const { sublayers: _s, ...rest } = p;
  return JSON.stringify(rest, Object.keys(rest).sort());
}

/**
 * Token groups of a pattern file for a model (the inverse of decodeFile up to
 * inert values: span sublayer tokens for sublayers a layer lacks come back
 * false; a tile's residual: true at a slot with no skip path, which does
 * nothing, is dropped with its absent token). Throws RangeError when the file, resolved for these slots, is not a
 * point of the space: a conv slot without a tile; two different spans, or
 * another kind, in one layer; a skip slot that differs from what the residual
 * token gives; a value outside a vocabulary.
 */
export function encodeFile(space: SearchSpace, file: PatternFile, slots: readonly SlotDescriptor[]): number[][] {
  const resolved = explainPatterns(file, slots);
  const groups = tokenGroups(space, slots);
  const sublayerOf = new Map(slots.map((s) => [s.name, s.sublayer]));
  const tokens = groups.map((g) => {
    if (space.name === 'tile') {
      const p = resolved.get(g.name)!.pattern;
      if (p.kind !== 'tile') throw new RangeError(`slot '${g.name}' resolves to ${p.kind}; the tile space needs a tile pattern at every conv slot`);
      const full = encode(space, p);
      return g.tokens.map((k) => full[k]);
    }
    let span: Pattern | null = null;
    const on: string[] = [];
    for (const n of g.slots) {
      const p = resolved.get(n)!.pattern;
      if (p.kind === 'none') continue;
      if (p.kind !== 'span') throw new RangeError(`slot '${n}' resolves to ${p.kind}; the span space holds only span patterns`);
      if (span && effect(span) !== effect(p)) throw new RangeError(`layer '${g.name}' has two different span patterns; the span space has one pattern per layer`);
      span = p;
      on.push(sublayerOf.get(n)!);
    }
    return encode(space, span ? { ...span, sublayers: TRANSFORMER_SUBLAYERS.filter((s) => on.includes(s)) } : { kind: 'none' });
  });
  const again = explainPatterns(decodeFile(space, tokens, slots), slots);
  const absent = new Map(groups.map((g) => [g.name, space.tokens.filter((_, k) => !g.tokens.includes(k)).map((t) => t.name)]));
  for (const s of slots) {
    const want = resolved.get(s.name)!.pattern;
    const got = again.get(s.name)!.pattern;
    const inert = absent.get(s.name) ?? [];
    if (effect(want, inert) !== effect(got, inert)) {
      const src = s.kind === 'skip' ? residualSource(s, slots) : null;
      const why = src ? ` (a skip slot follows the residual token of '${src.name}')` : '';
      throw new RangeError(`slot '${s.name}' resolves to ${showValue(want)}, which the ${space.name} space cannot express${why}`);
    }
  }
  return tokens;
}

function inline(v: unknown): string {
  return Array.isArray(v) ? `[${v.map(inline).join(', ')}]` : JSON.stringify(v);
}

/** The space as written to spaces/<name>.json: 2-space JSON, one token per line, trailing newline. */
export function formatSpace(space: SearchSpace): string {
  const tokens = space.tokens.map(
    (t) => `    { "name": ${JSON.stringify(t.name)}, "doc": ${JSON.stringify(t.doc)}, "values": ${inline(t.values)}${t.requires ? `, "requires": ${JSON.stringify(t.requires)}` : ''} }`,
  );
  return [
    '{',
    `  "format": ${JSON.stringify(space.format)},`,
    `  "name": ${JSON.stringify(space.name)},`,
    `  "description": ${JSON.stringify(space.description)},`,
    `  "tokens": [\n${tokens.join(',\n')}\n  ]`,
    '}',
    '',
  ].join('\n');
}
