// Child networks by name: the registry is the kinds table of names.ts (name
// pattern, family, size rules; engine-free) and MODEL_BUILDERS here, which
// builds each kind. `Record<ModelKindId, ...>` makes a kind without a builder
// a type error.
import type { Generator, Module, Tensor } from '../engine/index.js';
import { EfficientNet, efficientNetSlots } from './efficientnet.js';
import {
  MODEL_NAME_HELP,
  modelKind,
  modelNameProblem,
  parseResNetName,
  parseTlmName,
  parseTxlName,
  parseWrnName,
  type ModelKindId,
  type ResNetDepth,
} from './names.js';
import { ResNet, resnetSlots, resnetStemFor } from './resnet.js';
import { DropoutSlots, type SlotInfo, type SlottedModel } from './slots.js';
import { TransformerLM, transformerSlots } from './tlm.js';
import { TransformerXL } from './txl.js';
import { WideResNet, wrnSlots } from './wrn.js';

export * from './names.js';
export * from './slots.js';
export { WideResNet } from './wrn.js';
export { ResNet, RESNET_SMALL_IMAGE_MAX, resnetStemFor } from './resnet.js';
export { EfficientNet, roundChannels, roundLayers } from './efficientnet.js';
export { TransformerLM, TRANSFORMER_SUBLAYERS } from './tlm.js';
export { TransformerXL, relShift, relativeScores, relativePositions } from './txl.js';

/** resetState: a model that carries state across forward() calls (txl's memory) forgets it; tasks call it at the start of every epoch and evaluation pass. */
export type ChildModel = Module & SlottedModel & { forward(x: Tensor): Tensor; resetState?(): void };

export interface ModelInput {
  /** Images: input channels and classes. */
  inChannels?: number;
  numClasses?: number;
  /**
   * Images: the side of the (square) input images, when known. resnet-N takes
   * the CIFAR stem (3x3 stride-1 conv, no max-pool) for images of at most
   * RESNET_SMALL_IMAGE_MAX = 64 px and the ImageNet stem (7x7 stride-2 conv,
   * 3x3 stride-2 max-pool) for larger ones or when this is absent. Other
   * image models ignore it.
   */
  imageSize?: number;
  /** Language models: vocabulary and longest sequence. */
  vocabSize?: number;
  maxLen?: number;
  positions?: 'learned' | 'sinusoidal';
  /** txl-L-D: positions of memory carried to the next segment (default maxLen, the segment length). */
  memLen?: number;
}

type Builder = (name: string, input: ModelInput, gen: Generator) => ChildModel;

const languageModel = (name: string, input: ModelInput): number => {
  if (!input.vocabSize) throw new Error(`${name}: a language model needs a vocabulary size`);
  return input.vocabSize;
};

/** How each model kind is built from its name (parsed and checked by createModel) and the task's input. */
const MODEL_BUILDERS: Record<ModelKindId, Builder> = {
  wrn: (name, input, gen) => {
    const p = parseWrnName(name)!;
    return new WideResNet({ ...p, inChannels: input.inChannels ?? 3, numClasses: input.numClasses ?? 10 }, gen);
  },
  resnet: (name, input, gen) =>
    new ResNet({ depth: parseResNetName(name)!.depth as ResNetDepth, inChannels: input.inChannels ?? 3, numClasses: input.numClasses ?? 10, stem: resnetStemFor(input.imageSize) }, gen),
  efficientnet: (name, input, gen) => new EfficientNet({ name, inChannels: input.inChannels ?? 3, numClasses: input.numClasses ?? 10 }, gen),
  tlm: (name, input, gen) => {
    const p = parseTlmName(name)!;
    return new TransformerLM({ ...p, vocabSize: languageModel(name, input), maxLen: input.maxLen ?? 256, positions: input.positions ?? 'learned' }, gen);
  },
  txl: (name, input, gen) => {
    const p = parseTxlName(name)!;
    return new TransformerXL({ ...p, vocabSize: languageModel(name, input), memLen: input.memLen ?? input.maxLen ?? 256 }, gen);
  },
};

/** Builds the child network `name` (throws, naming the rule, for a name that cannot be built). */
export function createModel(name: string, input: ModelInput, gen: Generator): ChildModel {
  const kind = modelKind(name);
  if (!kind) throw new Error(`unknown model '${name}': expected ${MODEL_NAME_HELP}`);
  const problem = modelNameProblem(name);
  if (problem) throw new Error(problem);
  return MODEL_BUILDERS[kind.id](name, input, gen);
}

/** Each kind's dropout slots in forward order, from its name alone (no weights are built). */
const MODEL_SLOTS: Record<ModelKindId, (name: string) => Omit<SlotInfo, 'depth'>[]> = {
  wrn: (name) => {
    const p = parseWrnName(name)!;
    return wrnSlots(p.depth, p.widen);
  },
  resnet: (name) => resnetSlots(parseResNetName(name)!.depth as ResNetDepth),
  efficientnet: (name) => efficientNetSlots(name),
  tlm: (name) => {
    const p = parseTlmName(name)!;
    return transformerSlots(p.layers, p.dim);
  },
  txl: (name) => {
    const p = parseTxlName(name)!;
    return transformerSlots(p.layers, p.dim);
  },
};

/**
 * The dropout slots of a named child network (names, kinds, relative depths,
 * widths): they depend on the architecture name only, so they are listed
 * from it without building the model.
 */
export function modelSlots(model: string): SlotInfo[] {
  const kind = modelKind(model);
  if (!kind) throw new RangeError(`unknown model '${model}'`);
  const problem = modelNameProblem(model);
  if (problem) throw new RangeError(problem);
  return new DropoutSlots(MODEL_SLOTS[kind.id](model)).list();
}
