export { DataError } from './errors.js';
export { dataFingerprint } from './fingerprint.js';
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
  locateTextTask,
  splitGroupsFromEnd,
  textTaskAvailable,
  tokenizeLine,
  tokenizeText,
  type LoadTextOptions,
  type TextTask,
  type TextTaskName,
} from './text.js';
export { assembleImageTask, type ImageSplitOptions, type RawImageSplit } from './images.js';
export {
  CIFAR_CROP_PAD,
  cifarAugment,
  cifarAvailable,
  loadCifarTask,
  locateCifar,
  parseCifarFiles,
  type CifarFiles,
  type CifarTaskName,
  type LoadCifarOptions,
} from './cifar.js';
export {
  TOKEN_FILE_TASKS,
  forEachLine,
  forEachToken,
  loadTokenFileTask,
  locateTokenFiles,
  tokenFilesAvailable,
  type LoadTokenFileOptions,
  type TokenFileTaskName,
  type TokenFiles,
} from './tokenfiles.js';
export {
  balancedCounts,
  loadFolderDataset,
  locateFolderDataset,
  type FolderDataset,
  type FolderTaskName,
  type ImageFileList,
  type LoadFolderOptions,
} from './folders.js';
export {
  DEFAULT_IMAGE_SIZE,
  EVAL_CROP_FRACTION,
  IMAGENET_MEAN,
  IMAGENET_STD,
  centreOffset,
  decodeEvalImage,
  decodeTrainImage,
  evalResizeDims,
  evalResizeSide,
  randomResizedCropBox,
  roundHalfEven,
  type CropBox,
} from './image-decode.js';
export { fileBatches, type FileBatchOptions } from './folder-batches.js';
export { DEFAULT_PREFETCH, prefetched } from './prefetch.js';
