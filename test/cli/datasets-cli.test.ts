// The command line on the file-format datasets: `train --task cifar10` on a CIFAR-10 folder
// written here, and the task lists in the usage. (A missing dataset and task-specific flags on
// the wrong task: bad-input.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cifar10Fixture, runCli, tempDir } from '../helpers.js';

/** The CLI built next to this test (whatever the build folder is called). */

test('train --task cifar10 --data-dir DIR --json trains on the binary batches and reports test accuracy', async () => {
  const dataDir = cifar10Fixture(20, 2, 'cifar-cli-');
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

test('the usage lists every task', async () => {
  const help = await runCli(['train', '--help']);
  assert.equal(help.code, 0);
  for (const t of ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'imagenet', 'sotu', 'moby-dick', 'ptb', 'wikitext-2', 'wikitext-103']) assert.ok(help.stdout.includes(t), `train --help lacks ${t}`);
  assert.match(help.stdout, /--no-augment/);
  const searchHelp = await runCli(['search', '--help']);
  assert.match(searchHelp.stdout.replace(/\s+/g, ' '), /cifar10 \| cifar100 \| imagenet \| sotu \| moby-dick \| ptb \| wikitext-2 \| wikitext-103/);
});
