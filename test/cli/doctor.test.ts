// `autodropout doctor`'s dataset lines: found at the folder the loader would read, or not found
// with every path looked at and how to get the data; ImageNet without --data-dir is "set
// --data-dir", not missing. On fixture folders written here (empty files: doctor must not read
// them), through probeDataset and through the CLI (--data-dir and the working directory).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataChecks, probeDataset, type DataCheck } from '../../src/cli/doctor-data.js';
import { TASKS } from '../../src/train/task-names.js';
import { runCli, tempDir } from '../helpers.js';

/** The CLI built next to this test (whatever the build folder is called). */

/** Empty files with the given names: enough to be found, never enough to load. */
function touch(dir: string, names: readonly string[]): string {
  mkdirSync(dir, { recursive: true });
  for (const n of names) writeFileSync(join(dir, n), '');
  return dir;
}

const CIFAR10_FILES = [...[1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`), 'test_batch.bin'];
const WIKI_FILES = ['wiki.train.tokens', 'wiki.valid.tokens', 'wiki.test.tokens'];

test('a dataset is found at the folder its loader would read, without reading the files', () => {
  const root = tempDir('doctor-data-');
  const cifar = touch(join(root, 'cifar-10-batches-bin'), CIFAR10_FILES);
  const ptb = touch(join(root, 'simple-examples', 'data'), ['ptb.train.txt', 'ptb.valid.txt', 'ptb.test.txt']);
  mkdirSync(join(root, 'imagenet', 'train'), { recursive: true });

  const c = probeDataset('cifar10', { dataDir: root, searchPaths: [] });
  assert.deepEqual(c, { name: 'data:cifar10', task: 'cifar10', status: 'ok', found: true, location: cifar, detail: `found at ${cifar}` });
  assert.equal(probeDataset('ptb', { dataDir: root, searchPaths: [] }).location, ptb);
  // ImageNet's ROOT is the folder holding train/ (here dataDir/imagenet).
  assert.equal(probeDataset('imagenet', { dataDir: root, searchPaths: [] }).location, join(root, 'imagenet'));
  // The default locations alone (searchPaths stands for the working directory).
  assert.equal(probeDataset('cifar10', { searchPaths: [root] }).location, cifar);
});

test('not found: every path looked at and how to get the data; ImageNet without --data-dir says to set it', () => {
  const empty = tempDir('doctor-empty-');
  const c = probeDataset('cifar100', { dataDir: empty, searchPaths: [] });
  assert.equal(c.status, 'warn');
  assert.equal(c.found, false);
  assert.deepEqual(c.paths, [empty, join(empty, 'cifar-100-binary')]);
  assert.equal(c.detail, `not found (looked in ${empty}, ${join(empty, 'cifar-100-binary')})`);
  assert.match(c.fix ?? '', /https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar-100-binary\.tar\.gz[^]*--data-dir DIR/);

  const w = probeDataset('wikitext-103', { searchPaths: [empty] });
  assert.deepEqual(w.paths, [empty, join(empty, 'wikitext-103')]);
  assert.match(w.fix ?? '', /wikitext-103-v1\.zip/);

  const inet = probeDataset('imagenet', { searchPaths: [empty] });
  assert.equal(inet.status, 'info', 'no default location: not finding it is not a problem');
  assert.equal(inet.detail, `no default location: set --data-dir ROOT (looked in ${empty}, ${join(empty, 'imagenet')})`);
  assert.match(inet.fix ?? '', /ROOT\/train\/<class>\//);
  const asked = probeDataset('imagenet', { dataDir: empty, searchPaths: [] });
  assert.equal(asked.status, 'warn', 'asked for with --data-dir and not there: a warning');
  assert.match(asked.detail, /^not found \(looked in /);

  // A folder with some of the files is a problem of its own, named by the loader.
  touch(join(empty, 'wikitext-2'), ['wiki.train.tokens']);
  const partial = probeDataset('wikitext-2', { dataDir: empty, searchPaths: [] });
  assert.equal(partial.status, 'warn');
  assert.equal(partial.detail, `WikiText-2: ${join(empty, 'wikitext-2')} is incomplete: it has wiki.train.tokens but lacks wiki.valid.tokens, wiki.test.tokens`);

  const all = dataChecks(TASKS, { dataDir: empty, searchPaths: [] });
  assert.deepEqual(
    all.map((d) => d.task),
    [...TASKS],
  );
  assert.ok(all.every((d) => d.status === 'warn' && d.found === false && (d.paths ?? []).length > 0));
});

test('doctor lists every task: --data-dir is searched first, then the working directory', async () => {
  const dataDir = tempDir('doctor-dir-');
  const cifar = touch(join(dataDir, 'cifar-10-batches-bin'), CIFAR10_FILES);
  const cwd = tempDir('doctor-cwd-');
  const wiki = touch(join(cwd, 'wikitext-2'), WIKI_FILES);

  const r = await runCli(['doctor', '--json', '--data-dir', dataDir], { cwd });
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { healthy: boolean; checks: DataCheck[] };
  assert.equal(j.healthy, true, 'missing datasets do not make the engine unhealthy');
  const data = new Map(j.checks.filter((c) => c.name.startsWith('data:')).map((c) => [c.task, c]));
  assert.deepEqual([...data.keys()], [...TASKS]);
  assert.equal(data.get('cifar10')?.location, cifar);
  assert.equal(data.get('wikitext-2')?.location, wiki);
  assert.deepEqual(data.get('cifar100')?.paths, [dataDir, join(dataDir, 'cifar-100-binary'), cwd, join(cwd, 'cifar-100-binary')]);
  assert.equal(data.get('imagenet')?.status, 'warn');

  // Without --data-dir: ImageNet is "set --data-dir"; the text report shows where things are.
  const text = await runCli(['doctor'], { cwd });
  assert.equal(text.code, 0, text.stderr);
  assert.ok(text.stdout.includes(`[ok  ] data:wikitext-2: found at ${wiki}\n`), text.stdout);
  assert.match(text.stdout, /\[info\] data:imagenet: no default location: set --data-dir ROOT \(looked in /);
  assert.match(text.stdout, /\[WARN\] data:cifar10: not found \(looked in [^\n]*\)\n\s+fix: download the CIFAR-10 binary version, https:\/\/www\.cs\.toronto\.edu\/~kriz\/cifar-10-binary\.tar\.gz/);
});
