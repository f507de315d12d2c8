// Every `residual` token of the tile space acts (docs/patterns.md, "What
// `residual` masks"): in each ConvNet family, flipping one slot's residual
// token alone, with the same seed and generator state, changes the
// training-mode output, both with a tile at every slot and with a tile at
// that slot only. The second form shows the skip mask itself acts, not merely
// a shift of the random stream: the slot's branch mask is drawn before its
// skip mask, so with no other slot masked the two runs differ only there.
// Slots with no skip path have no residual token at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, noGrad, setNumThreads, type Tensor } from '../../src/engine/index.js';
import type { ChildModel } from '../../src/models/index.js';
import { decodeFile, TILE_SPACE, tokenGroups } from '../../src/patterns/spaces.js';
import type { PatternFile } from '../../src/patterns/types.js';
import { dropoutForPatternFile } from '../../src/layers/pattern-file.js';
import { Rng } from '../../src/util/rng.js';
import { randomImages, withModel } from './convnet-helpers.js';

setNumThreads(1);

const RESIDUAL = TILE_SPACE.tokens.findIndex((t) => t.name === 'residual');
const valueIndex = (name: string, value: unknown): number => TILE_SPACE.tokens.find((t) => t.name === name)!.values.findIndex((v) => JSON.stringify(v) === JSON.stringify(value));

/** The training-mode logits of `model` on x with `file` applied, from a fresh Generator(7). */
function trainOutput(model: ChildModel, x: Tensor, file: PatternFile): number[] {
  const hook = dropoutForPatternFile(file, model.slots.list());
  try {
    model.train();
    model.slots.assignAll(hook);
    model.slots.setContext({ generator: new Generator(7), progress: 1 });
    return noGrad(() => model.forward(x)).toArray();
  } finally {
    model.slots.assignAll(() => null);
    model.slots.setContext(null);
    hook.dispose();
  }
}

const EFFICIENTNET_FIRST_BLOCKS = [2, 3, 4, 5, 6, 7].flatMap((s) => ['expand', 'depthwise', 'project'].map((k) => `stage${s}.block1.${k}.bn`));

const CASES: { model: string; input: { inChannels: number; numClasses: number; imageSize?: number }; hw: number; noSkipPath: string[]; withToken: number }[] = [
  { model: 'wrn-28-1', input: { inChannels: 1, numClasses: 10 }, hw: 28, noSkipPath: ['final.bn'], withToken: 24 },
  { model: 'resnet-18', input: { inChannels: 3, numClasses: 10, imageSize: 32 }, hw: 32, noSkipPath: ['stem.bn'], withToken: 16 },
  {
    model: 'efficientnet-b0',
    input: { inChannels: 3, numClasses: 10 },
    hw: 64,
    noSkipPath: ['stem.bn', 'stage1.block1.depthwise.bn', 'stage1.block1.project.bn', ...EFFICIENTNET_FIRST_BLOCKS, 'head.bn', 'classifier'],
    withToken: 27,
  },
];

for (const c of CASES) {
  test(`${c.model}: flipping any one slot's residual token alone changes the training-mode output; slots with no skip path have no residual token`, () => {
    withModel(c.model, c.input, (m) => {
      const slots = m.slots.list();
      const groups = tokenGroups(TILE_SPACE, slots);
      assert.deepEqual(
        groups.filter((g) => !g.tokens.includes(RESIDUAL)).map((g) => g.name),
        c.noSkipPath,
        'exactly the conv slots outside blocks with a skip path lack the residual token',
      );
      // Random points of the space with residual off, periodic (`repeat: all`)
      // and one placement per channel, so that every mask drops something even
      // on the deepest, smallest maps.
      const rng = new Rng(5);
      const fixedValues: Record<string, number> = { repeat: valueIndex('repeat', 'all'), shareC: valueIndex('shareC', false), residual: 0 };
      const base = groups.map((g) => g.tokens.map((k) => fixedValues[TILE_SPACE.tokens[k].name] ?? rng.nextInt(TILE_SPACE.tokens[k].values.length)));
      const x = randomImages(2, c.input.inChannels, c.hw, 3);
      const everywhere = trainOutput(m, x, decodeFile(TILE_SPACE, base, slots));
      let flipped = 0;
      groups.forEach((g, i) => {
        const at = g.tokens.indexOf(RESIDUAL);
        if (at < 0) return;
        const tokens = base.map((t, j) => (j === i ? t.map((v, q) => (q === at ? 1 : v)) : t));
        const off = decodeFile(TILE_SPACE, base, slots);
        const on = decodeFile(TILE_SPACE, tokens, slots);
        assert.notDeepEqual(trainOutput(m, x, on), everywhere, `${g.name}: residual true vs false with a tile at every slot`);
        const only = (f: PatternFile): PatternFile => ({ ...f, slots: { [g.name]: f.slots[g.name] } });
        assert.notDeepEqual(trainOutput(m, x, only(on)), trainOutput(m, x, only(off)), `${g.name}: residual true vs false with a tile at ${g.name} only`);
        flipped++;
      });
      assert.equal(flipped, c.withToken);
    });
  });
}
