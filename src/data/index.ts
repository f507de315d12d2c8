export { DataError } from './errors.js';
export { encodeIdx, isGzip, maybeGunzip, parseIdx, readIdxFile, type IdxArray } from './idx.js';
export {
  DEFAULT_VAL_SIZE,
  FASHION_MNIST_DIR,
  imageTaskAvailable,
  loadImageTask,
  locateImageTask,
  type IdxFileSet,
  type ImageSplit,
  type ImageTask,
  type ImageTaskName,
  type LoadImageOptions,
} from './images.js';
export {
  DEFAULT_CROP_PAD,
  defaultImageAugment,
  imageBatchCount,
  imageBatches,
  lmBatchCount,
  lmBatches,
  type ImageAugment,
  type ImageBatch,
  type ImageBatchOptions,
  type LmBatch,
  type LmBatchOptions,
} from './batches.js';
export {
  DEFAULT_VOCAB_SIZE,
  EOS,
  HELD_OUT_FRACTION,
  UNK,
  buildVocab,
  encodeTokens,
  loadTextTask,
  splitGroupsFromEnd,
  textTaskAvailable,
  tokenizeLine,
  tokenizeText,
  type LoadTextOptions,
  type TextTask,
  type TextTaskName,
} from './text.js';
