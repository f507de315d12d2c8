import { test } from 'node:test';
import assert from 'node:assert/strict';
import { explainPatterns, resolvePatterns } from '../../src/patterns/resolve.js';
import type { Pattern, PatternFile, TilePattern } from '../../src/patterns/types.js';
import { PatternError } from '../../src/patterns/validate.js';
import { slotsAtDepths, tlmSlots, wrnSlots } from './fixtures.js';

const file = (slots: Record<string, Pattern>): PatternFile => ({ format: 'autodropout/pattern@1', slots });
const d = (rate: number): Pattern => ({ kind: 'dropout', rate });
const tile = (residual: boolean, rotate = 0): TilePattern => ({
  kind: 'tile',
  size: [2, 2],
  stride: [4, 4],
  repeat: 'all',
  rotate,
  shearX: 0,
  shearY: 0,
  shareC: true,
  residual,
});
const rates = (m: Map<string, Pattern>): Record<string, number | string> =>
  Object.fromEntries([...m].map(([k, p]) => [k, p.kind === 'dropout' ? p.rate : p.kind]));

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PatternError, String(e));
    return e.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('expected a PatternError');
}

test('every slot gets a pattern; nothing matched means none', () => {
  const m = resolvePatterns(file({}), wrnSlots(10));
  assert.equal(m.size, 10);
  for (const p of m.values()) assert.deepEqual(p, { kind: 'none' });
});

test('precedence: exact > depth range > specific wildcard > *', () => {
  const slots = wrnSlots(10); // depths k/9
  const m = resolvePatterns(
    file({ '*': d(0.1), 'stage2.*': d(0.2), 'depth:0.6-1': d(0.3), 'stage2.block1.bn2': d(0.4) }),
    slots,
  );
  assert.deepEqual(rates(m), {
    'stage1.block1.bn1': 0.1,
    'stage1.block1.bn2': 0.1,
    'stage1.block1.skip': 'none', // skip paths only by name or *.skip
    'stage2.block1.bn1': 0.2, // depth 3/9 < 0.6: the wildcard decides
    'stage2.block1.bn2': 0.4, // exact beats everything
    'stage2.block1.skip': 'none',
    'stage3.block1.bn1': 0.3, // depth 6/9: depth range beats *
    'stage3.block1.bn2': 0.3,
    'stage3.block1.skip': 'none',
    'final.bn': 0.3,
  });
  // The order of the keys in the file does not matter.
  const reversed = resolvePatterns(file({ 'stage2.block1.bn2': d(0.4), 'depth:0.6-1': d(0.3), 'stage2.*': d(0.2), '*': d(0.1) }), slots);
  assert.deepEqual(rates(reversed), rates(m));
});

test('a depth range beats a wildcard even when the wildcard is more literal', () => {
  const m = resolvePatterns(file({ 'stage3.block1.bn1': d(0.1), 'stage3.*': d(0.2), 'depth:0.7-1': d(0.3) }), wrnSlots(10));
  assert.deepEqual(rates(m)['stage3.block1.bn2'], 0.3);
  assert.deepEqual(rates(m)['stage3.block1.bn1'], 0.1);
});

test('wildcards: fewer * first, then more literal characters; * spans dots', () => {
  const slots = wrnSlots(16); // 2 blocks per stage
  const m = resolvePatterns(
    file({ '*.bn2': d(0.1), 'stage1.*': d(0.2), 'stage*.block2.bn2': d(0.3), '*.*.bn1': d(0.4), '*': d(0.5) }),
    slots,
  );
  const r = rates(m);
  assert.equal(r['stage1.block1.bn2'], 0.2); // 'stage1.' (7 literal) beats '.bn2' (4)
  assert.equal(r['stage2.block1.bn2'], 0.1);
  assert.equal(r['stage3.block2.bn2'], 0.3); // 1 star, 15 literal
  assert.equal(r['stage1.block2.bn1'], 0.2); // 1 star beats 2 stars
  assert.equal(r['stage2.block1.bn1'], 0.4); // 2 stars still beat the bare *
  assert.equal(r['final.bn'], 0.5);
  // A prefix wildcard needs its dot: `stage1.*` is not `stage1*`.
  const m2 = resolvePatterns(file({ 'layer1.*': d(0.1) }), tlmSlots(12), { unmatched: 'error' });
  assert.equal(rates(m2)['layer10.query'], 'none');
  assert.equal(rates(m2)['layer1.query'], 0.1);
});

test('equal precedence is an error naming both addresses and the slots', () => {
  const problems = problemsOf(() => resolvePatterns(file({ 'stage1.*': d(0.1), '*ck1.bn2': d(0.2) }), wrnSlots(10)));
  assert.equal(problems.length, 1);
  assert.match(problems[0], /^slots\["(stage1\.\*|\*ck1\.bn2)"\]: ties with slots\["(stage1\.\*|\*ck1\.bn2)"\] \(equal precedence\) at slot stage1\.block1\.bn2;/);
  assert.ok(problems[0].includes('stage1.*') && problems[0].includes('*ck1.bn2'));
  // Overlapping depth ranges of equal width tie; a narrower one wins.
  const slots = slotsAtDepths([0, 0.25, 0.5, 0.75, 1]);
  const ties = problemsOf(() => resolvePatterns(file({ 'depth:0-0.5': d(0.1), 'depth:0.25-0.75': d(0.2) }), slots));
  assert.equal(ties.length, 1);
  assert.match(ties[0], /ties with .* at slot s1;/);
  const m = resolvePatterns(file({ 'depth:0-0.5': d(0.1), 'depth:0.2-0.3': d(0.2) }), slots);
  assert.deepEqual(rates(m), { s0: 0.1, s1: 0.2, s2: 'none', s3: 'none', s4: 'none' });
  // Widths are compared after rounding: 0.3 - 0.1 (0.19999999999999998 in floats) equals 0.4 - 0.2.
  const s = slotsAtDepths([0.2]);
  assert.equal(problemsOf(() => resolvePatterns(file({ 'depth:0.1-0.3': d(0.1), 'depth:0.2-0.4': d(0.2) }), s)).length, 1);
});

test('depth ranges are half-open, closed at 1; A = B is a single depth', () => {
  const slots = slotsAtDepths([0, 0.25, 0.5, 0.75, 1]);
  const m = resolvePatterns(file({ 'depth:0-0.5': d(0.1), 'depth:0.5-1': d(0.2) }), slots);
  assert.deepEqual(rates(m), { s0: 0.1, s1: 0.1, s2: 0.2, s3: 0.2, s4: 0.2 });
  const point = resolvePatterns(file({ 'depth:0.5-0.5': d(0.3), 'depth:1-1': d(0.4), 'depth:0-1': d(0.05) }), slots);
  assert.deepEqual(rates(point), { s0: 0.05, s1: 0.05, s2: 0.3, s3: 0.05, s4: 0.4 });
});

test('skip paths are reached only by their name or a wildcard ending in .skip', () => {
  const slots = wrnSlots(10);
  const m = resolvePatterns(file({ '*': d(0.1), 'stage1.*': d(0.2), 'depth:0-1': d(0.3), 'stage3.*.skip': d(0.4), 'stage2.block1.skip': d(0.5) }), slots);
  const r = rates(m);
  assert.equal(r['stage1.block1.skip'], 'none');
  assert.equal(r['stage2.block1.skip'], 0.5);
  assert.equal(r['stage3.block1.skip'], 0.4);
  const all = rates(resolvePatterns(file({ '*.skip': { kind: 'dropblock', blockSize: 3, keepProb: 0.9 } }), slots));
  assert.deepEqual(
    Object.entries(all).filter(([, v]) => v !== 'none').map(([k]) => k),
    ['stage1.block1.skip', 'stage2.block1.skip', 'stage3.block1.skip'],
  );
});

test("residual inheritance: a skip with no address takes its block's bn2 tile when residual is true", () => {
  const slots = wrnSlots(10);
  const withRes = tile(true, 30);
  const m = explainPatterns(file({ 'stage1.*': tile(false), 'stage2.*': withRes, 'stage3.block1.bn1': tile(true), 'stage3.block1.bn2': tile(false), 'stage3.block1.skip': d(0.1) }), slots);
  assert.deepEqual(m.get('stage1.block1.skip'), { pattern: { kind: 'none' }, address: null, inheritedFrom: null });
  assert.deepEqual(m.get('stage2.block1.skip'), { pattern: withRes, address: null, inheritedFrom: 'stage2.block1.bn2' });
  assert.deepEqual(m.get('stage3.block1.skip'), { pattern: d(0.1), address: 'stage3.block1.skip', inheritedFrom: null }); // explicit wins
  // bn1's residual token has no effect.
  const only1 = resolvePatterns(file({ 'stage1.block1.bn1': tile(true), 'stage1.block1.bn2': tile(false) }), slots);
  assert.deepEqual(only1.get('stage1.block1.skip'), { kind: 'none' });
  // An explicit none on the skip switches inheritance off.
  const off = resolvePatterns(file({ '*': tile(true), '*.skip': { kind: 'none' } }), slots);
  assert.deepEqual(off.get('stage2.block1.skip'), { kind: 'none' });
  assert.equal(off.get('stage2.block1.bn2')?.kind, 'tile');
});

test('span patterns apply only to their sublayers; other slots fall through to the next address', () => {
  const slots = tlmSlots(2);
  const onQuery: Pattern = { kind: 'span', size: 2, stride: 8, repeat: 'all', shareC: true, noise: 'zero', sublayers: ['query', 'embedding'] };
  const onKey: Pattern = { kind: 'span', size: 4, stride: 16, repeat: 1, shareC: false, noise: 'gaussian', sublayers: ['key'] };
  const m = explainPatterns(file({ '*': onQuery, 'layer0.*': onKey, 'layer1.value': onKey }), slots);
  assert.equal(m.get('embedding')?.pattern, onQuery);
  assert.equal(m.get('layer0.query')?.address, '*'); // fell through layer0.*
  assert.equal(m.get('layer0.key')?.pattern, onKey);
  assert.deepEqual(m.get('layer0.value'), { pattern: { kind: 'none' }, address: null, inheritedFrom: null });
  assert.deepEqual(m.get('layer1.value')?.pattern, { kind: 'none' }); // an exact address can fall through too
  assert.equal(m.get('layer1.query')?.pattern, onQuery);
  // A span that falls through does not tie with an address of equal precedence.
  const mixed = rates(resolvePatterns(file({ 'layer0.*': onKey, '*0.query': d(0.2) }), slots));
  assert.equal(mixed['layer0.query'], 0.2);
  assert.equal(mixed['layer0.key'], 'span');
});

test('kind compatibility: a pattern reaching a slot it cannot act on is an error listing the slots', () => {
  const tileOnLm = problemsOf(() => resolvePatterns(file({ '*': tile(false) }), tlmSlots(2)));
  assert.deepEqual(tileOnLm, ['slots["*"]: tile cannot act on sequence slots (embedding, layer0.query, layer0.key and 10 more); tile acts on conv and skip slots']);
  const varOnConv = problemsOf(() => resolvePatterns(file({ 'stage2.*': { kind: 'variational', rate: 0.1 }, '*.skip': { kind: 'span', size: 1, stride: 2, repeat: 1, shareC: true, noise: 'zero', sublayers: ['query'] } }), wrnSlots(10)));
  assert.deepEqual(varOnConv, [
    'slots["stage2.*"]: variational cannot act on conv slots (stage2.block1.bn1, stage2.block1.bn2); variational acts on sequence slots',
    'slots["*.skip"]: span cannot act on skip slots (stage1.block1.skip, stage2.block1.skip, stage3.block1.skip); span acts on sequence slots',
  ]);
  const spatialOnLm = problemsOf(() => resolvePatterns(file({ 'layer0.*': { kind: 'spatial', rate: 0.1 } }), tlmSlots(1)));
  assert.match(spatialOnLm[0], /spatial cannot act on sequence slots/);
  // Allowed combinations.
  resolvePatterns(file({ '*': d(0.1), '*.skip': { kind: 'droppath', rate: 0.1 }, 'final.bn': { kind: 'spatial', rate: 0.1 } }), wrnSlots(10));
  resolvePatterns(file({ '*': { kind: 'variational', rate: 0.1 }, 'layer0.*': { kind: 'droppath', rate: 0.1 } }), tlmSlots(2));
});

test('an exact address naming no slot is an error (typo guard) unless unmatched is ignore', () => {
  const f = file({ 'stage1.block1.bn3': d(0.1), 'stage9.*': d(0.2) });
  const problems = problemsOf(() => resolvePatterns(f, wrnSlots(10), { source: 'found.json' }));
  assert.equal(problems.length, 1);
  assert.match(problems[0], /^slots\["stage1\.block1\.bn3"\]: names no slot of this model \(did you mean "stage1\.block1\.bn1"\?\); its slots: stage1\.block1\.bn1, .* and 4 more \(resolve with unmatched: 'ignore'/);
  assert.throws(() => resolvePatterns(f, wrnSlots(10), { source: 'found.json' }), /^PatternError: found\.json: cannot apply the patterns to this model \(1 problem\)/);
  assert.deepEqual(rates(resolvePatterns(f, wrnSlots(10), { unmatched: 'ignore' }))['stage1.block1.bn1'], 'none');
});

test('all problems are reported together; invalid files and slot lists are rejected', () => {
  const problems = problemsOf(() => resolvePatterns(file({ 'stage1.*': d(0.1), '*ck1.bn2': d(0.2), '*': { kind: 'variational', rate: 0.1 }, nope: d(0.1) }), wrnSlots(10)));
  assert.equal(problems.length, 3);
  assert.throws(() => resolvePatterns(file({ '*': d(2) }), wrnSlots(10)), /slots\["\*"\]\.rate: got 2/);
  assert.throws(() => resolvePatterns(file({}), [...wrnSlots(10), wrnSlots(10)[0]]), /duplicate slot name 'stage1.block1.bn1'/);
  assert.throws(() => resolvePatterns(file({}), [{ name: 'x', kind: 'conv', depth: 2, channels: 1 }]), /depth must be in \[0, 1\]/);
});
