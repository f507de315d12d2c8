// PTB / WikiText token files, on small files written here: the layout search, whitespace
// tokenisation with <eos> at every line end (blank lines included), the uncapped vocabulary built
// on train, <unk> for held-out words, an optional cap, and the errors for missing files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DataError,
  EOS,
  UNK,
  buildVocab,
  forEachLine,
  loadTokenFileTask,
  locateTokenFiles,
  tokenFilesAvailable,
  type TextTask,
} from '../../src/data/index.js';
import { tempDir } from '../helpers.js';

const PTB_TRAIN = ' the cat sat on the mat \n the dog ate the <unk> \n a cat is not a dog \n';
const PTB_VALID = ' the cat ate a fish \n';
const PTB_TEST = ' a bird sat \n the end \n';

function writeFiles(dir: string, names: [string, string, string], texts: [string, string, string]): void {
  mkdirSync(dir, { recursive: true });
  names.forEach((n, i) => writeFileSync(join(dir, n), texts[i]));
}

const PTB_NAMES: [string, string, string] = ['ptb.train.txt', 'ptb.valid.txt', 'ptb.test.txt'];
const WIKI_NAMES: [string, string, string] = ['wiki.train.tokens', 'wiki.valid.tokens', 'wiki.test.tokens'];

/** Python's `line.split() + ['<eos>']` for every line: the reference protocol, spelled out. */
function reference(text: string): string[] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.flatMap((l) => [...l.split(/\s+/).filter((t) => t !== ''), EOS]);
}

const words = (t: TextTask, ids: Int32Array): string[] => Array.from(ids, (i) => t.vocab[i]);

test('PTB: whitespace tokens, <eos> per line, vocabulary = every training token by frequency, unknown words -> <unk>', () => {
  const root = tempDir('ptb-');
  const dir = join(root, 'simple-examples', 'data');
  writeFiles(dir, PTB_NAMES, [PTB_TRAIN, PTB_VALID, PTB_TEST]);
  const t = loadTokenFileTask({ task: 'ptb', dataDir: root, searchPaths: [] });
  assert.equal(t.name, 'ptb');
  assert.deepEqual(t.sources, PTB_NAMES.map((n) => join(dir, n)));
  assert.deepEqual(t.parts, { train: ['ptb.train.txt'], val: ['ptb.valid.txt'], test: ['ptb.test.txt'] });
  assert.equal(t.unkId, 0);
  assert.equal(t.eosId, 1);
  // <unk>, <eos>, then by count (the 4, a/cat/dog 2), ties in code-unit order.
  assert.deepEqual(t.vocab, [UNK, EOS, 'the', 'a', 'cat', 'dog', 'ate', 'is', 'mat', 'not', 'on', 'sat']);
  assert.deepEqual(t.vocab, buildVocab(reference(PTB_TRAIN), Number.MAX_SAFE_INTEGER), 'the same rule as the other text tasks');
  assert.deepEqual(words(t, t.train), reference(PTB_TRAIN));
  assert.equal(t.train.length, 6 + 5 + 6 + 3, '17 words and 3 <eos>');
  assert.equal(t.train.filter((i) => i === t.eosId).length, 3);
  // "fish", "bird" and "end" never occur in train.
  assert.deepEqual(words(t, t.val), ['the', 'cat', 'ate', 'a', UNK, EOS]);
  assert.deepEqual(words(t, t.test), ['a', UNK, 'sat', EOS, 'the', UNK, EOS]);
  // The literal <unk> of the PTB text is the <unk> id, not a word of its own.
  assert.equal(t.train[11], t.unkId);
});

test('WikiText: blank lines give a lone <eos>; a vocabulary cap maps the rarest words to <unk>', () => {
  const root = tempDir('wikitext-');
  const train = ' = Title = \n \n The game was released . \n \n The game <unk> well . \n';
  writeFiles(join(root, 'wikitext-2'), WIKI_NAMES, [train, ' The end . \n', '\n']);
  const t = loadTokenFileTask({ task: 'wikitext-2', dataDir: root, searchPaths: [] });
  assert.equal(t.name, 'wikitext-2');
  assert.deepEqual(words(t, t.train), reference(train));
  assert.equal(t.train.filter((i) => i === t.eosId).length, 5, 'one <eos> per line, blank ones included');
  assert.deepEqual(Array.from(t.test), [t.eosId]);
  assert.deepEqual(t.vocab.slice(0, 6), [UNK, EOS, '.', '=', 'The', 'game']);
  assert.equal(t.vocab.length, 2 + 8);

  const capped = loadTokenFileTask({ task: 'wikitext-2', dataDir: root, searchPaths: [], vocabSize: 5 });
  assert.deepEqual(capped.vocab, [UNK, EOS, '.', '=', 'The']);
  assert.deepEqual(words(capped, capped.val), ['The', UNK, '.', EOS]);
  assert.deepEqual(words(capped, capped.train).slice(0, 4), ['=', UNK, '=', EOS]);
  assert.throws(() => loadTokenFileTask({ task: 'wikitext-2', dataDir: root, searchPaths: [], vocabSize: 1 }), /vocabSize must be an integer ≥ 2/);

  // WikiText-103 has the same file names in its own folder.
  writeFiles(join(root, 'wikitext-103'), WIKI_NAMES, [train, ' a \n', ' b \n']);
  const big = loadTokenFileTask({ task: 'wikitext-103', dataDir: root, searchPaths: [] });
  assert.equal(big.sources[0], join(root, 'wikitext-103', 'wiki.train.tokens'));
  assert.deepEqual(big.vocab, t.vocab);
});

test('lines are read in chunks without splitting characters; CRLF and a missing final newline are handled', () => {
  const dir = tempDir('lines-');
  const file = join(dir, 'lines.txt');
  const lines = ['héllo wörld', '', 'naïve — ünïcödé 🙂 text', 'x'.repeat(50), 'last'];
  writeFileSync(file, lines.join('\r\n'));
  for (const chunk of [3, 7, 16, 1 << 20]) {
    const seen: string[] = [];
    forEachLine(file, (l) => seen.push(l), chunk);
    assert.deepEqual(seen, lines, `chunk ${chunk}`);
  }
  writeFileSync(file, 'a b\n\n');
  const seen: string[] = [];
  forEachLine(file, (l) => seen.push(l), 2);
  assert.deepEqual(seen, ['a b', ''], 'a final newline ends the last line and starts none');
});

function dataError(fn: () => unknown): DataError {
  let err: unknown;
  assert.throws(fn, (e) => ((err = e), e instanceof DataError));
  return err as DataError;
}

test('missing files: the error names every folder tried, the files looked for and how to get them', () => {
  const empty = tempDir('ptb-empty-');
  const other = tempDir('ptb-other-');
  const e = dataError(() => loadTokenFileTask({ task: 'ptb', dataDir: empty, searchPaths: [other] }));
  const tried = [empty, join(empty, 'simple-examples', 'data'), join(empty, 'ptb'), other, join(other, 'simple-examples', 'data'), join(other, 'ptb')];
  assert.deepEqual(e.paths, tried);
  for (const p of tried) assert.ok(e.message.includes(p), e.message);
  assert.match(e.message, /^Penn Treebank not found\. Looked for ptb\.train\.txt, ptb\.valid\.txt, ptb\.test\.txt in:/);
  assert.match(e.message, /simple-examples\.tgz/);
  assert.equal(tokenFilesAvailable('ptb', empty, []), false);
  assert.match(dataError(() => locateTokenFiles('wikitext-103', empty, [])).message, /WikiText-103 not found[^]*wiki\.train\.tokens[^]*wikitext-103-v1\.zip/);

  // One of three files: an error naming what is there and what is not.
  writeFileSync(join(empty, 'ptb.train.txt'), PTB_TRAIN);
  const partial = dataError(() => loadTokenFileTask({ task: 'ptb', dataDir: empty, searchPaths: [] }));
  assert.equal(partial.message, `Penn Treebank: ${empty} is incomplete: it has ptb.train.txt but lacks ptb.valid.txt, ptb.test.txt`);

  writeFiles(other, PTB_NAMES, ['\n\n', PTB_VALID, PTB_TEST]);
  assert.match(dataError(() => loadTokenFileTask({ task: 'ptb', dataDir: other, searchPaths: [] })).message, /ptb\.train\.txt: no words/);
});

test("tokens split exactly where Python's str.split() splits: its whitespace set, not JavaScript's \\s", () => {
  const root = tempDir('pysplit-');
  // U+00A0, U+001C, U+0085 and U+3000 are whitespace to Python; U+FEFF is not (JavaScript's \s
  // has it the other way round for U+001C, U+0085 and U+FEFF).
  const train = 'a\u00a0b\x1cc\x85d e\ufefff g\u3000h\n\ufeffi a\n';
  writeFiles(join(root, 'wikitext-2'), WIKI_NAMES, [train, 'a\n', 'b\n']);
  const t = loadTokenFileTask({ task: 'wikitext-2', dataDir: root, searchPaths: [] });
  assert.deepEqual(words(t, t.train), ['a', 'b', 'c', 'd', 'e\ufefff', 'g', 'h', EOS, '\ufeffi', 'a', EOS]);
  assert.equal(t.vocab.length, 2 + 8);

  // A U+FEFF that starts a chunk (right after a newline) is text, whatever the chunk size.
  const file = join(root, 'bom.txt');
  writeFileSync(file, 'x\n\ufeffy\n\ufeff\n');
  for (const chunk of [2, 3, 5, 1 << 20]) {
    const seen: string[] = [];
    forEachLine(file, (l) => seen.push(l), chunk);
    assert.deepEqual(seen, ['x', '\ufeffy', '\ufeff'], `chunk ${chunk}`);
  }
});
