// The local worker count: --workers, capped by the study's trials and by the
// memory available at WORKER_MEMORY_ESTIMATE_BYTES per worker, each cap said.
// (test/search/executors.test.ts checks that real workers stay under the estimate.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WORKER_MEMORY_ESTIMATE_BYTES, availableMemoryBytes, planWorkers } from '../../src/search/workers.js';

const GiB = 2 ** 30;

test('planWorkers: what was asked when it fits', () => {
  assert.deepEqual(planWorkers(2, { trials: 40, availableBytes: 16 * GiB }), { workers: 2, notes: [] });
});

test('planWorkers: capped by the trials, then by memory, saying why', () => {
  const byTrials = planWorkers(1000, { trials: 40, availableBytes: 64 * GiB });
  assert.equal(byTrials.workers, 40);
  assert.deepEqual(byTrials.notes, ['--workers 1000: the study has 40 trial(s), so 40 worker(s) are enough; using 40']);
  const byMemory = planWorkers(1000, { trials: 400, availableBytes: 4 * GiB });
  assert.equal(byMemory.workers, Math.floor((4 * GiB) / WORKER_MEMORY_ESTIMATE_BYTES));
  assert.equal(byMemory.notes.length, 2);
  assert.match(byMemory.notes[1], /^--workers 400: each worker holds about 640 MiB, so 400 need about 250\.0 GiB, but 4\.0 GiB is available; using 6$/);
});

test('planWorkers: always at least one worker, with a warning when even one does not fit', () => {
  const p = planWorkers(4, { trials: 10, availableBytes: 100 * 2 ** 20 });
  assert.equal(p.workers, 1);
  assert.match(p.notes.join('\n'), /using 1/);
  const one = planWorkers(1, { trials: 10, availableBytes: 100 * 2 ** 20 });
  assert.equal(one.workers, 1);
  assert.match(one.notes.join('\n'), /may run out of memory/);
});

test('availableMemoryBytes: a positive amount no larger than the machine', async () => {
  const { totalmem } = await import('node:os');
  const a = availableMemoryBytes();
  assert.ok(a > 0 && a <= totalmem(), String(a));
});
