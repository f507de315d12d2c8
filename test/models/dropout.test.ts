// The classic element-wise dropout behind `train --dropout dropout:RATE`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, ops, setNumThreads, tidy } from '../../src/engine/index.js';
import { ElementwiseDropout, dropoutFromSpec, parseDropoutSpec } from '../../src/layers/dropout.js';
import type { SlotInfo } from '../../src/models/index.js';

setNumThreads(1);

const slot: SlotInfo = { name: 's', kind: 'conv', depth: 0, channels: 4 };

test('parseDropoutSpec accepts none and dropout:RATE with 0 <= RATE < 1 only', () => {
  assert.deepEqual(parseDropoutSpec('none'), { kind: 'none' });
  assert.deepEqual(parseDropoutSpec('dropout:0.1'), { kind: 'dropout', rate: 0.1 });
  assert.deepEqual(parseDropoutSpec('dropout:0'), { kind: 'dropout', rate: 0 });
  assert.deepEqual(parseDropoutSpec('dropout:.5'), { kind: 'dropout', rate: 0.5 });
  for (const bad of ['dropout:1', 'dropout:1.5', 'dropout:-0.1', 'dropout:', 'dropout', 'dropout:abc', 'Dropout:0.1', '']) {
    assert.throws(() => parseDropoutSpec(bad), (e: Error) => e.message.includes(`invalid --dropout '${bad}'`) && e.message.includes('dropout:RATE'), bad);
  }
  assert.equal(dropoutFromSpec({ kind: 'none' }), null);
  assert.equal(dropoutFromSpec({ kind: 'dropout', rate: 0.25 })?.description, 'dropout(rate=0.25)');
  assert.throws(() => new ElementwiseDropout(1), RangeError);
});

test('element-wise dropout zeroes about RATE of the entries, scales the rest by 1/(1-RATE), and follows its generator', () => {
  const d = new ElementwiseDropout(0.25);
  tidy(() => {
    const x = ops.ones([64, 4, 8, 8]);
    const a = d.apply(x, { generator: new Generator(3), progress: 0 }, slot).toArray();
    const b = d.apply(x, { generator: new Generator(3), progress: 0 }, slot).toArray();
    const c = d.apply(x, { generator: new Generator(4), progress: 0 }, slot).toArray();
    assert.deepEqual(a, b, 'same generator seed, same mask');
    assert.notDeepEqual(a, c);
    const zeros = a.filter((v) => v === 0).length / a.length;
    assert.ok(Math.abs(zeros - 0.25) < 0.02, `dropped fraction ${zeros}`);
    assert.ok(a.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
    const same = new ElementwiseDropout(0).apply(x, { generator: new Generator(3), progress: 0 }, slot);
    assert.equal(same, x, 'rate 0 is the identity');
  });
});
