// The children the step benchmarks train (bench:masks, bench:precision), each
// with one fixed random batch: the image search child (wrn-10-1 on 64 x
// 1x28x28) and a language child on 32 windows of 64 tokens. Declared once so
// that both benchmarks time the same step.
import { ops, type Generator, type Tensor } from '../src/engine/index.js';
import { createModel, type ChildModel } from '../src/models/index.js';

export interface BenchChild {
  model: ChildModel;
  /** The loss of the fixed batch (call inside a tidy scope). */
  loss: () => Tensor;
  /** Frees the model and its batch. */
  dispose(): void;
}

function child(model: ChildModel, kept: Tensor[], loss: () => Tensor): BenchChild {
  return {
    model,
    loss,
    dispose: () => {
      model.dispose();
      for (const t of kept) t.dispose();
    },
  };
}

/** wrn-10-1 on a batch of 64 random 1x28x28 images (the image search child). */
export function imageChild(gen: Generator): BenchChild {
  const model = createModel('wrn-10-1', { inChannels: 1, numClasses: 10 }, gen);
  const x = ops.randn([64, 1, 28, 28], gen).keep();
  const y = ops.randint(0, 10, [64], gen).keep();
  return child(model, [x, y], () => ops.crossEntropy(model.forward(x), y));
}

/** A language model (tlm-L-D) on 32 random windows of 64 tokens of a `vocab`-word vocabulary. */
export function sequenceChild(name: string, vocab: number, gen: Generator): BenchChild {
  const model = createModel(name, { vocabSize: vocab }, gen);
  const x = ops.randint(0, vocab, [32, 64], gen).keep();
  const y = ops.randint(0, vocab, [32 * 64], gen).keep();
  return child(model, [x, y], () => ops.crossEntropy(ops.reshape(model.forward(x), [32 * 64, vocab]), y));
}
