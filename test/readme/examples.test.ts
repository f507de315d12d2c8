// The README's TypeScript examples are run as they are written: each ```ts
// block that imports 'autodropout' is transpiled, its imports pointed at this
// checkout's build, and executed in a fresh Node process.
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
