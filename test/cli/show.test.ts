// `autodropout show` end to end: PNGs that decode, repeatable bytes from a seed,
// slot selection in a pattern file, usage errors (exit 2) and missing or
// invalid pattern files (exit 1 with the validator's message).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { runCli, tempDir, type CliRun } from '../helpers.js';

const show = (args: readonly string[]): Promise<CliRun> => runCli(['show', ...args]);

function ok(r: CliRun, out: string): PNG {
  assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
  assert.equal(r.stdout.trim(), out, 'prints the output path');
  assert.ok(existsSync(out));
  return PNG.sync.read(readFileSync(out));
}

const dir = tempDir('autodropout-show-');

test('show preset:dropblock writes a PNG that decodes; same seed, same bytes', async () => {
  const a = join(dir, 'db.png');
  const png = ok(await show(['preset:dropblock', '--out', a]), a);
  assert.ok(png.width >= 300 && png.height >= 300, `${png.width}x${png.height}`);
  const b = join(dir, 'db-again.png');
  ok(await show(['preset:dropblock', '--out', b]), b);
  assert.ok(readFileSync(a).equals(readFileSync(b)));
  const c = join(dir, 'db-seed2.png');
  ok(await show(['preset:dropblock', '--seed', '2', '--out', c]), c);
  assert.ok(!readFileSync(a).equals(readFileSync(c)), 'another seed, other masks');
  // Shape flags change the layout: 3 samples of 2 channels is a smaller picture.
  const d = join(dir, 'db-small.png');
  const small = ok(await show(['preset:dropblock', '--samples', '3', '--channels', '2', '--size', '16x20', '--out', d]), d);
  assert.ok(small.height < png.height);
});

test('show --space tile --random 8 --seed 1: a gallery, repeatable, seed-dependent', async () => {
  const g = join(dir, 'g.png');
  const png = ok(await show(['--space', 'tile', '--random', '8', '--seed', '1', '--out', g]), g);
  const g2 = join(dir, 'g2.png');
  ok(await show(['--space', 'tile', '--random', '8', '--seed', '1', '--out', g2]), g2);
  assert.ok(readFileSync(g).equals(readFileSync(g2)));
  const g3 = join(dir, 'g3.png');
  ok(await show(['--space', 'tile', '--random', '8', '--seed', '3', '--out', g3]), g3);
  assert.ok(!readFileSync(g).equals(readFileSync(g3)));
  // 8 blocks: taller than one block, and fewer patterns make a shorter picture.
  const g4 = join(dir, 'g4.png');
  const two = ok(await show(['--space', 'tile', '--random', '2', '--seed', '1', '--out', g4]), g4);
  assert.ok(png.height > 2 * two.height, `${png.height} vs ${two.height}`);
  const s = join(dir, 'span.png');
  ok(await show(['--space', 'span', '--random', '3', '--seed', '1', '--size', '48', '--out', s]), s);
});

test('show picks a slot of a pattern file: by address, by slot name, default first non-none', async () => {
  const file = join(dir, 'p.json');
  writeFileSync(
    file,
    JSON.stringify({
      format: 'autodropout/pattern@1',
      slots: {
        'stage1.*': { kind: 'none' },
        'stage2.*': { kind: 'spatial', rate: 0.5 },
        'stage3.block1.bn1': { kind: 'dropout', rate: 0.3 },
      },
    }),
  );
  const run = async (extra: string[], name: string): Promise<Buffer> => {
    const out = join(dir, name);
    ok(await show([file, '--seed', '4', ...extra, '--out', out]), out);
    return readFileSync(out);
  };
  const byDefault = await run([], 'default.png');
  const byAddress = await run(['--slot', 'stage2.*'], 'addr.png');
  const byName = await run(['--slot', 'stage2.block1.bn2'], 'name.png');
  const exact = await run(['--slot', 'stage3.block1.bn1'], 'exact.png');
  const none = await run(['--slot', 'stage1.*'], 'none.png');
  // Default = stage2.* (the first pattern that is not none): the same picture as asking for it.
  assert.ok(byDefault.equals(byAddress));
  assert.ok(!exact.equals(byAddress));
  assert.ok(!none.equals(byAddress));
  // A slot name resolved through stage2.* draws the same masks; only the caption differs.
  const grid = (buf: Buffer): Buffer => {
    const png = PNG.sync.read(buf);
    const rows = 6 * 84 + 7 * 2; // 6 samples of 28x28 at 3 px per element, 2 px rules
    return png.data.subarray((png.height - 8 - rows) * png.width * 4);
  };
  assert.ok(grid(byName).equals(grid(byAddress)));
  assert.ok(!grid(exact).equals(grid(byAddress)));
  const r = await show([file, '--slot', 'stage9.block1.bn1', '--out', join(dir, 'x.png')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no address .* reaches that slot/);
});

test('bad flags exit 2 with a usage hint', async () => {
  const out = join(dir, 'bad.png');
  const cases: string[][] = [
    ['--out', out], // nothing to show
    ['preset:dropblock'], // no --out
    ['preset:dropblock', '--size', '0x4', '--out', out],
    ['preset:dropblock', '--size', 'big', '--out', out],
    ['preset:dropblock', '--samples', 'abc', '--out', out],
    ['preset:dropblock', '--channels', '0', '--out', out],
    ['preset:dropblock', '--seed', '-1', '--out', out],
    ['preset:dropblock', '--strength', '2', '--out', out],
    ['preset:dropblock', '--space', 'tile', '--out', out],
    ['--space', 'conv', '--random', '2', '--out', out],
    ['--random', '2', '--out', out],
    ['--space', 'tile', '--slot', 'x', '--out', out],
    ['--space', 'span', '--size', '28x28', '--out', out],
    ['preset:dropblock', '--size', '64', '--out', out], // dropblock needs an image map
    ['preset:dropblock', '--out', join(dir, 'not-a-png.txt')],
    ['preset:dropblock', '--frobnicate', '--out', out],
  ];
  // Independent runs, four at a time: each pays a CLI start-up.
  const runs: CliRun[] = [];
  for (let i = 0; i < cases.length; i += 4) runs.push(...(await Promise.all(cases.slice(i, i + 4).map((args) => show(args)))));
  for (const [i, args] of cases.entries()) {
    const r = runs[i];
    assert.equal(r.code, 2, `show ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    assert.match(r.stderr, /usage|--help/i, `show ${args.join(' ')}: ${r.stderr}`);
    assert.ok(!existsSync(out), `show ${args.join(' ')} wrote a picture`);
  }
});

test('a missing or invalid pattern file exits 1 with the validator message', async () => {
  const out = join(dir, 'never.png');
  const missing = await show([join(dir, 'no-such.json'), '--out', out]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no-such\.json: cannot read pattern file: no such file/);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ format: 'autodropout/pattern@1', slots: { '*': { kind: 'dropblock', blockSize: 0, keepProb: 0.9 } } }));
  const invalid = await show([bad, '--out', out]);
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /bad\.json: invalid pattern file/);
  assert.match(invalid.stderr, /blockSize/);
  const syntax = join(dir, 'syntax.json');
  writeFileSync(syntax, '{ "format": ');
  const broken = await show([syntax, '--out', out]);
  assert.equal(broken.code, 1);
  assert.match(broken.stderr, /syntax\.json:1:\d+: invalid JSON/);
  const preset = await show(['preset:nope', '--out', out]);
  assert.equal(preset.code, 1);
  assert.match(preset.stderr, /preset:nope: .*unknown preset.*dropblock/);
  assert.ok(!existsSync(out));
});
