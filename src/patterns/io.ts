// Reading and writing pattern files. Files are written in one canonical form
// (below), so load -> save of a canonical file is byte-identical and any file
// becomes canonical after one save:
//   - 2-space indentation, `\n` line ends, a trailing newline, no BOM;
//   - top-level keys in the order format, space, slots, schedule, provenance;
//   - one slot per line, in the file's own order (the author's order reads
//     best; precedence never depends on it), each pattern on that line as
//     `{ "kind": ..., <fields in the order of schema.ts PATTERN_FIELDS> }`;
//   - span sublayers in TRANSFORMER_SUBLAYERS order; pairs as `[h, w]`;
//   - numbers as JavaScript's shortest round-trip form (0.10 -> 0.1);
//   - provenance: task, model, search, reward, seed, created, then other keys
//     in their order, nested values as 2-space JSON.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { JsonSyntaxError, parseJson } from './json.js';
import { PATTERN_FIELDS, PROVENANCE_FIELDS, SCHEDULE_FIELDS } from './schema.js';
import { TRANSFORMER_SUBLAYERS, type Pattern, type PatternFile, type Schedule } from './types.js';
import { PatternError, validatePatternFile } from './validate.js';

/** Parses and validates pattern-file text; `source` names it in errors (`file.json:3:7: invalid JSON: ...`). */
export function parsePatternFile(text: string, source: string): PatternFile {
  let json: unknown;
  try {
    json = parseJson(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new PatternError(`${source}:${e.line}:${e.column}`, [{ path: '', message: e.reason }], 'invalid JSON');
    throw e;
  }
  return validatePatternFile(json, source);
}

/** Reads, parses and validates a pattern file; every failure is a PatternError naming the file. */
export function loadPatternFile(path: string): PatternFile {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(path));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why =
      err.code === 'ENOENT'
        ? 'no such file'
        : err.code === 'EISDIR'
          ? 'it is a directory'
          : err.code === 'EACCES'
            ? 'permission denied'
            : err instanceof TypeError
              ? 'not valid UTF-8'
              : err.message;
    throw new PatternError(path, [{ path: '', message: why }], 'cannot read pattern file');
  }
  return parsePatternFile(text, path);
}

function inline(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(inline).join(', ')}]`;
  return JSON.stringify(v);
}

function inlineObject(entries: [string, unknown][]): string {
  return `{ ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`).join(', ')} }`;
}

/** A pattern on one line, fields in canonical order. */
export function formatPattern(p: Pattern): string {
  const entries: [string, unknown][] = [['kind', p.kind]];
  const rec = p as unknown as Record<string, unknown>;
  for (const [name] of PATTERN_FIELDS[p.kind]) {
    let v = rec[name];
    if (name === 'sublayers') v = [...(v as string[])].sort((a, b) => TRANSFORMER_SUBLAYERS.indexOf(a as never) - TRANSFORMER_SUBLAYERS.indexOf(b as never));
    entries.push([name, v]);
  }
  return inlineObject(entries);
}

function formatSchedule(s: Schedule): string {
  const rec = s as unknown as Record<string, unknown>;
  const entries: [string, unknown][] = [['kind', s.kind]];
  for (const [name] of SCHEDULE_FIELDS[s.kind]) if (rec[name] !== undefined) entries.push([name, rec[name]]);
  return inlineObject(entries);
}

/** The canonical text of a pattern file (validated first: invalid files are never formatted). */
export function formatPatternFile(file: PatternFile, source = 'pattern file'): string {
  validatePatternFile(file, source);
  const top: string[] = [`  "format": ${JSON.stringify(file.format)}`];
  if (file.space !== undefined) top.push(`  "space": ${JSON.stringify(file.space)}`);
  const slots = Object.entries(file.slots).map(([a, p]) => `    ${JSON.stringify(a)}: ${formatPattern(p)}`);
  top.push(slots.length ? `  "slots": {\n${slots.join(',\n')}\n  }` : '  "slots": {}');
  if (file.schedule !== undefined) top.push(`  "schedule": ${formatSchedule(file.schedule)}`);
  if (file.provenance !== undefined) {
    const p = file.provenance as Record<string, unknown>;
    const ordered: Record<string, unknown> = {};
    const known = PROVENANCE_FIELDS.map(([k]) => k as string);
    for (const k of [...known, ...Object.keys(p).filter((k) => !known.includes(k))]) {
      if (p[k] !== undefined) Object.defineProperty(ordered, k, { value: p[k], enumerable: true, writable: true, configurable: true });
    }
    top.push(`  "provenance": ${JSON.stringify(ordered, null, 2).replace(/\n/g, '\n  ')}`);
  }
  return `{\n${top.join(',\n')}\n}\n`;
}

/**
 * Writes a pattern file atomically: validate, format, write a temporary file
 * in the same directory, fsync, rename over `path`. A crash leaves either the
 * old file or the new one, never a torn one. Creates missing parent directories.
 */
export function savePatternFile(path: string, file: PatternFile): void {
  const text = formatPatternFile(file, path);
  const dir = dirname(path);
  if (existsSync(path) && statSync(path).isDirectory()) throw new PatternWriteError(path, `${path} is a directory`);
  let tmp: string | null = null;
  try {
    mkdirSync(dir, { recursive: true });
    tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    const fd = openSync(tmp, 'wx');
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    if (tmp !== null) rmSync(tmp, { force: true });
    throw new PatternWriteError(path, writeProblem(e as NodeJS.ErrnoException, dir), e);
  }
}

/** Why a file could not be written in `dir`, in words (the temporary file's name says nothing to a user). */
function writeProblem(e: NodeJS.ErrnoException, dir: string): string {
  switch (e.code) {
    case 'EACCES':
    case 'EPERM':
      return `no permission to write in ${dir}`;
    case 'EROFS':
      return `${dir} is on a read-only file system`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `${dir} is not a directory (a file is in the way)`;
    case 'ENOSPC':
      return `no space left on the device of ${dir}`;
    default:
      return e.message;
  }
}

/** A pattern file that could not be written: names the file, why, and what to do. */
export class PatternWriteError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`cannot write the pattern file ${path}: ${reason}; choose another path`, cause === undefined ? undefined : { cause });
    this.name = 'PatternWriteError';
  }
}
