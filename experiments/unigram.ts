// `node dist/experiments/unigram.js [--task sotu|moby-dick] [--vocab-size N]`
// The unigram baseline for the language-model tasks: the perplexity of
// predicting every token from its training-set frequency alone (add-one
// smoothed over the vocabulary). A model that beats it has learned context.
import { parseArgs } from 'node:util';
import { loadTextTask } from '../src/data/index.js';

const { values } = parseArgs({ options: { task: { type: 'string', default: 'sotu' }, 'vocab-size': { type: 'string', default: '10000' } } });
const task = values.task as 'sotu' | 'moby-dick';
const t = loadTextTask({ task, vocabSize: Number(values['vocab-size']) });
const counts = new Float64Array(t.vocab.length);
for (const id of t.train) counts[id]++;
const total = t.train.length + t.vocab.length;
const ppl = (tokens: Int32Array): number => {
  let nll = 0;
  for (const id of tokens) nll -= Math.log((counts[id] + 1) / total);
  return Math.exp(nll / tokens.length);
};
process.stdout.write(
  `${JSON.stringify({ task, vocab: t.vocab.length, trainTokens: t.train.length, unigram: { valPerplexity: ppl(t.val), testPerplexity: ppl(t.test) } })}\n`,
);
