// `--config FILE` for train and search: every paper config in configs/paper
// resolves (--dry-run, no data) to exactly the values it holds; flags given on
// the command line win; malformed files exit 2 naming the file, the key, the
// value and what is allowed; and one paper config drives a real (tiny) run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { childTrainConfig } from '../../src/search/executors/child.js';
import { loadTask } from '../../src/train/index.js';
import { cifar10Fixture, repoRoot, runCli, tempDir } from '../helpers.js';

/** The CLI built next to this test (whatever the build folder is called). */
const paperDir = join(repoRoot, 'configs', 'paper');

type Json = Record<string, unknown>;

/** Runs a dry run and returns its JSON (exit 0 required). */
async function dryRun(args: readonly string[]): Promise<Json> {
  const r = await runCli([...args, '--dry-run']);
  assert.equal(r.code, 0, `${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  return JSON.parse(r.stdout) as Json;
}

/** Where a dry run shows a key: the trainer config, the study, its child config, or the run itself. */
function resolved(run: Json, key: string): unknown {
  const places = [run.config, run.study, (run.study as Json | undefined)?.child, run].filter((p): p is Json => p !== undefined);
  for (const p of places) if (Object.hasOwn(p, key)) return p[key];
  return undefined;
}

const paperFiles = readdirSync(paperDir).filter((f) => f.endsWith('.json'));
const commandOf = (file: string): 'train' | 'search' => (file.includes('-search-') ? 'search' : 'train');

function writeConfig(value: unknown): string {
  const file = join(tempDir('config-'), 'run.json');
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value));
  return file;
}

test('configs/paper holds the seven paper runs, each with its provenance', () => {
  assert.deepEqual(paperFiles.sort(), [
    'cifar10-search-wrn-28-2.json',
    'cifar10-train-wrn-28-10.json',
    'imagenet-search-resnet-50.json',
    'imagenet-train-efficientnet-b0.json',
    'imagenet-train-resnet-50.json',
    'ptb-search-txl-16-320.json',
    'ptb-train-txl-16-320.json',
  ]);
  for (const f of paperFiles) {
    const c = JSON.parse(readFileSync(join(paperDir, f), 'utf8')) as Json;
    assert.ok(Array.isArray(c.description) && c.description.length >= 3, `${f}: description`);
    assert.match(String(c.paper), /AutoDropout.*AAAI 2021/, f);
    // Every choice is tagged: what the paper states, or what we chose.
    assert.ok((c.description as string[]).some((l) => l.includes('[chosen]')), `${f}: no [chosen] line`);
  }
});

test('every paper config resolves, without data, to exactly the values it holds', async () => {
  for (const f of paperFiles) {
    const file = join('configs', 'paper', f);
    const run = await dryRun([commandOf(f), '--config', file]);
    assert.equal(run.command, commandOf(f));
    const c = JSON.parse(readFileSync(join(paperDir, f), 'utf8')) as Json;
    for (const [key, value] of Object.entries(c)) {
      if (key === 'description' || key === 'paper') continue;
      assert.deepEqual(resolved(run, key), value, `${f}: ${key}`);
    }
  }
});

test('flags on the command line win over the file', async () => {
  const train = await dryRun(['train', '--config', 'configs/paper/cifar10-train-wrn-28-10.json', '--epochs', '3', '--model', 'wrn-16-2', '--no-augment', '--seed', '4']);
  const c = train.config as Json;
  assert.equal(c.epochs, 3);
  assert.equal(c.model, 'wrn-16-2');
  assert.equal(c.augment, false);
  assert.equal(c.seed, 4);
  assert.equal(c.batchSize, 128, 'keys the command line does not give come from the file');
  assert.equal(c.weightDecay, 0.0005);
  assert.equal(c.gradClip, 0);

  const search = await dryRun(['search', '--config', 'configs/paper/ptb-search-txl-16-320.json', '--trials', '5', '--mem-len', '0', '--db', join(tempDir(), 's.db')]);
  const study = search.study as Json & { child: Json };
  assert.equal(study.trials, 5);
  assert.equal(study.child.memLen, 0);
  assert.equal(study.child.seqLen, 70);
  assert.equal(study.child.gradClip, 0.25);
  assert.match(String(search.db), /s\.db$/);
});

test('a required option may come from the file, and is still required', async () => {
  const fromFile = await dryRun(['train', '--config', writeConfig({ task: 'mnist', epochs: 2 })]);
  assert.equal((fromFile.config as Json).task, 'mnist');
  const none = await runCli(['train', '--config', writeConfig({ epochs: 2 })]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /required option '--task <name>' not specified \(on the command line, or as "task" in a --config file\)/);
});

test('malformed files exit 2 naming the file, the key, the value and what is allowed', async () => {
  const cases: [string, unknown, RegExp][] = [
    ['bad JSON', '{"task": "cifar10",', /: not valid JSON: /],
    ['not an object', '[1, 2]', /holds one JSON object .* got an array/],
    ['unknown key', { task: 'cifar10', 'batch-size': 64 }, /unknown key "batch-size" \(did you mean "batchSize"\?\)\. Keys are the long flags of autodropout train in camelCase: task, model, epochs, batchSize,.* plus "description" and "paper"/],
    ['wrong type (string for a number)', { task: 'cifar10', epochs: '200' }, /key "epochs" = "200" has the wrong type: --epochs takes a number \(write 200, without quotes\)/],
    ['wrong type (number for a string)', { task: 'cifar10', model: 28 }, /key "model" = 28 has the wrong type: --model takes a string/],
    ['wrong type (switch)', { task: 'cifar10', augment: 'yes' }, /key "augment" = "yes" has the wrong type: "augment" is the switch --augment \/ --no-augment and takes true or false/],
    ['bad value', { task: 'cifar10', lr: -1 }, /key "lr" = -1 is not allowed: --lr must be a positive number, got '-1'/],
    ['bad provenance', { task: 'cifar10', description: 3 }, /key "description" must be a string or an array of strings, got 3/],
  ];
  for (const [what, value, message] of cases) {
    const file = writeConfig(value);
    const r = await runCli(['train', '--config', file, '--dry-run']);
    assert.equal(r.code, 2, `${what}: ${r.stderr}`);
    assert.ok(r.stderr.startsWith(`autodropout: ${file}: `), `${what}: the message names the file: ${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.equal(r.stdout, '');
  }

  const badEnum = writeConfig({ task: 'cifar10', space: 'grid', db: 'x.db' });
  const e = await runCli(['search', '--config', badEnum, '--dry-run']);
  assert.equal(e.code, 2);
  assert.match(e.stderr, /key "space" = "grid" is not allowed: --space must be one of tile, span\./);

  // A value the command checks later (the task list) still says it came from the file.
  const badTask = writeConfig({ task: 'cifar-10' });
  const t = await runCli(['train', '--config', badTask, '--dry-run']);
  assert.equal(t.code, 2);
  assert.ok(t.stderr.includes(`--task must be one of fashion-mnist, mnist, cifar10`) && t.stderr.includes(`got 'cifar-10'. ("task" set in ${badTask})`), t.stderr);

  const missing = await runCli(['train', '--config', join(tempDir(), 'none.json')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /none\.json: cannot read the --config file \(no such file\)/);
});

test('--mem-len is for Transformer-XL, --image-size for imagenet; search children get them and the optimizer flags', async () => {
  const r = await runCli(['train', '--task', 'ptb', '--model', 'tlm-2-128', '--mem-len', '10', '--dry-run']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--mem-len is for txl-L-D models/);
  const s = await runCli(['search', '--task', 'cifar10', '--model', 'wrn-16-2', '--mem-len', '10', '--db', join(tempDir(), 's.db'), '--dry-run']);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /--mem-len is for txl-L-D models/);

  const child = childTrainConfig({ task: 'ptb', model: 'txl-2-64', epochs: 1, childSeed: 0, memLen: 7, weightDecay: 0, gradClip: 0.25, warmup: 0 }, 1);
  assert.equal(child.memLen, 7);
  assert.equal(child.weightDecay, 0);
  assert.equal(child.gradClip, 0.25);
  assert.equal(child.warmup, 0);
  assert.equal(childTrainConfig({ task: 'imagenet', model: 'resnet-50', epochs: 1, childSeed: 0, imageSize: 160 }, 1).imageSize, 160);
  assert.equal(childTrainConfig({ task: 'imagenet', model: 'efficientnet-b3', epochs: 1, childSeed: 0 }, 1).imageSize, 300);
  const img = await runCli(['search', '--task', 'cifar10', '--model', 'wrn-16-2', '--image-size', '64', '--db', join(tempDir(), 's.db'), '--dry-run']);
  assert.equal(img.code, 2);
  assert.match(img.stderr, /--image-size is for imagenet/);
  const ok = await runCli(['search', '--task', 'imagenet', '--model', 'resnet-18', '--image-size', '96', '--db', join(tempDir(), 's.db'), '--dry-run']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /"imageSize": ?96/);
  // A study made before these flags existed keeps the task defaults.
  const old = childTrainConfig({ task: 'ptb', model: 'txl-2-64', epochs: 1, childSeed: 0 }, 1);
  assert.equal(old.memLen, undefined);
  assert.equal(old.weightDecay, 0.01);
  assert.equal(old.gradClip, 1);

  // The trainer hands memLen to the task, whose model input carries it to txl-L-D.
  const withMemory = loadTask('moby-dick', { seed: 0, augment: false, seqLen: 8, memLen: 3, trainLimit: 1000 });
  assert.equal(withMemory.modelInput.memLen, 3);
  assert.equal(loadTask('moby-dick', { seed: 0, augment: false, seqLen: 8, trainLimit: 1000 }).modelInput.memLen, undefined);
});

test('train --config configs/paper/cifar10-train-wrn-28-10.json trains, with overrides that make it small', async () => {
  const checkpoint = tempDir('ckpt-');
  const r = await runCli([
    'train',
    '--config',
    'configs/paper/cifar10-train-wrn-28-10.json',
    '--model',
    'wrn-10-1',
    '--epochs',
    '1',
    '--batch-size',
    '16',
    '--val-size',
    '8',
    '--data-dir',
    cifar10Fixture(8, 3, 'cifar-config-'),
    '--threads',
    '1',
    '--checkpoint',
    checkpoint,
    '--json',
  ]);
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { task: string; model: string; epochs: number; test: { accuracy: number } };
  assert.equal(result.task, 'cifar10');
  assert.equal(result.model, 'wrn-10-1');
  assert.equal(result.epochs, 1);
  assert.ok(result.test.accuracy >= 0 && result.test.accuracy <= 1);
  // The run's recorded configuration: the file's recipe, the command line's size.
  const state = JSON.parse(readFileSync(join(checkpoint, 'state.json'), 'utf8')) as { configKey: string };
  const used = JSON.parse(state.configKey) as Json;
  assert.equal(used.weightDecay, 0.0005);
  assert.equal(used.gradClip, 0);
  assert.equal(used.warmup, 0);
  assert.equal(used.lr, 0.1);
  assert.equal(used.augment, true);
  assert.equal(used.batchSize, 16);
  assert.equal(used.valSize, 8);
});
