// The README's TypeScript examples are run as they are written: each ```ts
// block that imports 'autodropout' is transpiled, its imports pointed at this
// checkout's build, and executed in a fresh Node process. Its shell commands
// use ./autodropout, the launcher that runs this checkout's build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { repoRoot } from '../helpers.js';

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => b.includes("from 'autodropout"));

test('the README has runnable examples for the engine, patterns and TF.js', () => {
  assert.ok(blocks.length >= 3, `found ${blocks.length} examples`);
  assert.ok(blocks.some((b) => b.includes("from 'autodropout/tfjs'")));
});

blocks.forEach((code, i) => {
  test(`README example ${i + 1} runs: ${code.split('\n')[0]}`, () => {
    const js = ts
      .transpileModule(code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
      .outputText.replaceAll("from 'autodropout/tfjs'", `from '${join(repoRoot, 'dist/src/layers/tfjs.js')}'`)
      .replaceAll("from 'autodropout'", `from '${join(repoRoot, 'dist/src/index.js')}'`);
    // Inside the checkout, so that bare imports (@tensorflow/tfjs) resolve from its node_modules.
    const dir = join(repoRoot, 'dist', 'readme-examples');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `example${i + 1}.mjs`);
    writeFileSync(file, js);
    const r = spawnSync(process.execPath, [file], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(r.status, 0, `example ${i + 1} failed:\n${r.stderr}`);
  });
});

test("the README's commands call ./autodropout, which runs this checkout's build without installing anything", () => {
  const commands = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)].flatMap((m) => m[1].split('\n')).filter((l) => /autodropout /.test(l));
  assert.ok(commands.length >= 6, `found ${commands.length} command lines`);
  for (const line of commands) assert.match(line.trim(), /^\.\/autodropout [a-z]+ /, line);
  assert.doesNotMatch(readme, /npx autodropout [a-z]/, 'npx in a clone installs the package from it first');
  const r = spawnSync(join(repoRoot, 'autodropout'), ['train', '--help'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: autodropout train \[options\]/);
});
