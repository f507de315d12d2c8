// Shared pieces of the model, trainer and CLI tests: temporary directories
// that clean up after themselves, run summaries with the wall-clock fields
// removed (so two runs can be compared exactly), the built CLI and a runner
// for it, and a generated CIFAR-10 folder.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/** The command-line entry point of the build these tests belong to (dist/test -> dist/src). */
export const cliPath = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Working directory (default: the repository root). */
  cwd?: string;
  /**
   * Killed with SIGKILL after this long (default 10 min): a guard against a
   * hung CLI, far above what any test's run takes on a busy machine, never a
   * time limit a test relies on.
   */
  timeoutMs?: number;
  /** Called as stderr grows; a signal it returns is sent to the CLI (once). */
  until?: (stderr: string, pid: number) => NodeJS.Signals | null;
  /** Run as this user and group (only root may ask for another user). */
  uid?: number;
  gid?: number;
}

/** runCli's default guard against a hung child process. */
export const HANG_GUARD_MS = 600_000;

/** Runs the built CLI with these arguments and collects its output. */
export function runCli(args: readonly string[], o: CliOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: o.cwd ?? repoRoot, stdio: ['ignore', 'pipe', 'pipe'], uid: o.uid, gid: o.gid });
    let stdout = '';
    let stderr = '';
    let sent = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      const sig = !sent && o.until ? o.until(stderr, child.pid!) : null;
      if (sig) {
        sent = true;
        child.kill(sig);
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? HANG_GUARD_MS);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * A folder holding cifar-10-batches-bin/ with five training batches and a
 * test batch of `records` records each: seeded random labels and pixels.
 */
export function cifar10Fixture(records: number, seed: number, prefix = 'cifar-'): string {
  const root = tempDir(prefix);
  const dir = join(root, 'cifar-10-batches-bin');
  mkdirSync(dir);
  // mulberry32: the fixture's bytes depend on the seed only.
  let state = seed >>> 0;
  const nextByte = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) & 0xff;
  };
  const batch = (): Uint8Array => {
    const b = new Uint8Array(records * 3073);
    for (let r = 0; r < records; r++) {
      b[r * 3073] = nextByte() % 10;
      for (let p = 1; p < 3073; p++) b[r * 3073 + p] = nextByte();
    }
    return b;
  };
  for (let f = 1; f <= 5; f++) writeFileSync(join(dir, `data_batch_${f}.bin`), batch());
  writeFileSync(join(dir, 'test_batch.bin'), batch());
  return root;
}

interface Timed {
  seconds: number;
}

/** Per-epoch metrics without their timings: what must be identical between equivalent runs. */
export function withoutSeconds<T extends Timed>(history: readonly T[]): Omit<T, 'seconds'>[] {
  return history.map(({ seconds: _s, ...rest }) => rest);
}
