// The child-training settings are declared once (train/settings.ts): every
// command that trains children gets the same flags and --config keys from it,
// the same checks, and a search child's trainer configuration follows it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { addChildSettingOptions, childSettingsFromFlags, overlayChildSettings } from '../../src/cli/child-settings.js';
import { configurableOptions } from '../../src/cli/config-file.js';
import { SEARCH_CHILD_SETTINGS, searchCommand } from '../../src/cli/search.js';
import { trainCommand } from '../../src/cli/train.js';
import { CHILD_SETTINGS, childSettingsProblem, childTrainConfig, defaultConfig, makeChildTrainConfig } from '../../src/train/settings.js';
import { runCli } from '../helpers.js';

test('every child setting is a flag of train and search, read back under its TrainConfig name', () => {
  const train = configurableOptions(trainCommand());
  const search = configurableOptions(searchCommand());
  for (const s of CHILD_SETTINGS) {
    if (s.key === 'seed') {
      assert.ok(train.has('seed'), 'train --seed');
      assert.ok(search.has('childSeed'), 'search --child-seed');
      continue;
    }
    assert.ok(train.has(s.key), `train lacks ${s.flag} (key ${s.key})`);
    assert.ok(search.has(s.key), `search lacks ${s.flag} (key ${s.key})`);
    assert.equal(train.get(s.key)?.[0].long, s.flag);
  }
  // A switch brings its negation: --augment / --no-augment are one key.
  assert.deepEqual(
    train.get('augment')?.map((o) => o.long),
    ['--augment', '--no-augment'],
  );
});

test('parsed flags give the settings that were given, and nothing else', () => {
  const cmd = addChildSettingOptions(new Command('x').exitOverride());
  cmd.parse(['--epochs', '2', '--lr', '0.5', '--no-augment', '--mem-len', '0'], { from: 'user' });
  assert.deepEqual(childSettingsFromFlags(cmd.opts()), { epochs: 2, lr: 0.5, augment: false, memLen: 0 });
  assert.throws(() => addChildSettingOptions(new Command('y').exitOverride().configureOutput({ writeErr: () => {} })).parse(['--epochs', '0'], { from: 'user' }), /--epochs must be a positive integer, got '0'/);
  // search reads the children's seed from --child-seed; a resume lays given settings over the stored ones.
  const stored = makeChildTrainConfig('mnist', 'wrn-10-1', { batchSize: 16 }, 5);
  assert.deepEqual(stored, { task: 'mnist', model: 'wrn-10-1', epochs: 3, childSeed: 5, batchSize: 16 });
  assert.deepEqual(overlayChildSettings(stored, { childSeed: 9, lr: 0.2, seed: 1 }, SEARCH_CHILD_SETTINGS), { ...stored, childSeed: 9, lr: 0.2 });
});

test('the shared checks: model and task, and each setting where it applies', () => {
  assert.equal(childSettingsProblem('mnist', 'wrn-10-1', {}), null);
  assert.match(childSettingsProblem('mnist', 'tlm-1-32', {}) ?? '', /^--model tlm-1-32 cannot train on --task mnist: model tlm-1-32 is a language model/);
  assert.match(childSettingsProblem('mnist', 'vgg-16', {}) ?? '', /^--model 'vgg-16' is not a model: expected wrn-D-K/);
  assert.match(childSettingsProblem('mnist', 'wrn-11-1', {}) ?? '', /^--model wrn-11-1: depth must be 6n\+4/);
  assert.match(childSettingsProblem('ptb', 'tlm-2-128', { memLen: 4 }) ?? '', /--mem-len is for txl-L-D models/);
  assert.equal(childSettingsProblem('ptb', 'txl-2-64', { memLen: 4 }), null);
  assert.match(childSettingsProblem('cifar10', 'wrn-10-1', { imageSize: 64 }) ?? '', /--image-size is for imagenet/);
  assert.match(childSettingsProblem('cifar10', 'wrn-10-1', { vocabSize: 10 }) ?? '', /--seq-len and --vocab-size are for language tasks/);
  assert.match(childSettingsProblem('ptb', 'tlm-2-128', { valSize: 10 }) ?? '', /--val-size is for image tasks/);
});

test('train refuses a setting that does not apply to its task, as search does (exit 2)', async () => {
  const r = await runCli(['train', '--task', 'mnist', '--seq-len', '16', '--dry-run']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--seq-len and --vocab-size are for language tasks/);
});

test("a search child's trainer configuration is the task's defaults with the stored settings", () => {
  const child = makeChildTrainConfig('cifar10', 'wrn-16-2', { augment: false, warmup: 0 }, 3);
  const c = childTrainConfig(child, 1);
  assert.deepEqual(c, { ...defaultConfig('cifar10', 'wrn-16-2'), augment: false, warmup: 0, seed: 3, threads: 1, evaluateTest: false });
});

test('--precision: one of fp32, bf16, fp16 on every command that trains children; fp16 refused where the children train on the CPU (exit 2)', async () => {
  const dry = await runCli(['train', '--task', 'mnist', '--precision', 'bf16', '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal((JSON.parse(dry.stdout) as { config: { precision: string } }).config.precision, 'bf16');
  assert.equal(defaultConfig('mnist').precision, 'fp32');
  const bad = await runCli(['train', '--task', 'mnist', '--precision', 'fp8', '--dry-run']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--precision must be one of fp32, bf16, fp16, got 'fp8'/);
  for (const args of [
    ['train', '--task', 'mnist', '--precision', 'fp16', '--dry-run'],
    ['search', '--task', 'mnist', '--db', '/nonexistent/never.db', '--precision', 'fp16', '--dry-run'],
    ['compare', '--task', 'mnist', '--precision', 'fp16', '--patterns', 'none', '--out', '/nonexistent/never-written'],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /--precision fp16 needs a CUDA device .* use --precision bf16 or fp32/, args.join(' '));
  }
  // With --redis each worker's --device decides: the flag is taken.
  const queued = await runCli(['search', '--task', 'mnist', '--db', '/nonexistent/never.db', '--precision', 'fp16', '--redis', 'redis://127.0.0.1:1/0', '--dry-run']);
  assert.doesNotMatch(queued.stderr, /--precision/);
});
