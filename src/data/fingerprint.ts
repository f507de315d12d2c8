// What data a child trained on, as one short digest: a search records it with
// every trial, and a worker whose copy differs (another release, a truncated
// download, a different --data-dir) refuses to train instead of adding
// results from other data to the study (docs/bullmq.md).
//
// Files are hashed whole (MNIST, CIFAR, the text corpora: tens to a few
// hundred MB, read once per worker process, well under a second per 100 MB);
// a folder dataset (ImageNet, millions of files) is fingerprinted by its
// listing: every file's path and size, not its bytes.
import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';

/** Bytes read at a time while hashing a file. */
const CHUNK = 1 << 20;

function hashFile(h: Hash, path: string, buf: Buffer): void {
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
}

function listFolder(h: Hash, root: string, dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) listFolder(h, root, p);
    else if (entry.isFile()) h.update(`${relative(root, p)}\0${statSync(p).size}\n`);
  }
}

/**
 * `sha256:` and 16 hex digits over the task's source files in the order the
 * loader lists them: each file's name (not its folder: the same data in
 * another place is the same data), size and bytes; a folder's listing.
 */
export function dataFingerprint(sources: readonly string[]): string {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(CHUNK);
  for (const src of sources) {
    const st = statSync(src);
    if (st.isDirectory()) {
      h.update(`dir ${basename(src)}\n`);
      listFolder(h, src, src);
    } else {
      h.update(`file ${basename(src)}\0${st.size}\n`);
      hashFile(h, src, buf);
    }
  }
  return `sha256:${h.digest('hex').slice(0, 16)}`;
}
