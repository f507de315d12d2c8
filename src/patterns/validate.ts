// Validation of pattern files: every problem found, each with the file, the
// JSON path, the bad value and what is allowed. The checks follow the field
// table in schema.ts; the JSON Schema is then run as a backstop (a test keeps
// the two in agreement). Unknown keys are errors everywhere except inside
// `provenance` (free-form metadata), so a typo like `blocksize` never passes
// silently as a default.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { parseSlotAddress } from './address.js';
import {
  PATTERN_FIELDS,
  PATTERN_KINDS,
  PATTERN_SCHEMA,
  PROVENANCE_FIELDS,
  SCHEDULE_FIELDS,
  SCHEDULE_REQUIRED,
  SPACE_KINDS,
  SPACE_NAMES,
  type FieldRule,
} from './schema.js';
import { PATTERN_FORMAT, TRANSFORMER_SUBLAYERS, type Pattern, type PatternFile, type PatternKind } from './types.js';

/** One thing wrong, at a JSON path such as `slots["stage1.block1.bn1"].blockSize`. */
export interface PatternProblem {
  path: string;
  message: string;
}

/**
 * A pattern file (or pattern reference) that cannot be used. `message` is
 * `SOURCE: SUMMARY (n problems):` and one `  - PATH: PROBLEM` line each, or
 * `SOURCE: SUMMARY: PROBLEM` for one problem without a path (summary may be '').
 */
export class PatternError extends Error {
  override readonly name = 'PatternError';
  constructor(
    readonly source: string,
    readonly problems: readonly PatternProblem[],
    summary = 'invalid pattern file',
  ) {
    super(formatProblems(source, problems, summary));
  }
}

function formatProblems(source: string, problems: readonly PatternProblem[], summary: string): string {
  if (problems.length === 1 && problems[0].path === '') return `${source}: ${summary ? `${summary}: ` : ''}${problems[0].message}`;
  const n = problems.length;
  const lines = problems.map((p) => `  - ${p.path ? `${p.path}: ` : ''}${p.message}`);
  return `${source}: ${summary} (${n} problem${n === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

type Segment = string | number;

/** `slots["stage1.block1.bn1"].blockSize`: slot addresses are always bracketed, other keys dotted when they can be. */
export function renderPath(segments: readonly Segment[]): string {
  let out = '';
  segments.forEach((s, i) => {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(s) && !(i === 1 && segments[0] === 'slots')) out += (out ? '.' : '') + s;
    else out += `[${JSON.stringify(s)}]`;
  });
  return out || '(top level)';
}

/** A value as it appears in a message: JSON, shortened. */
export function showValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') return `a ${typeof v}`;
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isPosInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 1;
const quoted = (xs: readonly string[]): string => xs.map((x) => JSON.stringify(x)).join(', ');

/** ` (did you mean "x"?)` for the closest allowed word (edit distance <= 2, or equal ignoring case, - and _), else ''. */
export function didYouMean(word: string, allowed: readonly string[]): string {
  const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  let best = '';
  let bestD = 3;
  for (const a of allowed) {
    const d = norm(a) === norm(word) ? 0 : editDistance(word, a);
    if (d < bestD) {
      best = a;
      bestD = d;
    }
  }
  return best ? ` (did you mean ${JSON.stringify(best)}?)` : '';
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length];
}

/** What a field rule allows, in words. */
export function ruleExpectation(rule: FieldRule): string {
  switch (rule.type) {
    case 'rate':
      return 'a number in [0, 1)';
    case 'positiveFraction':
      return 'a number in (0, 1]';
    case 'posInt':
      return 'an integer >= 1';
    case 'pair':
      return 'a pair [h, w] of integers >= 1';
    case 'pairOrAll':
      return 'a pair [h, w] of integers >= 1, or "all"';
    case 'posIntOrAll':
      return 'an integer >= 1, or "all"';
    case 'range':
      return `a number in [${rule.min}, ${rule.max}]`;
    case 'boolean':
      return 'true or false';
    case 'enum':
      return `one of ${quoted(rule.values)}`;
    case 'sublayers':
      return `a non-empty list of distinct sublayers from ${quoted(TRANSFORMER_SUBLAYERS)}`;
  }
}

const isPair = (v: unknown): boolean => Array.isArray(v) && v.length === 2 && v.every(isPosInt);

function ruleAccepts(rule: FieldRule, v: unknown): boolean {
  switch (rule.type) {
    case 'rate':
      return isNumber(v) && v >= 0 && v < 1;
    case 'positiveFraction':
      return isNumber(v) && v > 0 && v <= 1;
    case 'posInt':
      return isPosInt(v);
    case 'pair':
      return isPair(v);
    case 'pairOrAll':
      return v === 'all' || isPair(v);
    case 'posIntOrAll':
      return v === 'all' || isPosInt(v);
    case 'range':
      return isNumber(v) && v >= rule.min && v <= rule.max;
    case 'boolean':
      return typeof v === 'boolean';
    case 'enum':
      return typeof v === 'string' && rule.values.includes(v);
    case 'sublayers':
      return Array.isArray(v) && v.length > 0;
  }
}

class Collector {
  readonly problems: PatternProblem[] = [];
  add(path: readonly Segment[], message: string): void {
    this.problems.push({ path: renderPath(path), message });
  }
  bad(path: readonly Segment[], value: unknown, expected: string): void {
    this.add(path, `${value === undefined ? 'missing' : `got ${showValue(value)}`}; expected ${expected}`);
  }
  /** Reports keys outside `allowed`. */
  keys(obj: Record<string, unknown>, allowed: readonly string[], path: readonly Segment[]): void {
    for (const k of Object.keys(obj)) {
      if (!allowed.includes(k)) this.add([...path, k], `unknown key; allowed keys: ${allowed.join(', ')}${didYouMean(k, allowed)}`);
    }
  }
  field(obj: Record<string, unknown>, name: string, rule: FieldRule, path: readonly Segment[], required: boolean): void {
    const p = [...path, name];
    // An optional field set to undefined (possible only from code, never from JSON) counts as absent.
    if (!Object.hasOwn(obj, name) || (!required && obj[name] === undefined)) {
      if (required) this.bad(p, undefined, ruleExpectation(rule));
      return;
    }
    const v = obj[name];
    if (rule.type === 'enum' && typeof v === 'string' && !rule.values.includes(v)) {
      this.add(p, `got ${showValue(v)}; expected ${ruleExpectation(rule)}${didYouMean(v, rule.values)}`);
    } else if (!ruleAccepts(rule, v)) this.bad(p, v, ruleExpectation(rule));
    else if (rule.type === 'sublayers') this.sublayers(v as unknown[], p);
  }
  sublayers(list: unknown[], path: readonly Segment[]): void {
    const seen = new Set<unknown>();
    list.forEach((s, i) => {
      if (typeof s !== 'string' || !(TRANSFORMER_SUBLAYERS as readonly string[]).includes(s)) {
        const hint = typeof s === 'string' ? didYouMean(s, TRANSFORMER_SUBLAYERS) : '';
        this.add([...path, i], `got ${showValue(s)}; expected one of ${quoted(TRANSFORMER_SUBLAYERS)}${hint}`);
      } else if (seen.has(s)) this.add([...path, i], `got ${showValue(s)} a second time; expected distinct sublayers`);
      seen.add(s);
    });
  }
  /** A pattern object; `kinds` narrows the allowed kinds (a file's `space`). */
  pattern(v: unknown, path: readonly Segment[], kinds?: { space: string; allowed: readonly PatternKind[] }): void {
    if (!isObject(v)) {
      this.bad(path, v, `a pattern object such as {"kind": "none"}`);
      return;
    }
    const kind = v.kind;
    const kp = [...path, 'kind'];
    if (typeof kind !== 'string' || !(PATTERN_KINDS as string[]).includes(kind)) {
      const hint = typeof kind === 'string' ? didYouMean(kind, PATTERN_KINDS) : '';
      this.add(kp, `${kind === undefined ? 'missing' : `got ${showValue(kind)}`}; expected one of ${quoted(PATTERN_KINDS)}${hint}`);
      return;
    }
    if (kinds && !kinds.allowed.includes(kind as PatternKind)) {
      this.add(kp, `got ${showValue(kind)}; expected ${quoted(kinds.allowed).replace(/, (?=[^,]*$)/, ' or ')} in a file with "space": ${JSON.stringify(kinds.space)}`);
    }
    const fields = PATTERN_FIELDS[kind as PatternKind];
    this.keys(v, ['kind', ...fields.map(([n]) => n)], path);
    const before = this.problems.length;
    for (const [name, rule] of fields) this.field(v, name, rule, path, true);
    if (this.problems.length === before) this.coverage(v as unknown as Pattern, path);
  }
  /**
   * A periodic tile or span whose rectangle fills its period on every axis
   * drops every position at every map size: its mask is all zeros, which the
   * all-zero guard would turn into no dropout at all. Rejected rather than run
   * as a silent identity. (Finite repeats of merged tiles can cover a small map
   * whole; such an example passes unmasked, docs/patterns.md "the all-zero
   * guard".) The JSON Schema cannot compare two fields; this is the validator's.
   */
  coverage(p: Pattern, path: readonly Segment[]): void {
    if (p.kind === 'tile' && p.repeat === 'all' && p.size[0] >= p.stride[0] && p.size[1] >= p.stride[1]) {
      this.add(
        [...path, 'size'],
        `got ${showValue(p.size)} with stride ${showValue(p.stride)} and repeat "all": every position is dropped; expected size[0] < stride[0] or size[1] < stride[1]`,
      );
    }
    if (p.kind === 'span' && p.repeat === 'all' && p.size >= p.stride) {
      this.add([...path, 'size'], `got ${p.size} with stride ${p.stride} and repeat "all": every token is dropped; expected size < stride`);
    }
  }
  /** Any JSON value (finite numbers, no undefined): for free-form provenance entries. */
  json(v: unknown, path: readonly Segment[]): void {
    if (v === null || typeof v === 'string' || typeof v === 'boolean' || isNumber(v)) return;
    if (Array.isArray(v)) v.forEach((x, i) => this.json(x, [...path, i]));
    else if (isObject(v) && Object.getPrototypeOf(v) === Object.prototype) for (const [k, x] of Object.entries(v)) this.json(x, [...path, k]);
    else if (!(isObject(v) && Object.getPrototypeOf(v) === null)) this.bad(path, v, 'a JSON value (finite numbers, no undefined)');
  }
}

/** Validates one pattern (e.g. from a CLI flag); throws PatternError listing every problem. */
export function validatePattern(json: unknown, source: string): Pattern {
  const c = new Collector();
  c.pattern(json, []);
  if (c.problems.length) throw new PatternError(source, c.problems, 'invalid pattern');
  return json as Pattern;
}

/**
 * Checks that `json` is a valid `autodropout/pattern@1` file and returns it
 * typed (the same object). Throws PatternError naming `source` and listing
 * every problem found.
 */
export function validatePatternFile(json: unknown, source: string): PatternFile {
  const c = new Collector();
  if (!isObject(json)) {
    c.bad([], json, `a JSON object with "format": ${JSON.stringify(PATTERN_FORMAT)} and "slots"`);
    throw new PatternError(source, c.problems);
  }
  c.keys(json, ['format', 'space', 'slots', 'schedule', 'provenance'], []);

  const format = json.format;
  if (format !== PATTERN_FORMAT) {
    const other = typeof format === 'string' && format.startsWith('autodropout/pattern@') ? ' (this version reads only that format)' : '';
    c.bad(['format'], format, `${JSON.stringify(PATTERN_FORMAT)}${other}`);
  }

  let spaceKinds: { space: string; allowed: readonly PatternKind[] } | undefined;
  if (Object.hasOwn(json, 'space')) {
    const s = json.space;
    if (typeof s === 'string' && (SPACE_NAMES as readonly string[]).includes(s)) spaceKinds = { space: s, allowed: SPACE_KINDS[s as (typeof SPACE_NAMES)[number]] };
    else c.bad(['space'], s, `one of ${quoted(SPACE_NAMES)}`);
  }

  const slots = json.slots;
  if (!isObject(slots)) c.bad(['slots'], slots, 'an object mapping slot addresses to patterns, e.g. {"*": {"kind": "none"}}');
  else {
    for (const [address, pattern] of Object.entries(slots)) {
      try {
        parseSlotAddress(address);
      } catch (e) {
        c.add(['slots', address], `invalid slot address ${JSON.stringify(address)}; ${(e as Error).message}`);
      }
      c.pattern(pattern, ['slots', address], spaceKinds);
    }
  }

  if (Object.hasOwn(json, 'schedule')) {
    const s = json.schedule;
    const kinds = Object.keys(SCHEDULE_FIELDS);
    if (!isObject(s)) c.bad(['schedule'], s, `a schedule object with "kind" one of ${quoted(kinds)}`);
    else if (typeof s.kind !== 'string' || !kinds.includes(s.kind)) {
      const hint = typeof s.kind === 'string' ? didYouMean(s.kind, kinds) : '';
      c.add(['schedule', 'kind'], `${s.kind === undefined ? 'missing' : `got ${showValue(s.kind)}`}; expected one of ${quoted(kinds)}${hint}`);
    } else {
      const fields = SCHEDULE_FIELDS[s.kind];
      c.keys(s, ['kind', ...fields.map(([n]) => n)], ['schedule']);
      for (const [name, rule] of fields) c.field(s, name, rule, ['schedule'], SCHEDULE_REQUIRED[s.kind].includes(name));
    }
  }

  if (Object.hasOwn(json, 'provenance')) {
    const p = json.provenance;
    if (!isObject(p)) c.bad(['provenance'], p, 'an object (task, model, search, reward, seed, created, or any other key)');
    else {
      const types = new Map<string, string>(PROVENANCE_FIELDS);
      for (const [k, v] of Object.entries(p)) {
        if (v === undefined) continue; // from code only; formatPatternFile drops it
        const t = types.get(k);
        const path = ['provenance', k];
        if (t === 'string' && typeof v !== 'string') c.bad(path, v, 'a string');
        else if (t === 'number' && !isNumber(v)) c.bad(path, v, 'a finite number');
        else if (t === 'integer' && !Number.isSafeInteger(v)) c.bad(path, v, 'an integer');
        else if (!t) c.json(v, path);
      }
    }
  }

  if (c.problems.length) throw new PatternError(source, c.problems);
  const backstop = schemaProblems(json);
  if (backstop.length) throw new PatternError(source, backstop);
  return json as unknown as PatternFile;
}

let compiled: ValidateFunction | null = null;

/** Problems the JSON Schema finds (ajv, all errors); empty when it accepts. */
export function schemaProblems(json: unknown): PatternProblem[] {
  compiled ??= new Ajv({ allErrors: true, strict: true }).compile(PATTERN_SCHEMA);
  if (compiled(json)) return [];
  return (compiled.errors ?? []).filter((e) => e.keyword !== 'if').map((e: ErrorObject) => {
    const segs = e.instancePath
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    const where = e.keyword === 'additionalProperties' ? [...segs, String((e.params as { additionalProperty: string }).additionalProperty)] : segs;
    return { path: renderPath(where), message: `${e.message ?? 'invalid'} (JSON Schema ${e.schemaPath})` };
  });
}
