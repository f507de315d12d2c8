// Scopes: tidy frees intermediates and keeps results; nothing leaks in a training loop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Generator,
  backward,
  dispose,
  grad,
  keep,
  liveTensorCount,
  noGrad,
  ops,
  requiresGrad,
  setNumThreads,
  sgd,
  tidy,
  type Tensor,
} from '../../src/engine/index.js';

setNumThreads(1);

test('tidy frees intermediates and keeps what it returns', () => {
  const base = liveTensorCount();
  let inner: Tensor[] = [];
  const out = tidy(() => {
    const a = ops.ones([3]);
    const b = ops.mul(a, 2);
    const c = ops.add(b, 1);
    inner = [a, b];
    assert.equal(liveTensorCount(), base + 3);
    return c;
  });
  assert.equal(liveTensorCount(), base + 1);
  assert.ok(inner.every((t) => t.isDisposed));
  assert.deepEqual(out.toArray(), [3, 3, 3]);
  out.dispose();
  assert.equal(liveTensorCount(), base);
});

test('tidy returns tensors inside arrays, maps and plain objects', () => {
  const base = liveTensorCount();
  const r = tidy(() => {
    ops.zeros([1]); // dropped
    return { x: ops.ones([1]), list: [ops.ones([2]), 5], map: new Map([['m', ops.ones([3])]]), label: 'ok' };
  });
  assert.equal(liveTensorCount(), base + 3);
  assert.equal(r.label, 'ok');
  assert.deepEqual((r.map.get('m') as Tensor).shape, [3]);
  dispose(r);
  assert.equal(liveTensorCount(), base);
});

test('nested tidy moves returned tensors to the outer scope; keep() exempts', () => {
  const base = liveTensorCount();
  let fromInner: Tensor | undefined;
  let kept: Tensor | undefined;
  const result = tidy(() => {
    const outerTemp = ops.ones([2]);
    fromInner = tidy(() => {
      ops.zeros([5]); // freed by the inner scope
      kept = keep(ops.full([1], 9));
      return ops.add(outerTemp, 1);
    });
    assert.equal(fromInner.isDisposed, false, 'alive in the outer scope');
    assert.equal(liveTensorCount(), base + 3); // outerTemp, fromInner, kept
    return ops.mul(fromInner, 2);
  });
  assert.equal(fromInner?.isDisposed, true, 'freed when the outer scope ends');
  assert.equal(kept?.isDisposed, false);
  assert.equal(kept?.isKept, true);
  assert.deepEqual(result.toArray(), [4, 4]);
  assert.equal(liveTensorCount(), base + 2);
  dispose([result, kept]);
  assert.equal(liveTensorCount(), base);
});

test('an exception inside tidy frees everything the scope made, at every depth', () => {
  const base = liveTensorCount();
  const made: Tensor[] = [];
  assert.throws(
    () =>
      tidy(() => {
        made.push(ops.ones([4]));
        tidy(() => {
          made.push(ops.ones([4]));
          made.push(ops.matmul(ops.ones([2, 3]), ops.ones([2, 3]))); // throws
        });
      }),
    /matmul/,
  );
  assert.equal(made.length, 2);
  assert.ok(made.every((t) => t.isDisposed));
  assert.equal(liveTensorCount(), base);
  // scopes are balanced again: a later tidy still works
  const t = tidy(() => ops.ones([1]));
  assert.equal(liveTensorCount(), base + 1);
  t.dispose();
  // a Promise-returning fn is refused and its tensors freed
  assert.throws(() => tidy(() => Promise.resolve(ops.ones([1]))), /Promise/);
  assert.equal(liveTensorCount(), base);
});

test('liveTensorCount stays flat across a 20-iteration training loop', () => {
  const gen = new Generator(5);
  const [w, b, x, target] = tidy(() => [
    requiresGrad(keep(ops.mul(ops.randn([3, 4], gen), 0.1))),
    requiresGrad(keep(ops.zeros([3]))),
    keep(ops.randn([16, 4], gen)),
    keep(ops.randint(0, 3, [16], gen)),
  ]);
  const opt = sgd([w, b], { lr: 0.5, momentum: 0.9 });
  const base = liveTensorCount();
  const losses: number[] = [];
  for (let i = 0; i < 20; i++) {
    const loss = tidy(() => {
      opt.zeroGrad();
      const logits = ops.linear(x, w, b);
      const l = ops.crossEntropy(logits, target);
      backward(l);
      assert.ok(grad(w), 'gradient recorded');
      opt.step();
      return noGrad(() => l.item());
    });
    losses.push(loss);
    assert.equal(liveTensorCount(), base, `iteration ${i}: live tensors`);
  }
  assert.ok(losses[19] < losses[0] * 0.8, `loss decreases: ${losses[0]} -> ${losses[19]}`);
  dispose([w, b, x, target]);
  assert.equal(liveTensorCount(), base - 4);
});

test('freed activation memory is reused: resident memory stays flat over training steps', () => {
  // Two 3.2 MB activations live at once and are freed every step. With
  // libtorch's posix_memalign allocator glibc never reused such blocks (the
  // heap grew by one activation per step and every step re-faulted fresh
  // pages); the addon's allocator keeps them reusable.
  const gen = new Generator(0);
  const x = requiresGrad(keep(ops.randn([64, 16, 28, 28], gen)));
  const step = (): void =>
    tidy(() => {
      const y = ops.add(ops.mul(x, 2), ops.relu(x));
      backward(ops.sum(ops.mul(y, y)));
    });
  for (let i = 0; i < 10; i++) step();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < 50; i++) step();
  const growthPerStep = (process.memoryUsage().rss - before) / 50;
  assert.ok(growthPerStep < 256 * 1024, `resident memory grew by ${(growthPerStep / 1e6).toFixed(2)} MB per step`);
  dispose(x);
});
