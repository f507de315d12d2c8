// Misuse surfaces as JS exceptions that name the op and the shapes, never a crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, Optimizer, backward, ops, requiresGrad, setNumThreads, sgd, tensor, tidy, type Tensor } from '../../src/engine/index.js';
import { assertThrowsWith } from './helpers.js';

setNumThreads(1);

/** Bypasses the static types, as a JS caller could. */
const loose = <T>(v: unknown): T => v as T;

test('shape mismatches name the op and the argument shapes', () => {
  tidy(() => {
    const a = ops.zeros([2, 3]);
    assertThrowsWith(() => ops.matmul(a, ops.zeros([2, 3])), ['matmul', '[2,3]']);
    assertThrowsWith(() => ops.bmm(ops.zeros([2, 3, 4]), ops.zeros([2, 5, 1])), ['bmm', '[2,3,4]', '[2,5,1]']);
    assertThrowsWith(() => ops.linear(ops.zeros([4, 3]), ops.zeros([5, 2])), ['linear', '[4,3]', '[5,2]']);
    assertThrowsWith(() => ops.add(a, ops.zeros([4])), ['add', '[2,3]', '[4]']);
    assertThrowsWith(() => ops.conv2d(ops.zeros([1, 3, 5, 5]), ops.zeros([4, 2, 3, 3])), ['conv2d', '[1,3,5,5]', '[4,2,3,3]']);
    assertThrowsWith(() => ops.conv2d(ops.zeros([1, 4, 5, 5]), ops.zeros([4, 2, 3, 3]), undefined, { groups: 3 }), ['conv2d']);
    assertThrowsWith(() => ops.conv2d(ops.zeros([1, 1, 2, 2]), ops.zeros([1, 1, 3, 3])), ['conv2d', '[1,1,2,2]']);
    assertThrowsWith(() => ops.reshape(a, [4, 2]), ['reshape', '[2,3]']);
    assertThrowsWith(() => ops.cat([a, ops.zeros([2, 4])], 0), ['cat', '[2,3]', '[2,4]']);
    assertThrowsWith(() => ops.stack([a, ops.zeros([3, 2])]), ['stack']);
    assertThrowsWith(() => ops.permute(a, [0]), ['permute']);
    assertThrowsWith(() => ops.sum(a, [5]), ['sum', '[2,3]']);
    assertThrowsWith(() => ops.softmax(a, 2), ['softmax']);
    assertThrowsWith(() => ops.layerNorm(a, [4]), ['layerNorm', '[2,3]']);
    assertThrowsWith(() => ops.batchNorm(a, { weight: ops.ones([4]), training: true }), ['batchNorm', '[2,3]', '[4]']);
    assertThrowsWith(() => ops.maxPool2d(ops.zeros([1, 1, 2, 2]), 3), ['maxPool2d', '[1,1,2,2]']);
    assertThrowsWith(() => ops.gather(a, 1, tensor([5], [1, 1], 'int64')), ['gather']);
    assertThrowsWith(() => ops.slice(a, 3, 0, 1), ['slice']);
    assertThrowsWith(() => ops.affineGrid(ops.zeros([1, 3, 3]), [1, 1, 4, 4]), ['affineGrid', '[1,3,3]']);
  });
});

test('dtype mismatches name the op and the dtypes', () => {
  tidy(() => {
    const logits = ops.zeros([2, 3]);
    assertThrowsWith(() => ops.crossEntropy(logits, tensor([0, 1], [2], 'float32')), ['crossEntropy', '[2,3] float32', '[2] float32']);
    assertThrowsWith(() => ops.crossEntropy(logits, tensor([0, 1, 2], [3], 'int64')), ['crossEntropy', '[3] int64']);
    assertThrowsWith(() => ops.embedding(ops.zeros([4, 2]), tensor([0.5], [1])), ['embedding', 'float32']);
    assertThrowsWith(() => ops.matmul(ops.zeros([2, 2]), ops.zeros([2, 2], 'float64')), ['matmul', 'float32', 'float64']);
    assertThrowsWith(() => ops.indexSelect(logits, 0, tensor([0.0], [1])), ['indexSelect']);
    // ATen would silently fill nothing for a float mask
    assertThrowsWith(() => ops.maskedFill(logits, ops.ones([2, 3]), 1), ['maskedFill', 'bool', 'float32']);
    assertThrowsWith(() => ops.where(ops.ones([2, 3]), logits, 1), ['where', '[2,3] float32']);
    assertThrowsWith(() => ops.zeros([2], loose('int16')), ['zeros', 'int16']);
    assertThrowsWith(() => ops.to(logits, loose('complex')), ['to', 'complex']);
  });
});

test('wrong argument types throw TypeError', () => {
  tidy(() => {
    const x = ops.zeros([2, 3]);
    assertThrowsWith(() => ops.matmul(x, loose(5)), ['matmul', 'argument 1', 'Tensor'], TypeError);
    assertThrowsWith(() => ops.add(x, loose('1')), ['add', 'argument 1'], TypeError);
    assertThrowsWith(() => ops.add(loose({}), x), [], TypeError);
    assertThrowsWith(() => ops.reshape(x, loose('6')), ['reshape'], TypeError);
    assertThrowsWith(() => ops.reshape(x, loose(['a', 'b'])), ['reshape'], TypeError);
    assertThrowsWith(() => ops.sum(x, loose(['a'])), ['sum'], TypeError);
    assertThrowsWith(() => ops.softmax(x, 0.5), ['softmax', 'integer'], TypeError);
    assertThrowsWith(() => ops.softmax(x, loose('1')), ['softmax'], TypeError);
    assertThrowsWith(() => ops.cat(loose([x, 3])), ['cat', 'element 1'], TypeError);
    assertThrowsWith(() => ops.index(x, loose([3])), ['index'], TypeError);
    assertThrowsWith(() => ops.batchNorm(x, loose({ training: 'yes' })), ['batchNorm'], TypeError);
    assertThrowsWith(() => ops.gridSample(ops.zeros([1, 1, 2, 2]), ops.zeros([1, 2, 2, 2]), loose('cubic')), ['gridSample', 'bilinear'], TypeError);
    assertThrowsWith(() => ops.crossEntropy(x, tensor([0, 1], [2], 'int64'), { reduction: loose('avg') }), ['crossEntropy'], TypeError);
    assertThrowsWith(() => ops.rand([2], loose({})), ['rand', 'Generator'], TypeError);
    assertThrowsWith(() => tensor(new Int32Array(3), [3], 'int64'), ['Int32Array', 'int64'], TypeError);
    assertThrowsWith(() => tensor([1, 2, 3], [2, 2]), ['3 elements', '4'], TypeError);
    assertThrowsWith(() => sgd(loose([5]), { lr: 0.1 }), ['Optimizer'], TypeError);
    assertThrowsWith(() => new Generator(-3), ['seed'], RangeError);
    const g = new Generator(1);
    assertThrowsWith(() => g.setState(loose('abc')), ['setState', 'Buffer'], TypeError);
  });
});

test('a disposed tensor used again throws, never crashes', () => {
  const t = tensor([1, 2, 3]);
  const idx = tensor([0], [1], 'int64');
  t.dispose();
  idx.dispose();
  t.dispose(); // twice is fine
  assert.equal(t.isDisposed, true);
  const live = ops.zeros([3]);
  assertThrowsWith(() => ops.add(t, 1), ['add', 'disposed'], TypeError);
  assertThrowsWith(() => ops.add(live, t), ['add', 'argument 1', 'disposed'], TypeError);
  assertThrowsWith(() => ops.cat([live, t]), ['cat', 'disposed'], TypeError);
  assertThrowsWith(() => ops.index(live, [idx]), ['index', 'disposed'], TypeError);
  assertThrowsWith(() => t.item(), ['disposed']);
  assertThrowsWith(() => t.data(), ['disposed']);
  assertThrowsWith(() => t.toArray(), ['disposed']);
  assertThrowsWith(() => t.shape, ['shape', 'disposed']);
  assertThrowsWith(() => t.dtype, ['dtype', 'disposed']);
  assertThrowsWith(() => t.device, ['device', 'disposed']);
  assertThrowsWith(() => t.size, ['disposed']);
  assert.equal(String(t), 'Tensor(disposed)');
  assertThrowsWith(() => requiresGrad(t), ['disposed'], TypeError);
  assertThrowsWith(() => sgd([t], { lr: 0.1 }), ['Optimizer', 'disposed'], TypeError);
  // a tensor freed by a scope behaves the same
  let escaped: Tensor | undefined;
  tidy(() => {
    escaped = ops.ones([2]);
  });
  assertThrowsWith(() => ops.mul(escaped as Tensor, 2), ['mul', 'disposed'], TypeError);
  live.dispose();
});

test('autograd and optimizer misuse are exceptions', () => {
  tidy(() => {
    const p = requiresGrad(ops.zeros([3]));
    assertThrowsWith(() => backward(ops.mul(p, 2)), ['backward', 'scalar']);
    assertThrowsWith(() => backward(ops.sum(ops.zeros([3]))), ['backward', 'does not require grad']);
    assertThrowsWith(() => ops.zeros([2]).item(), ['item', '[2]']);
    const opt = sgd([p], { lr: 0.1, momentum: 0.9 });
    assertThrowsWith(() => opt.loadState(Buffer.from('garbage')), ['Optimizer.loadState']);
    assertThrowsWith(() => opt.loadState(loose('garbage')), ['loadState', 'Buffer'], TypeError);
    assertThrowsWith(() => sgd([p], { lr: -1 }), ['sgd', 'lr'], RangeError);
    assertThrowsWith(() => new Optimizer(loose('rmsprop'), [p], { lr: 1 }), ['Optimizer', 'rmsprop'], TypeError);
  });
});
