// setNumThreads reaches both thread pools a matmul can use: libtorch's and,
// where libtorch's BLAS is OpenBLAS (Debian's libopenblas0-pthread), OpenBLAS's
// own, which at::set_num_threads alone leaves at one thread per core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { blasInfo, getBlasThreads, getNumThreads, ops, setNumThreads, tidy } from '../../src/engine/index.js';

test('setNumThreads sets libtorch threads and OpenBLAS threads alike; other BLAS libraries report none', () => {
  const before = getNumThreads();
  // A matmul first, so a lazily loaded BLAS is mapped before blasInfo() looks.
  tidy(() => ops.matmul(ops.ones([4, 4]), ops.ones([4, 4])));
  const openblas = blasInfo().kind === 'openblas';
  try {
    for (const n of [2, 1, 3]) {
      setNumThreads(n);
      assert.equal(getNumThreads(), n);
      assert.equal(getBlasThreads(), openblas ? n : null, `BLAS ${blasInfo().kind}`);
    }
  } finally {
    setNumThreads(before);
  }
  assert.throws(() => setNumThreads(0), /threads must be a positive integer, got 0/);
});
