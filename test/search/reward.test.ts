// The reward: accuracy for images, 80 / perplexity for language models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { metricFromReward, rewardFromMetrics, rewardKind } from '../../src/search/reward.js';

test('images: validation accuracy', () => {
  assert.equal(rewardKind('fashion-mnist'), 'accuracy');
  assert.equal(rewardFromMetrics('mnist', { loss: 0.1, accuracy: 0.97 }), 0.97);
  assert.throws(() => rewardFromMetrics('mnist', { loss: 0.1 }), /needs a validation accuracy/);
  assert.throws(() => rewardFromMetrics('mnist', { loss: 0.1, accuracy: Number.NaN }), /accuracy/);
});

test('language models: 80 / perplexity, decreasing, from the loss when perplexity is absent', () => {
  assert.equal(rewardKind('sotu'), 'inverse-perplexity');
  assert.equal(rewardFromMetrics('sotu', { loss: 5, perplexity: 160 }), 0.5);
  assert.ok(Math.abs(rewardFromMetrics('moby-dick', { loss: Math.log(100) }) - 0.8) < 1e-12);
  assert.ok(rewardFromMetrics('sotu', { loss: 0, perplexity: 145 }) > rewardFromMetrics('sotu', { loss: 0, perplexity: 150 }));
  assert.equal(rewardFromMetrics('sotu', { loss: Infinity }), 0);
  assert.throws(() => rewardFromMetrics('sotu', { loss: Number.NaN }), /perplexity >= 1/);
  assert.deepEqual(metricFromReward('sotu', 0.5), { name: 'perplexity', value: 160 });
  assert.deepEqual(metricFromReward('mnist', 0.9), { name: 'accuracy', value: 0.9 });
});
