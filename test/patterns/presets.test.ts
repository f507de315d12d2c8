import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';
import { savePatternFile } from '../../src/patterns/io.js';
import { getPreset, loadPatternRef, parsePatternRef, presetDescription, presetNames } from '../../src/patterns/presets.js';
import { resolvePatterns } from '../../src/patterns/resolve.js';
import type { Pattern } from '../../src/patterns/types.js';
import { PatternError, schemaProblems, validatePatternFile } from '../../src/patterns/validate.js';
import { tlmSlots, wrnSlots } from './fixtures.js';

const kinds = (m: Map<string, Pattern>): Record<string, string> => Object.fromEntries([...m].map(([k, p]) => [k, p.kind]));

test('the preset list', () => {
  assert.deepEqual(presetNames(), ['none', 'dropout', 'spatial', 'dropblock', 'variational', 'droppath', 'tile-example', 'span-example']);
  for (const n of presetNames()) assert.ok(presetDescription(n).length > 10);
});

test('every preset passes the validator and the JSON Schema', () => {
  for (const n of presetNames()) {
    const f = getPreset(n);
    validatePatternFile(f, `preset:${n}`);
    assert.deepEqual(schemaProblems(f), [], n);
  }
});

test('getPreset returns a fresh copy; unknown names list the valid ones', () => {
  const a = getPreset('dropout');
  (a.slots['*'] as { rate: number }).rate = 0.9;
  assert.deepEqual(getPreset('dropout').slots['*'], { kind: 'dropout', rate: 0.1 });
  assert.throws(
    () => getPreset('dropbloc'),
    (e: unknown) => e instanceof PatternError && e.message === 'preset:dropbloc: unknown preset; valid: none, dropout, spatial, dropblock, variational, droppath, tile-example, span-example',
  );
  assert.throws(() => getPreset('toString'), PatternError);
});

test('parsePatternRef: preset:NAME or a path', () => {
  assert.deepEqual(parsePatternRef('preset:dropblock'), { kind: 'preset', name: 'dropblock' });
  assert.deepEqual(parsePatternRef('runs/a/pattern.json'), { kind: 'file', path: 'runs/a/pattern.json' });
  assert.deepEqual(parsePatternRef('./preset:x.json'), { kind: 'file', path: './preset:x.json' });
  assert.throws(() => parsePatternRef('preset:nope'), /^PatternError: preset:nope: unknown preset; valid: none, dropout/);
  assert.throws(() => parsePatternRef(''), /empty; expected preset:NAME or a file path/);
  const dir = tempDir();
  const path = join(dir, 'p.json');
  savePatternFile(path, getPreset('spatial'));
  assert.deepEqual(loadPatternRef(path), getPreset('spatial'));
  assert.deepEqual(loadPatternRef('preset:none'), getPreset('none'));
});

test('baselines resolve on their model families as documented', () => {
  const wrn = wrnSlots(16);
  const lm = tlmSlots(2);
  const drop = kinds(resolvePatterns(getPreset('dropout'), wrn));
  assert.equal(drop['stage1.block1.bn1'], 'dropout');
  assert.equal(drop['final.bn'], 'dropout');
  assert.equal(drop['stage1.block1.skip'], 'none');
  assert.ok(Object.values(kinds(resolvePatterns(getPreset('dropout'), lm))).every((k) => k === 'dropout'));
  assert.equal(kinds(resolvePatterns(getPreset('spatial'), wrn))['stage3.block2.bn2'], 'spatial');
  assert.ok(Object.values(kinds(resolvePatterns(getPreset('variational'), lm))).every((k) => k === 'variational'));
  assert.ok(Object.values(kinds(resolvePatterns(getPreset('none'), wrn))).every((k) => k === 'none'));

  const db = resolvePatterns(getPreset('dropblock'), wrn);
  const on = [...db].filter(([, p]) => p.kind === 'dropblock').map(([n]) => n);
  assert.deepEqual(on, wrn.filter((s) => /^stage[23]\./.test(s.name)).map((s) => s.name)); // bn1, bn2 and skip of stages 2-3
  assert.deepEqual(db.get('stage2.block1.skip'), { kind: 'dropblock', blockSize: 3, keepProb: 0.9 });
  assert.equal(db.get('final.bn')?.kind, 'none');
  assert.deepEqual(getPreset('dropblock').schedule, { kind: 'linear-ramp', until: 1 });

  const dp = kinds(resolvePatterns(getPreset('droppath'), wrn));
  assert.deepEqual(Object.keys(dp).filter((k) => dp[k] === 'droppath'), wrn.filter((s) => s.name.endsWith('.bn2')).map((s) => s.name));
  const dpl = kinds(resolvePatterns(getPreset('droppath'), lm));
  assert.deepEqual(Object.keys(dpl).filter((k) => dpl[k] === 'droppath'), ['layer0.attention-output', 'layer0.ffn-output', 'layer1.attention-output', 'layer1.ffn-output']);
});

test('examples resolve on their family and fail clearly on the other', () => {
  const wrn = wrnSlots(10);
  const lm = tlmSlots(2);
  const tile = resolvePatterns(getPreset('tile-example'), wrn);
  assert.ok([...tile].every(([n, p]) => p.kind === 'tile' || (n === 'stage1.block1.skip' && p.kind === 'none')));
  const span = kinds(resolvePatterns(getPreset('span-example'), lm));
  assert.deepEqual(Object.keys(span).filter((k) => span[k] === 'span'), ['embedding', 'layer0.attention-output', 'layer0.ffn-output', 'layer1.attention-output', 'layer1.ffn-output']);
  assert.throws(() => resolvePatterns(getPreset('tile-example'), lm), /tile cannot act on sequence slots/);
  assert.throws(() => resolvePatterns(getPreset('span-example'), wrn), /span cannot act on conv slots/);
  assert.throws(() => resolvePatterns(getPreset('spatial'), lm), /spatial cannot act on sequence slots/);
  assert.throws(() => resolvePatterns(getPreset('variational'), wrn), /variational cannot act on conv slots/);
});
