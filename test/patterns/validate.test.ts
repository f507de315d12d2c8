import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { PATTERN_SCHEMA, formatPatternSchema } from '../../src/patterns/schema.js';
import { PatternError, schemaProblems, validatePattern, validatePatternFile } from '../../src/patterns/validate.js';

const F = 'autodropout/pattern@1';
const tile = { kind: 'tile', size: [2, 2], stride: [4, 4], repeat: 'all', rotate: 0, shearX: 0, shearY: 0, shareC: true, residual: false };
const span = { kind: 'span', size: 2, stride: 8, repeat: 'all', shareC: true, noise: 'zero', sublayers: ['query'] };
const withSlot = (address: string, pattern: unknown): unknown => ({ format: F, slots: { [address]: pattern } });

interface Case {
  name: string;
  json: unknown;
  path: string;
  value: string;
  allowed: string;
  /** false where only the semantic checks (not the JSON Schema) can see the problem */
  schema?: boolean;
}

const cases: Case[] = [
  {
    name: 'blockSize 0',
    json: withSlot('stage1.block1.bn1', { kind: 'dropblock', blockSize: 0, keepProb: 0.9 }),
    path: 'slots["stage1.block1.bn1"].blockSize',
    value: 'got 0',
    allowed: 'an integer >= 1',
  },
  {
    name: 'fractional blockSize',
    json: withSlot('stage2.*', { kind: 'dropblock', blockSize: 2.5, keepProb: 0.9 }),
    path: 'slots["stage2.*"].blockSize',
    value: 'got 2.5',
    allowed: 'an integer >= 1',
  },
  { name: 'rate 1', json: withSlot('*', { kind: 'dropout', rate: 1 }), path: 'slots["*"].rate', value: 'got 1', allowed: 'a number in [0, 1)' },
  { name: 'negative rate', json: withSlot('*', { kind: 'spatial', rate: -0.1 }), path: 'slots["*"].rate', value: 'got -0.1', allowed: 'a number in [0, 1)' },
  { name: 'rate as a string', json: withSlot('*', { kind: 'variational', rate: '0.1' }), path: 'slots["*"].rate', value: 'got "0.1"', allowed: 'a number in [0, 1)' },
  {
    name: 'keepProb 0',
    json: withSlot('*', { kind: 'dropblock', blockSize: 3, keepProb: 0 }),
    path: 'slots["*"].keepProb',
    value: 'got 0',
    allowed: 'a number in (0, 1]',
  },
  {
    name: 'tile size with a zero',
    json: withSlot('*', { ...tile, size: [0, 3] }),
    path: 'slots["*"].size',
    value: 'got [0,3]',
    allowed: 'a pair [h, w] of integers >= 1',
  },
  { name: 'tile stride of one number', json: withSlot('*', { ...tile, stride: [2] }), path: 'slots["*"].stride', value: 'got [2]', allowed: 'a pair [h, w]' },
  {
    name: 'tile repeat word',
    json: withSlot('*', { ...tile, repeat: 'everything' }),
    path: 'slots["*"].repeat',
    value: 'got "everything"',
    allowed: 'a pair [h, w] of integers >= 1, or "all"',
  },
  { name: 'tile rotate out of range', json: withSlot('*', { ...tile, rotate: 200 }), path: 'slots["*"].rotate', value: 'got 200', allowed: '[-180, 180]' },
  { name: 'tile shear out of range', json: withSlot('*', { ...tile, shearY: 1.5 }), path: 'slots["*"].shearY', value: 'got 1.5', allowed: '[-1, 1]' },
  { name: 'tile shareC not boolean', json: withSlot('*', { ...tile, shareC: 'yes' }), path: 'slots["*"].shareC', value: 'got "yes"', allowed: 'true or false' },
  {
    name: 'span repeat 0',
    json: withSlot('*', { ...span, repeat: 0 }),
    path: 'slots["*"].repeat',
    value: 'got 0',
    allowed: 'an integer >= 1, or "all"',
  },
  {
    name: 'span noise unknown',
    json: withSlot('*', { ...span, noise: 'uniform' }),
    path: 'slots["*"].noise',
    value: 'got "uniform"',
    allowed: '"zero", "gaussian"',
  },
  {
    name: 'span sublayers empty',
    json: withSlot('*', { ...span, sublayers: [] }),
    path: 'slots["*"].sublayers',
    value: 'got []',
    allowed: 'a non-empty list of distinct sublayers from "embedding", "query"',
  },
  {
    name: 'span sublayer unknown',
    json: withSlot('layer0.*', { ...span, sublayers: ['query', 'keys'] }),
    path: 'slots["layer0.*"].sublayers[1]',
    value: 'got "keys"',
    allowed: '"attention-output", "ffn-hidden", "ffn-output" (did you mean "key"?)',
  },
  {
    name: 'span sublayer twice',
    json: withSlot('*', { ...span, sublayers: ['query', 'query'] }),
    path: 'slots["*"].sublayers[1]',
    value: 'got "query" a second time',
    allowed: 'distinct sublayers',
  },
  {
    name: 'empty address segment',
    json: withSlot('stage1..bn1', { kind: 'none' }),
    path: 'slots["stage1..bn1"]',
    value: '"stage1..bn1"',
    allowed: 'depth:A-B with 0 <= A <= B <= 1',
  },
  { name: 'double star', json: withSlot('stage1.**', { kind: 'none' }), path: 'slots["stage1.**"]', value: '"stage1.**"', allowed: 'never **' },
  { name: 'depth above 1', json: withSlot('depth:0-1.5', { kind: 'none' }), path: 'slots["depth:0-1.5"]', value: '"depth:0-1.5"', allowed: '0 <= A <= B <= 1' },
  {
    name: 'reversed depth range',
    json: withSlot('depth:0.8-0.2', { kind: 'none' }),
    path: 'slots["depth:0.8-0.2"]',
    value: 'depth:0.8-0.2',
    allowed: 'depth:A-B with 0 <= A <= B <= 1',
    schema: false,
  },
  {
    name: 'unknown kind with a near miss',
    json: withSlot('*', { kind: 'drop-block', blockSize: 3, keepProb: 0.9 }),
    path: 'slots["*"].kind',
    value: 'got "drop-block"',
    allowed: '"dropblock", "variational", "droppath", "tile", "span" (did you mean "dropblock"?)',
  },
  { name: 'missing kind', json: withSlot('*', { rate: 0.1 }), path: 'slots["*"].kind', value: 'missing', allowed: 'one of "none", "dropout"' },
  {
    name: 'typo in a field name',
    json: withSlot('*', { kind: 'dropblock', blocksize: 3, blockSize: 3, keepProb: 0.9 }),
    path: 'slots["*"].blocksize',
    value: 'unknown key',
    allowed: 'allowed keys: kind, blockSize, keepProb (did you mean "blockSize"?)',
  },
  {
    name: 'typo in a top-level key',
    json: { format: F, slots: {}, schedul: { kind: 'constant' } },
    path: 'schedul',
    value: 'unknown key',
    allowed: 'format, space, slots, schedule, provenance (did you mean "schedule"?)',
  },
  { name: 'wrong format version', json: { format: 'autodropout/pattern@2', slots: {} }, path: 'format', value: 'got "autodropout/pattern@2"', allowed: '"autodropout/pattern@1"' },
  { name: 'missing slots', json: { format: F }, path: 'slots', value: 'missing', allowed: 'an object mapping slot addresses to patterns' },
  {
    name: 'schedule until 0',
    json: { format: F, slots: {}, schedule: { kind: 'linear-ramp', until: 0 } },
    path: 'schedule.until',
    value: 'got 0',
    allowed: 'a number in (0, 1]',
  },
  {
    name: 'schedule until 1.5',
    json: { format: F, slots: {}, schedule: { kind: 'linear-ramp', until: 1.5 } },
    path: 'schedule.until',
    value: 'got 1.5',
    allowed: 'a number in (0, 1]',
  },
  { name: 'ramp without until', json: { format: F, slots: {}, schedule: { kind: 'linear-ramp' } }, path: 'schedule.until', value: 'missing', allowed: '(0, 1]' },
  {
    name: 'schedule applies unknown',
    json: { format: F, slots: {}, schedule: { kind: 'linear-ramp', until: 0.5, applies: 'rate' } },
    path: 'schedule.applies',
    value: 'got "rate"',
    allowed: '"strength", "probability"',
  },
  {
    name: 'constant schedule with until',
    json: { format: F, slots: {}, schedule: { kind: 'constant', until: 0.5 } },
    path: 'schedule.until',
    value: 'unknown key',
    allowed: 'allowed keys: kind',
  },
  {
    name: 'kind outside the file space',
    json: { format: F, space: 'tile', slots: { '*': { kind: 'dropout', rate: 0.1 } } },
    path: 'slots["*"].kind',
    value: 'got "dropout"',
    allowed: '"tile" or "none" in a file with "space": "tile"',
  },
  { name: 'unknown space', json: { format: F, space: 'conv', slots: {} }, path: 'space', value: 'got "conv"', allowed: '"tile", "span", "baseline"' },
  {
    name: 'provenance reward not a number',
    json: { format: F, slots: {}, provenance: { reward: 'high' } },
    path: 'provenance.reward',
    value: 'got "high"',
    allowed: 'a finite number',
  },
  { name: 'provenance seed fractional', json: { format: F, slots: {}, provenance: { seed: 1.5 } }, path: 'provenance.seed', value: 'got 1.5', allowed: 'an integer' },
  { name: 'top level an array', json: [], path: '(top level)', value: 'got []', allowed: '"format": "autodropout/pattern@1"' },
  { name: 'pattern not an object', json: withSlot('*', 'none'), path: 'slots["*"]', value: 'got "none"', allowed: 'a pattern object' },
];

for (const c of cases) {
  test(`rejects ${c.name}, naming path, value and what is allowed`, () => {
    let err: unknown;
    try {
      validatePatternFile(c.json, 'patterns/bad.json');
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof PatternError, `expected a PatternError for ${c.name}`);
    const line = err.message.split('\n').find((l) => l.includes(`${c.path}: `) || l.startsWith(`patterns/bad.json: `));
    assert.ok(err.message.startsWith('patterns/bad.json: invalid pattern file'), err.message);
    assert.ok(line, `no line for ${c.path} in:\n${err.message}`);
    const problem = err.problems.find((p) => p.path === c.path);
    assert.ok(problem, `no problem at ${c.path}: ${JSON.stringify(err.problems)}`);
    assert.ok(problem.message.includes(c.value), `value '${c.value}' missing from: ${problem.message}`);
    assert.ok(problem.message.includes(c.allowed), `allowed '${c.allowed}' missing from: ${problem.message}`);
    assert.ok(err.message.includes(`${c.path}: ${problem.message}`));
    // The JSON Schema rejects the same files (except the checks it cannot express).
    assert.equal(schemaProblems(c.json).length > 0, c.schema ?? true, `schema verdict for ${c.name}`);
  });
}

test('every problem in a file is listed, not just the first', () => {
  const json = {
    format: F,
    slots: {
      'stage1.block1.bn1': { kind: 'dropblock', blockSize: 0, keepProb: 1.5 },
      'bad address!': { kind: 'none' },
    },
    schedule: { kind: 'linear-ramp', until: 2 },
    extra: 1,
  };
  assert.throws(
    () => validatePatternFile(json, 'x.json'),
    (e: unknown) => {
      assert.ok(e instanceof PatternError);
      assert.equal(e.source, 'x.json');
      assert.deepEqual(e.problems.map((p) => p.path).sort(), ['extra', 'schedule.until', 'slots["bad address!"]', 'slots["stage1.block1.bn1"].blockSize', 'slots["stage1.block1.bn1"].keepProb'].sort());
      assert.match(e.message, /^x\.json: invalid pattern file \(5 problems\):\n {2}- /);
      return true;
    },
  );
});

test('valid files pass both the validator and the JSON Schema', () => {
  const valid: unknown[] = [
    { format: F, slots: {} },
    { format: F, slots: { '*': { kind: 'none' } } },
    {
      format: F,
      space: 'tile',
      slots: { 'stage1.block1.bn1': tile, 'stage*.block1.bn2': { ...tile, repeat: [2, 3], rotate: -45, shearX: -1, residual: true }, '*': { kind: 'none' } },
      schedule: { kind: 'linear-ramp', until: 0.3, applies: 'probability' },
      provenance: { task: 'fashion-mnist', model: 'wrn-10-2', search: 's1', reward: 0.93, seed: 7, created: '2024-01-01T00:00:00Z', notes: { a: [1, null] } },
    },
    {
      format: F,
      space: 'span',
      slots: { 'depth:0-0.5': { ...span, repeat: 3, noise: 'gaussian', sublayers: ['embedding', 'ffn-hidden'] }, 'depth:1-1': { kind: 'none' }, 'layer_2.*': span },
      schedule: { kind: 'constant' },
    },
    { format: F, space: 'baseline', slots: { '*.skip': { kind: 'droppath', rate: 0 }, 'final.bn': { kind: 'dropblock', blockSize: 1, keepProb: 1 } } },
  ];
  for (const v of valid) {
    assert.equal(validatePatternFile(v, 'ok.json'), v);
    assert.deepEqual(schemaProblems(v), []);
  }
});

test('validatePattern checks one pattern', () => {
  assert.deepEqual(validatePattern({ kind: 'dropout', rate: 0.2 }, '--pattern'), { kind: 'dropout', rate: 0.2 });
  assert.throws(() => validatePattern({ kind: 'dropout', rate: 2 }, '--pattern'), /^PatternError: --pattern: invalid pattern \(1 problem\):\n {2}- rate: got 2; expected a number in \[0, 1\)/);
});

test('schemas/pattern-1.schema.json is the exported schema', () => {
  const text = readFileSync(join(repoRoot, 'schemas', 'pattern-1.schema.json'), 'utf8');
  assert.equal(text, formatPatternSchema(), 'stale schema file: run `npx tsc -p tsconfig.json && node scripts/write-pattern-data.mjs`');
  assert.deepEqual(JSON.parse(text), PATTERN_SCHEMA);
});

test('a periodic tile or span that fills its period (drops everything) is rejected, not run as the identity', () => {
  const tile = { kind: 'tile', size: [4, 6], stride: [4, 6], repeat: 'all', rotate: 30, shearX: 0, shearY: 0, shareC: true, residual: false };
  assert.throws(
    () => validatePattern(tile, 'x.json'),
    (e: unknown) =>
      e instanceof PatternError &&
      e.message.includes('size: got [4,6] with stride [4,6] and repeat "all": every position is dropped; expected size[0] < stride[0] or size[1] < stride[1]'),
  );
  // One axis with a gap is enough (stripes), and finite repeats of merged tiles are allowed (the all-zero guard covers a small map).
  validatePattern({ ...tile, size: [3, 8] }, 'x.json');
  validatePattern({ ...tile, repeat: [2, 2] }, 'x.json');
  const span = { kind: 'span', size: 8, stride: 8, repeat: 'all', shareC: true, noise: 'zero', sublayers: ['query'] };
  assert.throws(() => validatePattern(span, 'x.json'), /size: got 8 with stride 8 and repeat "all": every token is dropped; expected size < stride/);
  validatePattern({ ...span, size: 7 }, 'x.json');
  // The JSON Schema cannot compare two fields: this is the validator's rule alone.
  assert.deepEqual(schemaProblems({ format: 'autodropout/pattern@1', slots: { '*': tile } }), []);
});
