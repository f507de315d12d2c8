/**
 * Word-level language-modelling benchmarks that ship as already-tokenised text files:
 *  - Penn Treebank in Mikolov's `simple-examples/data/` layout: ptb.train.txt, ptb.valid.txt,
 *    ptb.test.txt (lowercased, numbers as N, rare words already <unk>);
 *  - WikiText-2 (`wikitext-2/`) and WikiText-103 (`wikitext-103/`): wiki.train.tokens,
 *    wiki.valid.tokens, wiki.test.tokens (the tokenised, not the raw, release).
 *
 * The protocol is the one of Mikolov's RNNLM scripts, AWD-LSTM and Transformer-XL (whose PTB
 * results the paper builds on): every line is split as Python's `line.split()` splits it (its
 * whitespace set exactly, see PY_WHITESPACE) and followed by one <eos> —
 * blank lines included, so WikiText's empty lines between paragraphs each give a lone <eos> —
 * and the files' own splits are used as they are. The vocabulary is every distinct training token
 * plus <eos> (for PTB 10,000 words including <unk>, for WikiText-2 33,278: the published sizes;
 * the datasets are not on this machine, so the tests check the rule on generated files), with no
 * cap unless one is asked for; a valid/test token absent from train becomes <unk>.
 *
 * The files are streamed line by line: WikiText-103's training file (~540 MB) is longer than the
 * longest string V8 can hold.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { DataError } from './errors.js';
import { firstDatasetDir, formatTried } from './locate.js';
import { EOS, UNK, type TextTask, type TokenFileTaskName } from './text.js';

export type { TokenFileTaskName };

interface TokenFileLayout {
  title: string;
  train: string;
  valid: string;
  test: string;
  /** Folders the archives unpack to, tried below each searched directory. */
  subfolders: string[];
  howToGet: string;
}

const LAYOUTS: Record<TokenFileTaskName, TokenFileLayout> = {
  ptb: {
    title: 'Penn Treebank',
    train: 'ptb.train.txt',
    valid: 'ptb.valid.txt',
    test: 'ptb.test.txt',
    subfolders: ['simple-examples/data', 'ptb'],
    howToGet:
      "download Mikolov's http://www.fit.vutbr.cz/~imikolov/rnnlm/simple-examples.tgz, unpack it and pass --data-dir DIR " +
      '(its simple-examples/data/ or a folder above it; or unpack it in the working directory)',
  },
  'wikitext-2': {
    title: 'WikiText-2',
    train: 'wiki.train.tokens',
    valid: 'wiki.valid.tokens',
    test: 'wiki.test.tokens',
    subfolders: ['wikitext-2'],
    howToGet:
      'download wikitext-2-v1.zip (the tokenised release; https://wikitext.smerity.com/wikitext-2-v1.zip), unpack it and pass ' +
      '--data-dir DIR (its wikitext-2/ or the folder holding it; or unpack it in the working directory)',
  },
  'wikitext-103': {
    title: 'WikiText-103',
    train: 'wiki.train.tokens',
    valid: 'wiki.valid.tokens',
    test: 'wiki.test.tokens',
    subfolders: ['wikitext-103'],
    howToGet:
      'download wikitext-103-v1.zip (the tokenised release; https://wikitext.smerity.com/wikitext-103-v1.zip), unpack it and pass ' +
      '--data-dir DIR (its wikitext-103/ or the folder holding it; or unpack it in the working directory)',
  },
};

export const TOKEN_FILE_TASKS = Object.keys(LAYOUTS) as TokenFileTaskName[];

export interface LoadTokenFileOptions {
  task: TokenFileTaskName;
  /** Vocabulary cap including <unk> and <eos>; undefined keeps every training token. */
  vocabSize?: number;
  /** Searched first: the folder holding the three files, or one above it. */
  dataDir?: string;
  /** Replaces the default locations searched after dataDir (tests, unusual installs). */
  searchPaths?: string[];
}

export interface TokenFiles {
  train: string;
  valid: string;
  test: string;
}

/**
 * Where the files are: `dataDir` and the usual folders below it, then (unless searchPaths
 * replaces them) the working directory and its usual folders, where unpacking in place leaves them.
 */
export function locateTokenFiles(task: TokenFileTaskName, dataDir?: string, searchPaths?: string[]): TokenFiles {
  const info = LAYOUTS[task];
  if (info === undefined) throw new DataError(`unknown token-file task ${JSON.stringify(task)}`);
  const required = [info.train, info.valid, info.test];
  const roots = [...(dataDir !== undefined ? [dataDir] : []), ...(searchPaths ?? [process.cwd()])].map((d) => resolve(d));
  const found = firstDatasetDir(info.title, roots, info.subfolders, required);
  if (found.dir === null) {
    throw new DataError(
      `${info.title} not found. Looked for ${required.join(', ')} in:\n${formatTried(found.tried)}\n` + `To get it: ${info.howToGet}.`,
      { paths: found.tried, notFound: true, hint: info.howToGet },
    );
  }
  const dir = found.dir;
  return { train: join(dir, info.train), valid: join(dir, info.valid), test: join(dir, info.test) };
}

/** Whether the task's files can be found (not whether they parse). */
export function tokenFilesAvailable(task: TokenFileTaskName, dataDir?: string, searchPaths?: string[]): boolean {
  try {
    locateTokenFiles(task, dataDir, searchPaths);
    return true;
  } catch (e) {
    if (e instanceof DataError) return false;
    throw e;
  }
}

const CHUNK_BYTES = 8 << 20;
const NEWLINE = 0x0a;

/**
 * Calls `onLine` for every line of a UTF-8 file, as Python's `for line in f` sees them: a final
 * newline ends the last line rather than starting an empty one; "\r\n" counts as one newline.
 * Chunks are cut at '\n' bytes, which never occur inside a multi-byte UTF-8 character.
 */
export function forEachLine(file: string, onLine: (line: string) => void, chunkBytes = CHUNK_BYTES): void {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    throw new DataError(`${file}: cannot read (${e instanceof Error ? e.message : String(e)})`, { cause: e, paths: [file] });
  }
  // ignoreBOM keeps a U+FEFF as text, as Python's open(encoding='utf-8') does; without it every
  // chunk that starts with one (after a cut at a newline) would silently lose it.
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  const emit = (text: string): void => onLine(text.endsWith('\r') ? text.slice(0, -1) : text);
  try {
    let buf = Buffer.allocUnsafe(chunkBytes);
    let carry = 0;
    for (;;) {
      if (carry === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, carry);
        buf = bigger;
      }
      const read = readSync(fd, buf, carry, buf.length - carry, null);
      const end = carry + read;
      if (read === 0) {
        if (end > 0) emit(decoder.decode(buf.subarray(0, end)));
        return;
      }
      const lastNl = buf.lastIndexOf(NEWLINE, end - 1);
      if (lastNl < 0) {
        carry = end;
        continue;
      }
      const lines = decoder.decode(buf.subarray(0, lastNl)).split('\n');
      for (const l of lines) emit(l);
      buf.copy(buf, 0, lastNl + 1, end);
      carry = end - lastNl - 1;
    }
  } finally {
    closeSync(fd);
  }
}

/**
 * Python's whitespace (str.isspace, what `line.split()` splits on). JavaScript's \s differs:
 * it lacks U+001C–U+001F and U+0085 and adds U+FEFF, and any difference would change the
 * vocabulary and token counts that the published numbers were measured with.
 */
// eslint-disable-next-line no-control-regex -- U+001C–U+001F are whitespace to Python, on purpose
const PY_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** The whitespace-separated tokens of every line, each line followed by <eos>. */
export function forEachToken(file: string, onToken: (token: string) => void): void {
  forEachLine(file, (line) => {
    for (const t of line.split(PY_WHITESPACE)) if (t !== '') onToken(t);
    onToken(EOS);
  });
}

/** A growable Int32Array. */
class IdBuffer {
  private data: Int32Array;
  length = 0;
  constructor(capacity: number) {
    this.data = new Int32Array(Math.max(1024, capacity));
  }
  push(id: number): void {
    if (this.length === this.data.length) {
      const next = new Int32Array(Math.ceil(this.data.length * 1.5));
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = id;
  }
  /** The ids pushed, in an array of exactly that length. */
  take(): Int32Array {
    return this.data.slice(0, this.length);
  }
}

function fileBytes(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** Tokens per byte of these files is about 1/5 (short words plus a space); a first guess only. */
const capacityFor = (file: string): number => Math.ceil(fileBytes(file) / 5);

/**
 * Encodes the training file in one pass with ids in order of first appearance (<unk> = 0,
 * <eos> = 1 from the start), then renumbers by frequency: the same vocabulary as buildVocab in
 * text.ts — <unk>, <eos>, then words by descending count, ties in code-unit order — without ever
 * holding the tokens as strings.
 */
function encodeTrain(file: string, vocabSize: number | undefined): { vocab: string[]; ids: Int32Array } {
  const firstSeen = new Map<string, number>([
    [UNK, 0],
    [EOS, 1],
  ]);
  const words = [UNK, EOS];
  const buf = new IdBuffer(capacityFor(file));
  forEachToken(file, (t) => {
    let id = firstSeen.get(t);
    if (id === undefined) {
      id = words.length;
      firstSeen.set(t, id);
      words.push(t);
    }
    buf.push(id);
  });
  const ids = buf.take();
  const counts = new Float64Array(words.length);
  for (let i = 0; i < ids.length; i++) counts[ids[i]]++;
  const order = words
    .map((_, i) => i)
    .slice(2)
    .sort((a, b) => counts[b] - counts[a] || (words[a] < words[b] ? -1 : words[a] > words[b] ? 1 : 0));
  const kept = vocabSize === undefined ? order : order.slice(0, vocabSize - 2);
  const remap = new Int32Array(words.length); // dropped words stay 0 = <unk>
  remap[1] = 1;
  kept.forEach((old, k) => (remap[old] = k + 2));
  for (let i = 0; i < ids.length; i++) ids[i] = remap[ids[i]];
  return { vocab: [UNK, EOS, ...kept.map((i) => words[i])], ids };
}

function encodeHeldOut(file: string, index: Map<string, number>): Int32Array {
  const buf = new IdBuffer(capacityFor(file));
  forEachToken(file, (t) => buf.push(index.get(t) ?? 0));
  return buf.take();
}

/** Loads a token-file benchmark; see the file comment for the protocol. */
export function loadTokenFileTask(opts: LoadTokenFileOptions): TextTask {
  const { task, vocabSize } = opts;
  if (LAYOUTS[task] === undefined) throw new DataError(`unknown token-file task ${JSON.stringify(task)}`);
  if (vocabSize !== undefined && (!Number.isInteger(vocabSize) || vocabSize < 2)) {
    throw new DataError(`vocabSize must be an integer ≥ 2 (room for ${UNK} and ${EOS}), got ${vocabSize}`);
  }
  const files = locateTokenFiles(task, opts.dataDir, opts.searchPaths);
  const { vocab, ids: train } = encodeTrain(files.train, vocabSize);
  if (train.every((id) => id === 1)) throw new DataError(`${files.train}: no words (empty file?)`);
  const index = new Map(vocab.map((w, i) => [w, i]));
  return {
    name: task,
    vocab,
    train,
    val: encodeHeldOut(files.valid, index),
    test: encodeHeldOut(files.test, index),
    unkId: 0,
    eosId: 1,
    sources: [files.train, files.valid, files.test],
    parts: { train: [basename(files.train)], val: [basename(files.valid)], test: [basename(files.test)] },
  };
}
