// The command line on the file-format datasets: `train --task cifar10` on a CIFAR-10 folder
// written here, the message for a missing dataset, and the task lists in the usage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/util/rng.js';
import { repoRoot, tempDir } from '../helpers.js';

/** The CLI built next to this test (whatever the build folder is called). */
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: readonly string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** cifar-10-batches-bin/ with 5 × 20 training and 20 test records of random pixels and labels. */
function cifarFixture(): string {
  const root = tempDir('cifar-cli-');
  const dir = join(root, 'cifar-10-batches-bin');
  mkdirSync(dir);
  const rng = new Rng(2);
  const batch = (n: number): Uint8Array => {
    const b = new Uint8Array(n * 3073);
    for (let r = 0; r < n; r++) {
      b[r * 3073] = rng.nextInt(10);
      for (let p = 1; p < 3073; p++) b[r * 3073 + p] = rng.nextInt(256);
    }
    return b;
  };
  for (let f = 1; f <= 5; f++) writeFileSync(join(dir, `data_batch_${f}.bin`), batch(20));
  writeFileSync(join(dir, 'test_batch.bin'), batch(20));
  return root;
}

test('train --task cifar10 --data-dir DIR --json trains on the binary batches and reports test accuracy', async () => {
  const dataDir = cifarFixture();
  const r = await runCli(['train', '--task', 'cifar10', '--data-dir', dataDir, '--model', 'wrn-10-1', '--epochs', '1', '--json', '--val-size', '20', '--threads', '1', '--checkpoint', tempDir()]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
  assert.equal(lines.length, 1, r.stdout);
  const j = JSON.parse(lines[0]) as { task: string; epochs: number; test: { accuracy: number; loss: number }; val: { accuracy: number }; history: unknown[] };
  assert.equal(j.task, 'cifar10');
  assert.equal(j.epochs, 1);
  assert.equal(j.history.length, 1);
  // 20 test and 20 validation images: accuracies are multiples of 1/20.
  for (const acc of [j.test.accuracy, j.val.accuracy]) assert.ok(Math.abs(acc * 20 - Math.round(acc * 20)) < 1e-9 && acc >= 0 && acc <= 1, `accuracy ${acc}`);
  assert.ok(Number.isFinite(j.test.loss) && j.test.loss > 0);
});

test('a missing dataset exits 1 with the paths tried and how to get it, without a stack trace', async () => {
  const empty = tempDir('no-cifar-');
  const r = await runCli(['train', '--task', 'cifar10', '--data-dir', empty, '--threads', '1', '--checkpoint', tempDir()]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^autodropout: CIFAR-10 not found\. Looked for data_batch_1\.bin/m);
  assert.ok(r.stderr.includes(join(empty, 'cifar-10-batches-bin')), r.stderr);
  assert.match(r.stderr, /pass --data-dir DIR/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);

  const noImagenet = await runCli(['train', '--task', 'imagenet', '--data-dir', empty, '--threads', '1', '--checkpoint', tempDir()]);
  assert.equal(noImagenet.code, 1);
  assert.match(noImagenet.stderr, /ImageNet not found: no train\/ folder[^]*ROOT\/train\/<class>\//);
});

test('the usage lists every task; task-specific flags are refused elsewhere (exit 2)', async () => {
  const help = await runCli(['train', '--help']);
  assert.equal(help.code, 0);
  for (const t of ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'imagenet', 'sotu', 'moby-dick', 'ptb', 'wikitext-2', 'wikitext-103']) assert.ok(help.stdout.includes(t), `train --help lacks ${t}`);
  assert.match(help.stdout, /--no-augment/);
  const searchHelp = await runCli(['search', '--help']);
  assert.match(searchHelp.stdout.replace(/\s+/g, ' '), /cifar10 \| cifar100 \| imagenet \| sotu \| moby-dick \| ptb \| wikitext-2 \| wikitext-103/);

  const size = await runCli(['train', '--task', 'mnist', '--image-size', '32']);
  assert.equal(size.code, 2);
  assert.match(size.stderr, /--image-size is for imagenet/);
  const unknown = await runCli(['train', '--task', 'cifar-10']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--task must be one of fashion-mnist, mnist, cifar10, cifar100, imagenet, sotu, moby-dick, ptb, wikitext-2, wikitext-103 or auto/);
  const vocab = await runCli(['search', '--task', 'cifar10', '--vocab-size', '100', '--db', join(tempDir(), 's.db')]);
  assert.equal(vocab.code, 2);
  assert.match(vocab.stderr, /--seq-len and --vocab-size are for language tasks \(sotu, moby-dick, ptb, wikitext-2, wikitext-103\)/);
});
