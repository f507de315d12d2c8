// The pattern file's JSON Schema (draft-07, what ajv's default class reads)
// and the per-kind field table both the schema and the hand-written validator
// (validate.ts) are built from, so the two cannot drift apart. The schema is
// for editors and other tools; validate.ts adds the checks a schema cannot
// express (depth:A-B needs A <= B) and error messages that name the file, the
// path, the value and what is allowed. schemas/pattern-1.schema.json is this
// object written out by scripts/write-pattern-data.mjs (a test compares them).
import { PATTERN_FORMAT, TRANSFORMER_SUBLAYERS, type PatternKind } from './types.js';

/** What one field of a pattern accepts. */
export type FieldRule =
  | { type: 'rate' } // [0, 1)
  | { type: 'positiveFraction' } // (0, 1]
  | { type: 'posInt' } // integer >= 1
  | { type: 'pair' } // [h, w], integers >= 1
  | { type: 'pairOrAll' }
  | { type: 'posIntOrAll' }
  | { type: 'range'; min: number; max: number } // finite number in [min, max]
  | { type: 'boolean' }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'sublayers' }; // non-empty list of distinct TRANSFORMER_SUBLAYERS

/** Rotation of a tile pattern, degrees. */
export const ROTATE_RANGE = { min: -180, max: 180 } as const;
/** Shear factors (tan of the shear angle): beyond ±1 (45°) a tile degenerates into thin slivers. */
export const SHEAR_RANGE = { min: -1, max: 1 } as const;

/**
 * The fields of each pattern kind after `kind`, in canonical order (the order
 * files are written in; the same as in types.ts).
 */
export const PATTERN_FIELDS: { readonly [K in PatternKind]: readonly (readonly [string, FieldRule])[] } = {
  none: [],
  dropout: [['rate', { type: 'rate' }]],
  spatial: [['rate', { type: 'rate' }]],
  dropblock: [
    ['blockSize', { type: 'posInt' }],
    ['keepProb', { type: 'positiveFraction' }],
  ],
  variational: [['rate', { type: 'rate' }]],
  droppath: [['rate', { type: 'rate' }]],
  tile: [
    ['size', { type: 'pair' }],
    ['stride', { type: 'pair' }],
    ['repeat', { type: 'pairOrAll' }],
    ['rotate', { type: 'range', ...ROTATE_RANGE }],
    ['shearX', { type: 'range', ...SHEAR_RANGE }],
    ['shearY', { type: 'range', ...SHEAR_RANGE }],
    ['shareC', { type: 'boolean' }],
    ['residual', { type: 'boolean' }],
  ],
  span: [
    ['size', { type: 'posInt' }],
    ['stride', { type: 'posInt' }],
    ['repeat', { type: 'posIntOrAll' }],
    ['shareC', { type: 'boolean' }],
    ['noise', { type: 'enum', values: ['zero', 'gaussian'] }],
    ['sublayers', { type: 'sublayers' }],
  ],
};

/** Every pattern kind, in the order of PATTERN_FIELDS. */
export const PATTERN_KINDS = Object.keys(PATTERN_FIELDS) as PatternKind[];
/** Values of a file's `space`. */
export const SPACE_NAMES = ['tile', 'span', 'baseline'] as const;
/** Kinds a file tagged with a `space` may hold. */
export const SPACE_KINDS: { readonly [S in (typeof SPACE_NAMES)[number]]: readonly PatternKind[] } = {
  tile: ['tile', 'none'],
  span: ['span', 'none'],
  baseline: ['none', 'dropout', 'spatial', 'dropblock', 'variational', 'droppath'],
};
/** The fields of each schedule kind after `kind`, in canonical order; `applies` is optional. */
export const SCHEDULE_FIELDS: { readonly [kind: string]: readonly (readonly [string, FieldRule])[] } = {
  constant: [],
  'linear-ramp': [
    ['until', { type: 'positiveFraction' }],
    ['applies', { type: 'enum', values: ['strength', 'probability'] }],
  ],
};
/** The schedule fields each kind requires. */
export const SCHEDULE_REQUIRED: { readonly [kind: string]: readonly string[] } = { constant: [], 'linear-ramp': ['until'] };
/** Keys of `provenance` with a fixed type; any other key may hold any JSON value. */
export const PROVENANCE_FIELDS = [
  ['task', 'string'],
  ['model', 'string'],
  ['search', 'string'],
  ['reward', 'number'],
  ['seed', 'integer'],
  ['created', 'string'],
] as const;

const NAME_ADDRESS = String.raw`(?!.*\*\*)[A-Za-z_*][A-Za-z0-9_*-]*(?:\.[A-Za-z0-9_*-]+)*`;
const DEPTH_NUMBER = String.raw`(?:0(?:\.[0-9]+)?|1(?:\.0+)?)`;
const DEPTH_ADDRESS = `depth:(${DEPTH_NUMBER})-(${DEPTH_NUMBER})`;
/** Syntax of a slot address: an exact name, a wildcard (with `*`, never `**`), or depth:A-B. */
export const ADDRESS_PATTERN = `^(?:${DEPTH_ADDRESS}|${NAME_ADDRESS})$`;
/** An exact name or wildcard address (not yet checked for `depth:`). */
export const NAME_ADDRESS_RE = new RegExp(`^${NAME_ADDRESS}$`);
/** `depth:A-B`; groups 1 and 2 are A and B (A <= B is checked by parseSlotAddress). */
export const DEPTH_ADDRESS_RE = new RegExp(`^${DEPTH_ADDRESS}$`);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function ruleSchema(rule: FieldRule): Json {
  switch (rule.type) {
    case 'rate':
      return { type: 'number', minimum: 0, exclusiveMaximum: 1 };
    case 'positiveFraction':
      return { type: 'number', exclusiveMinimum: 0, maximum: 1 };
    case 'posInt':
      return { type: 'integer', minimum: 1 };
    case 'pair':
      return { $ref: '#/definitions/pair' };
    case 'pairOrAll':
      return { anyOf: [{ $ref: '#/definitions/pair' }, { const: 'all' }] };
    case 'posIntOrAll':
      return { anyOf: [{ type: 'integer', minimum: 1 }, { const: 'all' }] };
    case 'range':
      return { type: 'number', minimum: rule.min, maximum: rule.max };
    case 'boolean':
      return { type: 'boolean' };
    case 'enum':
      return { enum: [...rule.values] };
    case 'sublayers':
      return { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...TRANSFORMER_SUBLAYERS] } };
  }
}

function kindSchema(kind: PatternKind): Json {
  const fields = PATTERN_FIELDS[kind];
  const properties: { [key: string]: Json } = { kind: { const: kind } };
  for (const [name, rule] of fields) properties[name] = ruleSchema(rule);
  return { type: 'object', additionalProperties: false, required: ['kind', ...fields.map(([n]) => n)], properties };
}

function kindIs(kind: string): Json {
  return { type: 'object', required: ['kind'], properties: { kind: { const: kind } } };
}

function buildSchema(): { [key: string]: Json } {
  const definitions: { [key: string]: Json } = {
    pair: { type: 'array', minItems: 2, maxItems: 2, items: { type: 'integer', minimum: 1 } },
    pattern: {
      type: 'object',
      required: ['kind'],
      properties: { kind: { enum: PATTERN_KINDS } },
      allOf: PATTERN_KINDS.map((k) => ({ if: kindIs(k), then: { $ref: `#/definitions/${k}` } })),
    },
  };
  for (const k of PATTERN_KINDS) definitions[k] = kindSchema(k);
  const scheduleKinds = Object.keys(SCHEDULE_FIELDS);
  definitions.schedule = {
    type: 'object',
    required: ['kind'],
    properties: { kind: { enum: scheduleKinds } },
    allOf: scheduleKinds.map((k) => {
      const properties: { [key: string]: Json } = { kind: { const: k } };
      for (const [name, rule] of SCHEDULE_FIELDS[k]) properties[name] = ruleSchema(rule);
      return { if: kindIs(k), then: { type: 'object', additionalProperties: false, required: ['kind', ...SCHEDULE_REQUIRED[k]], properties } };
    }),
  };
  const prov: { [key: string]: Json } = {};
  for (const [name, type] of PROVENANCE_FIELDS) prov[name] = { type };
  definitions.provenance = { type: 'object', properties: prov };

  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'urn:autodropout:schema:pattern-1',
    title: `AutoDropout pattern file (${PATTERN_FORMAT})`,
    description:
      'Maps the named dropout slots of a child network to dropout patterns. See docs/patterns.md. ' +
      'Checks beyond this schema (src/patterns/validate.ts): depth:A-B needs A <= B.',
    type: 'object',
    additionalProperties: false,
    required: ['format', 'slots'],
    properties: {
      format: { const: PATTERN_FORMAT },
      space: { enum: [...SPACE_NAMES] },
      slots: {
        type: 'object',
        propertyNames: { pattern: ADDRESS_PATTERN },
        additionalProperties: { $ref: '#/definitions/pattern' },
      },
      schedule: { $ref: '#/definitions/schedule' },
      provenance: { $ref: '#/definitions/provenance' },
    },
    allOf: SPACE_NAMES.map((s) => ({
      if: { type: 'object', required: ['space'], properties: { space: { const: s } } },
      then: {
        type: 'object',
        properties: {
          slots: {
            type: 'object',
            additionalProperties: { type: 'object', properties: { kind: { enum: [...SPACE_KINDS[s]] } } },
          },
        },
      },
    })),
    definitions,
  };
}

/** JSON Schema (draft-07) of `autodropout/pattern@1` files. */
export const PATTERN_SCHEMA: { readonly [key: string]: unknown } = buildSchema();

/** The schema as written to schemas/pattern-1.schema.json: 2-space JSON, trailing newline. */
export function formatPatternSchema(): string {
  return JSON.stringify(PATTERN_SCHEMA, null, 2) + '\n';
}
