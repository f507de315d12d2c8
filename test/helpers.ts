// Shared pieces of the model, trainer and CLI tests: temporary directories
// that clean up after themselves, run summaries with the wall-clock fields
// removed (so two runs can be compared exactly), and the path of the built CLI.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh directory under the OS temp dir, removed when the process exits. */
export function tempDir(prefix = 'autodropout-test-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}

/** The repository root (this file is built to dist/test/helpers.js). */
export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The built command-line entry point. */
export const cliPath = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

interface Timed {
  seconds: number;
}

/** Per-epoch metrics without their timings: what must be identical between equivalent runs. */
export function withoutSeconds<T extends Timed>(history: readonly T[]): Omit<T, 'seconds'>[] {
  return history.map(({ seconds: _s, ...rest }) => rest);
}
