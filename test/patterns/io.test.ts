import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';
import { formatPatternFile, loadPatternFile, parsePatternFile, savePatternFile } from '../../src/patterns/io.js';
import { parseJson, JsonSyntaxError } from '../../src/patterns/json.js';
import { getPreset, presetNames } from '../../src/patterns/presets.js';
import { PatternError } from '../../src/patterns/validate.js';

// A file in canonical form, written by hand: loading and saving it must not change a byte.
const CANONICAL = `{
  "format": "autodropout/pattern@1",
  "space": "span",
  "slots": {
    "embedding": { "kind": "span", "size": 2, "stride": 16, "repeat": "all", "shareC": true, "noise": "zero", "sublayers": ["embedding", "query"] },
    "layer0.*": { "kind": "span", "size": 2, "stride": 16, "repeat": 3, "shareC": false, "noise": "gaussian", "sublayers": ["query", "ffn-output"] },
    "depth:0.5-1": { "kind": "none" }
  },
  "schedule": { "kind": "linear-ramp", "until": 0.3, "applies": "probability" },
  "provenance": {
    "task": "sotu",
    "model": "tlm-2-64",
    "reward": 0.0125,
    "seed": 3,
    "notes": {
      "by": "hand",
      "list": [
        1,
        2.5
      ]
    }
  }
}
`;

test('a canonical file is unchanged by load -> save', () => {
  const dir = tempDir();
  const path = join(dir, 'p.json');
  writeFileSync(path, CANONICAL);
  savePatternFile(path, loadPatternFile(path));
  assert.equal(readFileSync(path, 'utf8'), CANONICAL);
  assert.equal(formatPatternFile(parsePatternFile(CANONICAL, 'c')), CANONICAL);
});

test('every preset round-trips byte for byte: format -> load -> save -> load -> save', () => {
  const dir = tempDir();
  for (const name of presetNames()) {
    const path = join(dir, `${name}.json`);
    savePatternFile(path, getPreset(name));
    const first = readFileSync(path, 'utf8');
    const loaded = loadPatternFile(path);
    assert.deepEqual(loaded, getPreset(name));
    savePatternFile(path, loaded);
    assert.equal(readFileSync(path, 'utf8'), first, name);
    assert.ok(first.endsWith('}\n') && !first.endsWith('\n\n'));
  }
});

test('a non-canonical file becomes canonical after one save and stays so', () => {
  const messy =
    '\uFEFF{"provenance":{"zeta":1,"seed":2,"task":"t"},"schedule":{"until":0.50,"kind":"linear-ramp"},' +
    '"slots":{"*":{"sublayers":["ffn-output","embedding"],"noise":"zero","shareC":true,"repeat":"all","stride":8,"size":1,"kind":"span"}},' +
    '"format":"autodropout/pattern@1"}';
  const dir = tempDir();
  const path = join(dir, 'messy.json');
  writeFileSync(path, messy);
  savePatternFile(path, loadPatternFile(path));
  const once = readFileSync(path, 'utf8');
  savePatternFile(path, loadPatternFile(path));
  assert.equal(readFileSync(path, 'utf8'), once);
  assert.equal(
    once,
    `{
  "format": "autodropout/pattern@1",
  "slots": {
    "*": { "kind": "span", "size": 1, "stride": 8, "repeat": "all", "shareC": true, "noise": "zero", "sublayers": ["embedding", "ffn-output"] }
  },
  "schedule": { "kind": "linear-ramp", "until": 0.5 },
  "provenance": {
    "task": "t",
    "seed": 2,
    "zeta": 1
  }
}
`,
  );
});

test('JSON syntax errors name the file, line and column', () => {
  const dir = tempDir();
  const path = join(dir, 'broken.json');
  writeFileSync(path, '{\n  "format": "autodropout/pattern@1",\n  "slots": {},\n}\n');
  assert.throws(
    () => loadPatternFile(path),
    (e: unknown) => {
      assert.ok(e instanceof PatternError);
      assert.equal(e.message, `${path}:4:1: invalid JSON: unexpected "}"; expected a string key`);
      return true;
    },
  );
  assert.throws(() => parsePatternFile('{"format": "autodropout/pattern@1", "slots": {', 'cut.json'), /cut\.json:1:47: invalid JSON: unexpected end of input; expected a string key/);
  assert.throws(() => parsePatternFile('', 'empty.json'), /empty\.json:1:1: invalid JSON: unexpected end of input; expected a value/);
  assert.throws(() => parsePatternFile('{"a": 01}', 'n.json'), /n\.json:1:8: invalid JSON: unexpected "1"; expected "," or "}"/);
  assert.throws(() => parsePatternFile('{"a": "x\ny"}', 's.json'), /s\.json:1:9: invalid JSON: control character in string/);
  assert.throws(() => parsePatternFile('{} x', 't.json'), /t\.json:1:4: invalid JSON: unexpected "x" after the JSON value/);
});

test('a duplicate key (e.g. one slot address written twice) is an error, not a silent overwrite', () => {
  const text = '{"format": "autodropout/pattern@1", "slots": {\n "*": {"kind": "none"},\n "*": {"kind": "dropout", "rate": 0.1}}}';
  assert.throws(() => parsePatternFile(text, 'dup.json'), /dup\.json:3:2: invalid JSON: duplicate key "\*"/);
});

test('the JSON parser agrees with JSON.parse on valid input', () => {
  const samples = ['{"a":[1,-2.5e3,0.1,true,false,null],"b":{"c":"\\u00e9\\n\\"x\\""}}', '[]', '"s"', ' 12 ', '{"__proto__": {"x": 1}}'];
  for (const s of samples) assert.deepEqual(parseJson(s), JSON.parse(s));
  const proto = parseJson('{"__proto__": 1}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(proto), Object.prototype);
  assert.deepEqual(Object.keys(proto), ['__proto__']);
  assert.throws(() => parseJson('{"a":1,}'), JsonSyntaxError);
});

test('unreadable and invalid files are PatternErrors naming the file', () => {
  const dir = tempDir();
  assert.throws(() => loadPatternFile(join(dir, 'missing.json')), (e: unknown) => e instanceof PatternError && e.message === `${join(dir, 'missing.json')}: cannot read pattern file: no such file`);
  assert.throws(() => loadPatternFile(dir), /cannot read pattern file: it is a directory/);
  const bad = join(dir, 'bad-utf8.json');
  writeFileSync(bad, Buffer.from([0x7b, 0xff, 0x7d]));
  assert.throws(() => loadPatternFile(bad), /bad-utf8\.json: cannot read pattern file: not valid UTF-8/);
  const invalid = join(dir, 'invalid.json');
  writeFileSync(invalid, '{"format": "autodropout/pattern@1", "slots": {"*": {"kind": "dropout", "rate": 5}}}');
  assert.throws(() => loadPatternFile(invalid), /invalid\.json: invalid pattern file \(1 problem\):\n {2}- slots\["\*"\]\.rate: got 5; expected a number in \[0, 1\)/);
});

test('save is atomic: an invalid file is never written, the old one stays, no temporary files remain', () => {
  const dir = tempDir();
  const path = join(dir, 'sub', 'dir', 'p.json'); // parents are created
  savePatternFile(path, getPreset('dropout'));
  const before = readFileSync(path, 'utf8');
  const broken = { ...getPreset('dropout'), slots: { '*': { kind: 'dropout' as const, rate: 1.5 } } };
  assert.throws(() => savePatternFile(path, broken), (e: unknown) => e instanceof PatternError && e.source === path);
  assert.equal(readFileSync(path, 'utf8'), before);
  savePatternFile(path, getPreset('none'));
  assert.deepEqual(readdirSync(join(dir, 'sub', 'dir')), ['p.json']);
  assert.deepEqual(loadPatternFile(path), getPreset('none'));
});

test('optional fields set to undefined in code are treated as absent', () => {
  const file = { format: 'autodropout/pattern@1' as const, slots: {}, schedule: { kind: 'linear-ramp' as const, until: 1, applies: undefined }, provenance: { task: 'x', reward: undefined } };
  assert.equal(formatPatternFile(file), '{\n  "format": "autodropout/pattern@1",\n  "slots": {},\n  "schedule": { "kind": "linear-ramp", "until": 1 },\n  "provenance": {\n    "task": "x"\n  }\n}\n');
});
