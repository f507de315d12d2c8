// The library: `import { engine, patterns, layers, models, train } from 'autodropout'`.
// TF.js users import the TF.js layers from 'autodropout/tfjs' (kept separate
// so the engine path never loads TF.js).
export * as engine from './engine/index.js';
export * as patterns from './patterns/index.js';
export * as models from './models/index.js';
export * as train from './train/index.js';
export * as layers from './layers/index.js';
