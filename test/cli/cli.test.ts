// The command line end to end: `train --json` output, dropout, `--help`,
// `doctor --json`, and a run killed with SIGKILL and resumed from its
// checkpoint ending exactly where an uninterrupted run does. (Bad input, with
// its exit codes and messages: bad-input.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliPath, repoRoot, runCli, tempDir, withoutSeconds, type CliRun } from '../helpers.js';

/** Parses stdout that must be exactly one JSON object on one line. */
function oneJson(r: CliRun): Record<string, unknown> {
  assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, `stdout must be one JSON line, got:\n${r.stdout}`);
  const v: unknown = JSON.parse(lines[0]);
  assert.ok(v !== null && typeof v === 'object' && !Array.isArray(v));
  return v as Record<string, unknown>;
}

interface Metrics {
  loss: number;
  accuracy: number;
}
function assertMetrics(m: unknown, what: string): asserts m is Metrics {
  assert.ok(m !== null && typeof m === 'object', what);
  const { loss, accuracy } = m as Record<string, unknown>;
  assert.ok(typeof loss === 'number' && Number.isFinite(loss) && loss > 0, `${what}.loss = ${String(loss)}`);
  assert.ok(typeof accuracy === 'number' && accuracy >= 0 && accuracy <= 1, `${what}.accuracy = ${String(accuracy)}`);
}

const small = (dir: string, extra: string[] = []): string[] => [
  'train',
  '--task',
  'mnist',
  '--model',
  'wrn-10-1',
  '--train-limit',
  '256',
  '--val-size',
  '256',
  '--epochs',
  '1',
  '--threads',
  '1',
  '--json',
  '--checkpoint',
  dir,
  ...extra,
];

test('train --json prints one JSON object with the run summary', async () => {
  const dir = tempDir();
  const r = await runCli(small(dir));
  const j = oneJson(r);
  for (const k of ['task', 'model', 'epochs', 'seed', 'val', 'test', 'trainSeconds', 'threads']) assert.ok(k in j, `missing key ${k}`);
  assert.equal(j.task, 'mnist');
  assert.equal(j.model, 'wrn-10-1');
  assert.equal(j.epochs, 1);
  assert.equal(j.seed, 0);
  assert.equal(j.threads, 1);
  assertMetrics(j.val, 'val');
  assertMetrics(j.test, 'test');
  assert.ok(typeof j.trainSeconds === 'number' && j.trainSeconds > 0);
  assert.equal(j.parameters, 77_562);
  assert.equal(j.resumedFromEpoch, 0);
  assert.deepEqual(j.dropout, {});
  assert.ok(Array.isArray(j.history) && j.history.length === 1);
  // Progress goes to stderr, never into the JSON on stdout.
  assert.match(r.stderr, /epoch 1\/1 .*val acc/);
  assert.ok(existsSync(join(dir, 'state.json')) && existsSync(join(dir, 'result.json')), 'checkpoint and result written to --checkpoint');
  const saved = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
  assert.deepEqual(saved.val, j.val);
});

test('train --dropout dropout:0.1 runs and lists the slots it acts on', async () => {
  const r = await runCli(small(tempDir(), ['--dropout', 'dropout:0.1', '--seed', '2']));
  const j = oneJson(r);
  assert.equal(j.seed, 2);
  assertMetrics(j.val, 'val');
  // The classic dropout acts on every batch-norm output, not on the skip paths.
  assert.deepEqual(j.dropout, {
    'stage1.block1.bn1': 'dropout(rate=0.1)',
    'stage1.block1.bn2': 'dropout(rate=0.1)',
    'stage2.block1.bn1': 'dropout(rate=0.1)',
    'stage2.block1.bn2': 'dropout(rate=0.1)',
    'stage3.block1.bn1': 'dropout(rate=0.1)',
    'stage3.block1.bn2': 'dropout(rate=0.1)',
    'final.bn': 'dropout(rate=0.1)',
  });
});

test('train --help prints the usage and exits 0', async () => {
  const r = await runCli(['train', '--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Usage: autodropout train \[options\]/);
  for (const flag of ['--task', '--model', '--epochs', '--dropout', '--checkpoint', '--resume', '--json']) assert.ok(r.stdout.includes(flag), flag);
});

test('doctor --json exits 0 and reports the libtorch version and a passing self-test', async () => {
  const r = await runCli(['doctor', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    healthy: boolean;
    runtime: { libtorchVersion: string; threads: number };
    cores: number;
    checks: { name: string; status: string; detail: string }[];
  };
  assert.equal(j.healthy, true);
  assert.match(j.runtime.libtorchVersion, /^\d+\.\d+\.\d+/);
  const self = j.checks.find((c) => c.name === 'self-test');
  assert.ok(self, 'a self-test check');
  assert.equal(self.status, 'ok', self.detail);
  assert.ok(j.checks.some((c) => c.name === 'libtorch' && c.detail.includes(j.runtime.libtorchVersion)));
  assert.ok(j.cores >= 1);
});

/**
 * Waits until pred() holds or the child exits, polling every few milliseconds.
 * No deadline: the child's own progress (its checkpoint file) or its exit ends
 * the wait, however slow a busy machine makes it (runCli's guard still applies).
 */
function waitFor(pred: () => boolean, child: ReturnType<typeof spawn>): Promise<'ready' | 'exited'> {
  return new Promise((resolve) => {
    const tick = (): void => {
      if (pred()) return resolve('ready');
      if (child.exitCode !== null || child.signalCode !== null) return resolve('exited');
      setTimeout(tick, 5);
    };
    tick();
  });
}

function epochsDone(dir: string): number {
  try {
    return (JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as { epochsDone: number }).epochsDone;
  } catch {
    return 0; // not written yet (state.json is replaced atomically, so never half-written)
  }
}

test('a run killed with SIGKILL after epoch 1 resumes with --resume and ends like an uninterrupted run', async () => {
  const flags = (dir: string): string[] => [
    'train',
    '--task',
    'mnist',
    '--model',
    'wrn-10-1',
    '--train-limit',
    '512',
    '--val-size',
    '256',
    '--batch-size',
    '64',
    '--epochs',
    '3',
    '--threads',
    '1',
    '--dropout',
    'dropout:0.1',
    '--json',
    '--checkpoint',
    dir,
  ];
  const dir = tempDir();
  const child = spawn(process.execPath, [cliPath, ...flags(dir)], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let killedStdout = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (killedStdout += d));
  child.stderr.resume();
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
  const waited = await waitFor(() => epochsDone(dir) >= 1, child);
  assert.equal(waited, 'ready', 'the run ended before its first checkpoint');
  child.kill('SIGKILL');
  const [, signal] = await closed;
  const doneAtKill = epochsDone(dir);
  assert.equal(signal, 'SIGKILL', 'the run was killed, not finished');
  assert.ok(doneAtKill >= 1 && doneAtKill < 3, `killed after ${doneAtKill} epoch(s)`);
  assert.equal(killedStdout, '', 'a killed run printed no result');
  assert.ok(!existsSync(join(dir, 'result.json')));

  const resumed = oneJson(await runCli([...flags(dir), '--resume']));
  assert.ok(typeof resumed.resumedFromEpoch === 'number' && resumed.resumedFromEpoch >= 1, `resumedFromEpoch ${String(resumed.resumedFromEpoch)}`);
  assert.equal(resumed.resumedFromEpoch, doneAtKill);
  assert.equal(resumed.epochs, 3);

  const full = oneJson(await runCli(flags(tempDir())));
  assert.equal(full.resumedFromEpoch, 0);
  assert.equal(full.epochs, 3);
  assertMetrics(full.val, 'val');
  assert.deepEqual(resumed.val, full.val, 'final validation metrics');
  assert.deepEqual(resumed.test, full.test, 'test metrics');
  assert.deepEqual(
    withoutSeconds(resumed.history as { seconds: number }[]),
    withoutSeconds(full.history as { seconds: number }[]),
    'per-epoch history',
  );
});
