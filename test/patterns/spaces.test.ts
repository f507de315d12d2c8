import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { Rng } from '../../src/util/rng.js';
import { formatPatternFile } from '../../src/patterns/io.js';
import { getPreset } from '../../src/patterns/presets.js';
import { resolvePatterns } from '../../src/patterns/resolve.js';
import {
  SEARCH_SPACES,
  SPAN_SPACE,
  TILE_SPACE,
  decode,
  decodeFile,
  encode,
  encodeFile,
  formatSpace,
  getSpace,
  spaceSize,
  splitTokens,
  tokenGroups,
  tokenPositions,
  tokenTypes,
  type SearchSpace,
} from '../../src/patterns/spaces.js';
import { canvasDropFraction, tileCanvas, windowSums } from '../../src/patterns/canvas.js';
import type { Pattern, PatternFile, SpanPattern, TilePattern } from '../../src/patterns/types.js';
import { validatePattern, validatePatternFile } from '../../src/patterns/validate.js';
import { tlmSlots, wrnSlots } from './fixtures.js';

/** Calls fn with every token sequence of the space (mixed radix, last token fastest). */
function forEachTokens(space: SearchSpace, fn: (t: number[]) => void): number {
  const sizes = space.tokens.map((t) => t.values.length);
  const t = sizes.map(() => 0);
  let n = 0;
  for (;;) {
    fn(t);
    n++;
    let k = t.length - 1;
    while (k >= 0 && ++t[k] === sizes[k]) t[k--] = 0;
    if (k < 0) return n;
  }
}

function randomTokens(space: SearchSpace, rng: Rng, present: readonly number[] = space.tokens.map((_, k) => k)): number[] {
  return present.map((k) => rng.nextInt(space.tokens[k].values.length));
}

test('token types: the documented order, at most 10 distinct values each', () => {
  assert.deepEqual(
    tokenTypes(TILE_SPACE),
    [
      { name: 'size', vocabSize: 10 },
      { name: 'stride', vocabSize: 9 },
      { name: 'repeat', vocabSize: 8 },
      { name: 'rotate', vocabSize: 6 },
      { name: 'shearX', vocabSize: 9 },
      { name: 'shearY', vocabSize: 9 },
      { name: 'shareC', vocabSize: 2 },
      { name: 'residual', vocabSize: 2 },
    ],
  );
  assert.deepEqual(
    tokenTypes(SPAN_SPACE).map((t) => `${t.name}:${t.vocabSize}`),
    ['size:5', 'stride:6', 'repeat:7', 'shareC:2', 'noise:2', ...['embedding', 'query', 'key', 'value', 'attention-output', 'ffn-hidden', 'ffn-output'].map((s) => `sublayer.${s}:2`)],
  );
  for (const space of Object.values(SEARCH_SPACES)) {
    for (const t of space.tokens) {
      assert.ok(t.values.length >= 2 && t.values.length <= 10, t.name);
      assert.equal(new Set(t.values.map((v) => JSON.stringify(v))).size, t.values.length, `${t.name} has duplicates`);
    }
  }
  assert.equal(spaceSize(TILE_SPACE), 10 * 9 * 8 * 6 * 9 * 9 * 2 * 2);
  assert.equal(spaceSize(SPAN_SPACE), 5 * 6 * 7 * 2 * 2 * 2 ** 7);
  assert.equal(getSpace('tile'), TILE_SPACE);
  assert.throws(() => getSpace('conv'), /unknown search space 'conv'; valid: tile, span/);
  assert.throws(() => getSpace('toString'), /unknown search space/);
  assert.ok(Object.isFrozen(TILE_SPACE.tokens[0].values[0]), 'space data is frozen');
});

test('spaces/*.json are the exported spaces', () => {
  for (const [name, space] of Object.entries(SEARCH_SPACES)) {
    const text = readFileSync(join(repoRoot, 'spaces', `${name}.json`), 'utf8');
    assert.equal(text, formatSpace(space), `stale spaces/${name}.json: run \`npx tsc -p tsconfig.json && node scripts/write-pattern-data.mjs\``);
    assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(space)));
  }
});

test('tile space: decode then encode is the identity over the whole space', () => {
  const n = forEachTokens(TILE_SPACE, (t) => {
    const back = encode(TILE_SPACE, decode(TILE_SPACE, t));
    for (let k = 0; k < t.length; k++) if (back[k] !== t[k]) assert.fail(`tokens ${t} came back as ${back}`);
  });
  assert.equal(n, spaceSize(TILE_SPACE));
});

test('span space: round trip over the whole space; all sublayer tokens false decodes to none', () => {
  let none = 0;
  const n = forEachTokens(SPAN_SPACE, (t) => {
    const p = decode(SPAN_SPACE, t);
    const back = encode(SPAN_SPACE, p);
    if (p.kind === 'none') {
      none++;
      assert.ok(t.slice(5).every((x) => x === 0));
      assert.ok(back.every((x) => x === 0)); // the canonical encoding of none
    } else for (let k = 0; k < t.length; k++) if (back[k] !== t[k]) assert.fail(`tokens ${t} came back as ${back}`);
  });
  assert.equal(n, spaceSize(SPAN_SPACE));
  assert.equal(none, spaceSize(SPAN_SPACE) / 2 ** 7);
});

test('decoded patterns are valid, in canonical field order, and independent copies', () => {
  const rng = new Rng(11);
  for (const space of [TILE_SPACE, SPAN_SPACE]) {
    for (let i = 0; i < 3000; i++) {
      const p = decode(space, randomTokens(space, rng));
      validatePattern(p, 'decoded');
      if (p.kind !== 'none') assert.equal(Object.keys(p)[0], 'kind');
    }
    // Every vocabulary value, alone, yields a valid pattern.
    space.tokens.forEach((tok, k) => {
      tok.values.forEach((_, i) => {
        const t = space.tokens.map(() => 1);
        t[k] = i;
        validatePattern(decode(space, t), `${tok.name}[${i}]`);
      });
    });
  }
  const p = decode(TILE_SPACE, [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(p, { kind: 'tile', size: [2, 2], stride: [4, 4], repeat: [4, 4], rotate: 0, shearX: -0.4, shearY: -0.4, shareC: false, residual: false });
  if (p.kind === 'tile') p.size[0] = 99;
  assert.deepEqual(TILE_SPACE.tokens[0].values[0], [2, 2]);
  assert.deepEqual(decode(SPAN_SPACE, [1, 2, 6, 1, 1, 0, 1, 0, 0, 0, 1, 1]), {
    kind: 'span',
    size: 2,
    stride: 10,
    repeat: 'all',
    shareC: true,
    noise: 'gaussian',
    sublayers: ['query', 'ffn-hidden', 'ffn-output'],
  });
});

test('no point of the spaces drops everything: each size is below each stride on some axis (experiments/space-strength)', () => {
  const values = (space: SearchSpace, name: string): readonly unknown[] => space.tokens.find((t) => t.name === name)!.values;
  for (const size of values(TILE_SPACE, 'size') as [number, number][]) {
    for (const stride of values(TILE_SPACE, 'stride') as [number, number][]) {
      assert.ok(size[0] < stride[0] || size[1] < stride[1], `tile size ${size} fills stride ${stride}`);
      // Nor can a window of the smallest child map (7x7) fall inside one rectangle.
      assert.ok(Math.min(...size) < 7, `tile size ${size}`);
    }
  }
  for (const size of values(SPAN_SPACE, 'size') as number[]) for (const stride of values(SPAN_SPACE, 'stride') as number[]) assert.ok(size < stride, `span ${size}/${stride}`);
  // The strongest periodic corner of each space still keeps some of every map: no identity by the all-zero guard.
  const strongest = decode(TILE_SPACE, [1, 0, 7, 0, 4, 4, 1, 0]);
  assert.deepEqual([strongest.kind === 'tile' && strongest.size, strongest.kind === 'tile' && strongest.stride, strongest.kind === 'tile' && strongest.repeat], [[3, 3], [4, 4], 'all']);
  for (const side of [7, 8, 14, 16, 28, 32]) {
    const f = canvasDropFraction(tileCanvas(strongest as TilePattern, side, side));
    assert.ok(f > 0.5 && f < 0.6, `3x3 every 4x4 drops 9/16 at ${side}: ${f}`);
    assert.ok(Math.min(...windowSums(tileCanvas(strongest as TilePattern, side, side), side, side)) > 0, `a window of ${side}x${side} is all zero`);
  }
});

test('encode and decode reject what is outside the space', () => {
  const tile: Pattern = { kind: 'tile', size: [1, 1], stride: [4, 4], repeat: 'all', rotate: 0, shearX: 0, shearY: 0, shareC: true, residual: false };
  assert.throws(() => encode(TILE_SPACE, tile), /tile token 'size': \[1,1\] is not in the vocabulary \(\[2,2\], \[3,3\]/);
  assert.throws(() => encode(TILE_SPACE, { kind: 'dropout', rate: 0.1 }), /the tile space encodes tile patterns, not dropout/);
  assert.throws(() => encode(TILE_SPACE, { kind: 'none' }), /not none/);
  assert.throws(() => encode(SPAN_SPACE, { kind: 'span', size: 6, stride: 8, repeat: 4, shareC: true, noise: 'zero', sublayers: ['key'] }), /span token 'size': 6 is not in the vocabulary/);
  assert.throws(() => decode(TILE_SPACE, [0, 0, 0]), /8 tokens per group, got 3/);
  assert.throws(() => decode(TILE_SPACE, [0, 0, 8, 0, 0, 0, 0, 0]), /token 'repeat': index 8 is outside 0\.\.7/);
  assert.throws(() => decode(SPAN_SPACE, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5]), /index 0\.5/);
});

test('token groups: one per conv slot (tile), one per layer with the embedding in the first (span)', () => {
  const wrn = wrnSlots(16);
  const tg = tokenGroups(TILE_SPACE, wrn);
  assert.equal(tg.length, 13); // 6 blocks x (bn1, bn2) + final.bn; skip slots have no group
  const all = [0, 1, 2, 3, 4, 5, 6, 7];
  assert.deepEqual(tg[0], { name: 'stage1.block1.bn1', slots: ['stage1.block1.bn1'], tokens: all });
  assert.ok(tg.every((g) => !g.name.endsWith('.skip')));
  // final.bn is in no block with a skip path: it has no residual token (every other conv slot has all 8).
  assert.deepEqual(tg[12], { name: 'final.bn', slots: ['final.bn'], tokens: [0, 1, 2, 3, 4, 5, 6] });
  assert.ok(tg.slice(0, 12).every((g) => g.tokens.length === 8));
  const positions = tokenPositions(TILE_SPACE, wrn);
  assert.equal(positions.length, 12 * 8 + 7);
  assert.deepEqual(positions.slice(-8).map((p) => [p.type, p.group]), [['residual', 11], ...TILE_SPACE.tokens.slice(0, 7).map((t) => [t.name, 12])]);
  const flat = positions.map((_, i) => i);
  const split = splitTokens(TILE_SPACE, wrn, flat);
  assert.deepEqual(split.map((g) => g.length), [...Array(12).fill(8), 7]);
  assert.deepEqual(split.flat(), flat);
  assert.throws(() => splitTokens(TILE_SPACE, wrn, flat.slice(1)), /sequence has 103 tokens, got 102/);
  const sg = tokenGroups(SPAN_SPACE, tlmSlots(3));
  assert.deepEqual(
    sg.map((g) => g.name),
    ['layer0', 'layer1', 'layer2'],
  );
  assert.deepEqual(sg[0].slots, ['embedding', 'layer0.query', 'layer0.key', 'layer0.value', 'layer0.attention-output', 'layer0.ffn-hidden', 'layer0.ffn-output']);
  assert.equal(sg[1].slots.length, 6);
  assert.throws(() => tokenGroups(TILE_SPACE, tlmSlots(1)), /needs conv slots/);
  assert.throws(() => tokenGroups(SPAN_SPACE, wrn), /needs layered sequence slots/);
});

test('tile files: decodeFile -> encodeFile is the identity; skips follow the residual token', () => {
  const slots = wrnSlots(16, 2);
  const rng = new Rng(5);
  for (let trial = 0; trial < 200; trial++) {
    const groups = tokenGroups(TILE_SPACE, slots).map((g) => randomTokens(TILE_SPACE, rng, g.tokens));
    const file = decodeFile(TILE_SPACE, groups, slots);
    assert.equal((file.slots['final.bn'] as TilePattern).residual, false, 'an absent token decodes to its first value');
    validatePatternFile(file, 'decoded');
    assert.equal(file.space, 'tile');
    assert.deepEqual(encodeFile(TILE_SPACE, file, slots), groups);
    const r = resolvePatterns(file, slots);
    for (const s of slots.filter((x) => x.kind === 'skip')) {
      const bn2 = r.get(s.name.replace(/skip$/, 'bn2'));
      const want = bn2?.kind === 'tile' && bn2.residual ? bn2 : { kind: 'none' };
      assert.deepEqual(r.get(s.name), want);
    }
  }
});

test('span files: decodeFile -> encodeFile keeps every live token; inert ones come back false', () => {
  const slots = tlmSlots(3);
  const rng = new Rng(9);
  for (let trial = 0; trial < 300; trial++) {
    const groups = tokenGroups(SPAN_SPACE, slots).map(() => randomTokens(SPAN_SPACE, rng));
    if (trial === 0) groups[1] = [3, 3, 3, 1, 1, 1, 0, 0, 0, 0, 0, 0]; // only the embedding token, which layer1 lacks
    const file = decodeFile(SPAN_SPACE, groups, slots);
    validatePatternFile(file, 'decoded');
    const tokens = encodeFile(SPAN_SPACE, file, slots);
    groups.forEach((g, i) => {
      const live = i === 0 ? [5, 6, 7, 8, 9, 10, 11] : [6, 7, 8, 9, 10, 11];
      const on = live.some((k) => g[k] === 1);
      if (!on) assert.ok(tokens[i].every((x) => x === 0), `group ${i} should encode as none`);
      else {
        for (let k = 0; k < 5; k++) assert.equal(tokens[i][k], g[k]);
        for (const k of live) assert.equal(tokens[i][k], g[k]);
        if (i > 0) assert.equal(tokens[i][5], 0);
      }
    });
    // Decoding the encoded tokens gives the same file, byte for byte.
    assert.equal(formatPatternFile(decodeFile(SPAN_SPACE, tokens, slots)), formatPatternFile(file));
  }
  const off = decodeFile(SPAN_SPACE, [[0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0], Array(12).fill(0)], slots);
  assert.deepEqual(off.slots, {
    embedding: { kind: 'none' }, // joined to layer0, but its token is false
    'layer0.*': { kind: 'span', size: 1, stride: 6, repeat: 4, shareC: false, noise: 'zero', sublayers: ['query'] },
    'layer1.*': { kind: 'span', size: 2, stride: 8, repeat: 8, shareC: false, noise: 'zero', sublayers: ['value'] },
    'layer2.*': { kind: 'none' },
  });
});

test('encodeFile accepts files written by hand when they are points of the space, and says why not otherwise', () => {
  const wrn = wrnSlots(10);
  const ex = getPreset('tile-example');
  const tokens = encodeFile(TILE_SPACE, ex, wrn);
  const back = decodeFile(TILE_SPACE, tokens, wrn);
  assert.deepEqual(resolvePatterns(back, wrn), resolvePatterns(ex, wrn));
  const lm = tlmSlots(2);
  const st = encodeFile(SPAN_SPACE, getPreset('span-example'), lm);
  // Same pattern at every slot; the decoded spans list only the sublayers their layer has.
  const effect = (m: Map<string, Pattern>): Record<string, unknown> => Object.fromEntries([...m].map(([k, p]) => [k, p.kind === 'span' ? { ...p, sublayers: null } : p]));
  assert.deepEqual(effect(resolvePatterns(decodeFile(SPAN_SPACE, st, lm), lm)), effect(resolvePatterns(getPreset('span-example'), lm)));
  assert.deepEqual(decodeFile(SPAN_SPACE, st, lm).slots['layer1.*'], { ...getPreset('span-example').slots['*'], sublayers: ['attention-output', 'ffn-output'] });

  assert.throws(() => encodeFile(TILE_SPACE, getPreset('dropout'), wrn), /slot 'stage1\.block1\.bn1' resolves to dropout; the tile space needs a tile pattern at every conv slot/);
  const t = ex.slots['stage1.*'];
  const explicitSkip: PatternFile = { format: 'autodropout/pattern@1', slots: { '*': t, 'stage2.block1.skip': t } };
  assert.throws(() => encodeFile(TILE_SPACE, explicitSkip, wrn), /slot 'stage2\.block1\.skip' resolves to .* which the tile space cannot express \(a skip slot follows the residual token of 'stage2\.block1\.bn2'\)/);
  const s1 = getPreset('span-example').slots['*'] as SpanPattern;
  const twoSpans: PatternFile = { format: 'autodropout/pattern@1', slots: { '*': s1, 'layer1.ffn-output': { ...s1, size: 4 } } };
  assert.throws(() => encodeFile(SPAN_SPACE, twoSpans, lm), /layer 'layer1' has two different span patterns/);
  assert.throws(() => encodeFile(SPAN_SPACE, getPreset('variational'), lm), /slot 'embedding' resolves to variational; the span space holds only span patterns/);
  assert.throws(() => decodeFile(TILE_SPACE, [[0, 0, 0, 0, 0, 0, 0, 0]], wrn), /this model has 7 tile token groups, got 1/);
  const eight = Array.from({ length: 7 }, () => [0, 0, 0, 0, 0, 0, 0, 0]);
  assert.throws(() => decodeFile(TILE_SPACE, eight, wrn), /tile group 'final\.bn' has 7 tokens \(size, stride, repeat, rotate, shearX, shearY, shareC\), got 8/);
  // residual: true where there is no skip path does nothing: encodeFile drops it with the absent token.
  const everywhere: PatternFile = { format: 'autodropout/pattern@1', slots: { '*': { ...(t as TilePattern), residual: true } } };
  const enc = encodeFile(TILE_SPACE, everywhere, wrn);
  assert.equal(enc[6].length, 7);
  assert.ok(enc.slice(0, 6).every((g) => g[7] === 1));
});
