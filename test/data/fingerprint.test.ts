// dataFingerprint(): what a search records of the data each child trained on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dataFingerprint } from '../../src/data/fingerprint.js';
import { cifar10Fixture, tempDir } from '../helpers.js';

const batches = (root: string): string[] => [1, 2, 3, 4, 5].map((i) => join(root, 'cifar-10-batches-bin', `data_batch_${i}.bin`));

test('the same bytes give the same fingerprint wherever they are; a changed byte, a truncation or another order does not', () => {
  const a = cifar10Fixture(8, 1);
  const fp = dataFingerprint(batches(a));
  assert.match(fp, /^sha256:[0-9a-f]{16}$/);
  // A copy elsewhere is the same data.
  const b = tempDir('copy-');
  mkdirSync(join(b, 'cifar-10-batches-bin'));
  for (const f of batches(a)) copyFileSync(f, join(b, 'cifar-10-batches-bin', f.split('/').at(-1)!));
  assert.equal(dataFingerprint(batches(b)), fp);
  // One label changed (the file stays loadable).
  const f3 = batches(b)[2];
  const bytes = readFileSync(f3);
  bytes[0] = (bytes[0] + 1) % 10;
  writeFileSync(f3, bytes);
  const changed = dataFingerprint(batches(b));
  assert.notEqual(changed, fp);
  writeFileSync(f3, bytes.subarray(0, bytes.length - 3073));
  assert.notEqual(dataFingerprint(batches(b)), changed);
  assert.notEqual(dataFingerprint([...batches(a)].reverse()), fp, 'the order the loader lists its files in');
  // Another dataset with the same file names.
  assert.notEqual(dataFingerprint(batches(cifar10Fixture(8, 2))), fp);
});

test('a folder dataset is fingerprinted by its listing: a file added, removed or resized changes it', () => {
  const root = tempDir('folder-');
  for (const cls of ['cat', 'dog']) {
    mkdirSync(join(root, 'train', cls), { recursive: true });
    for (let i = 0; i < 3; i++) writeFileSync(join(root, 'train', cls, `${i}.jpg`), Buffer.alloc(10 + i));
  }
  const fp = dataFingerprint([join(root, 'train')]);
  assert.equal(dataFingerprint([join(root, 'train')]), fp, 'repeatable');
  writeFileSync(join(root, 'train', 'dog', '3.jpg'), Buffer.alloc(1));
  const added = dataFingerprint([join(root, 'train')]);
  assert.notEqual(added, fp);
  appendFileSync(join(root, 'train', 'cat', '0.jpg'), 'x');
  assert.notEqual(dataFingerprint([join(root, 'train')]), added);
});

test('a source that does not exist is an error naming it', () => {
  assert.throws(() => dataFingerprint(['/nonexistent/data_batch_1.bin']), /ENOENT.*\/nonexistent\/data_batch_1\.bin/);
});
