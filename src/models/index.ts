// Child networks by name: `wrn-D-K`, `resnet-N`, `efficientnet-bN` (images) and `tlm-L-D` (language models).
import type { Generator, Module, Tensor } from '../engine/index.js';
import type { SlottedModel } from './slots.js';
import { TransformerLM, parseTlmName, tlmConfigProblem } from './tlm.js';
import { TransformerXL, parseTxlName, txlConfigProblem } from './txl.js';
import { WideResNet, parseWrnName, wrnConfigProblem } from './wrn.js';
import { ResNet, parseResNetName, resnetConfigProblem, resnetStemFor, type ResNetDepth } from './resnet.js';
import { EfficientNet, efficientNetConfigProblem, parseEfficientNetName } from './efficientnet.js';

export * from './slots.js';
export { WideResNet, parseWrnName, wrnConfigProblem } from './wrn.js';
export { ResNet, RESNET_DEPTHS, RESNET_SMALL_IMAGE_MAX, parseResNetName, resnetConfigProblem, resnetStemFor } from './resnet.js';
export {
  EfficientNet,
  EFFICIENTNET_VARIANTS,
  efficientNetConfigProblem,
  efficientNetResolution,
  parseEfficientNetName,
  roundChannels,
  roundLayers,
} from './efficientnet.js';
export { TransformerLM, parseTlmName, tlmConfigProblem, TRANSFORMER_SUBLAYERS } from './tlm.js';
export { TransformerXL, parseTxlName, txlConfigProblem, relShift, relativeScores, relativePositions } from './txl.js';

/** resetState: a model that carries state across forward() calls (txl's memory) forgets it; tasks call it at the start of every epoch and evaluation pass. */
export type ChildModel = Module & SlottedModel & { forward(x: Tensor): Tensor; resetState?(): void };
export type ModelFamily = 'image' | 'language';

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

export const MODEL_NAME_HELP = 'wrn-D-K (D = 6n+4, e.g. wrn-10-1, wrn-16-2, wrn-28-10), resnet-N (N = 18, 34, 50, 101), efficientnet-bN (N = 0..7), tlm-L-D (e.g. tlm-2-128) or txl-L-D (Transformer-XL, e.g. txl-2-128)';

export function modelFamily(name: string): ModelFamily | null {
  if (parseWrnName(name)) return 'image';
  if (parseResNetName(name)) return 'image';
  if (parseEfficientNetName(name)) return 'image';
  if (parseTlmName(name)) return 'language';
  if (parseTxlName(name)) return 'language';
  return null;
}

/**
 * Why a model name cannot be built (unknown, or e.g. a WRN depth that is not
 * 6n+4), or null when it can: lets callers reject a bad name before loading data.
 */
export function modelNameProblem(name: string): string | null {
  const wrn = parseWrnName(name);
  if (wrn) return wrnConfigProblem(wrn.depth, wrn.widen);
  const resnet = parseResNetName(name);
  if (resnet) return resnetConfigProblem(resnet.depth);
  const effnet = parseEfficientNetName(name);
  if (effnet) return efficientNetConfigProblem(effnet.variant);
  const tlm = parseTlmName(name);
  if (tlm) return tlmConfigProblem(tlm.layers, tlm.dim);
  const txl = parseTxlName(name);
  if (txl) return txlConfigProblem(txl.layers, txl.dim);
  return `unknown model '${name}': expected ${MODEL_NAME_HELP}`;
}

export function createModel(name: string, input: ModelInput, gen: Generator): ChildModel {
  const wrn = parseWrnName(name);
  if (wrn) {
    return new WideResNet({ ...wrn, inChannels: input.inChannels ?? 3, numClasses: input.numClasses ?? 10 }, gen);
  }
  const resnet = parseResNetName(name);
  if (resnet) {
    const problem = resnetConfigProblem(resnet.depth);
    if (problem) throw new Error(problem);
    const stem = resnetStemFor(input.imageSize);
    return new ResNet({ depth: resnet.depth as ResNetDepth, inChannels: input.inChannels ?? 3, numClasses: input.numClasses ?? 10, stem }, gen);
  }
  const effnet = parseEfficientNetName(name);
  if (effnet) {
    const problem = efficientNetConfigProblem(effnet.variant);
    if (problem) throw new Error(problem);
    return new EfficientNet({ name, inChannels: input.inChannels ?? 3, numClasses: input.numClasses ?? 10 }, gen);
  }
  const tlm = parseTlmName(name);
  if (tlm) {
    if (!input.vocabSize) throw new Error(`${name}: a language model needs a vocabulary size`);
    return new TransformerLM({ ...tlm, vocabSize: input.vocabSize, maxLen: input.maxLen ?? 256, positions: input.positions ?? 'learned' }, gen);
  }
  const txl = parseTxlName(name);
  if (txl) {
    if (!input.vocabSize) throw new Error(`${name}: a language model needs a vocabulary size`);
    return new TransformerXL({ ...txl, vocabSize: input.vocabSize, memLen: input.memLen ?? input.maxLen ?? 256 }, gen);
  }
  throw new Error(`unknown model '${name}': expected ${MODEL_NAME_HELP}`);
}
