/**
 * Finding a dataset that is a folder of fixed file names (CIFAR batches, PTB / WikiText token
 * files): each root is tried as the folder itself and with the dataset's usual folder names below
 * it, so --data-dir may name either the unpacked folder or the folder that holds it.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from './errors.js';

export function isFile(p: string): boolean {
  try {
    return existsSync(p) && statSync(p).isFile();
  } catch {
    return false;
  }
}

export function isDirectory(p: string): boolean {
  try {
    return existsSync(p) && statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export interface FoundDir {
  /** The first directory holding every required file, or null. */
  dir: string | null;
  /** Every directory looked at, in order. */
  tried: string[];
  /** Whether the found directory has a given (optional) file. */
  has(name: string): boolean;
}

/**
 * The first of `root`, `root/<sub>` … (for each root in order) that holds all `required` files.
 * A directory with some but not all of them is an error rather than a reason to look further:
 * mixing files from two places could silently pair splits of different releases.
 */
export function firstDatasetDir(title: string, roots: string[], subfolders: string[], required: string[]): FoundDir {
  const tried: string[] = [];
  for (const root of roots) {
    for (const dir of [root, ...subfolders.map((s) => join(root, s))]) {
      if (tried.includes(dir)) continue;
      tried.push(dir);
      const have = required.filter((f) => isFile(join(dir, f)));
      if (have.length === required.length) return { dir, tried, has: (name) => isFile(join(dir, name)) };
      if (have.length > 0) {
        const lacking = required.filter((f) => !have.includes(f));
        throw new DataError(`${title}: ${dir} is incomplete: it has ${have.join(', ')} but lacks ${lacking.join(', ')}`, {
          paths: tried,
        });
      }
    }
  }
  return { dir: null, tried, has: () => false };
}

/** The indented list of paths a not-found message shows. */
export function formatTried(tried: string[]): string {
  return tried.length > 0 ? tried.map((p) => `  ${p}`).join('\n') : '  (nowhere: no directory to search)';
}
