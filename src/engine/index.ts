// The engine's public API: typed tensors over libtorch. Nothing outside
// src/engine imports the addon.
export * from './tensor.js';
export * as ops from './ops.js';
export * from './autograd.js';
export * from './optim.js';
export * from './module.js';
export * from './random.js';
export * from './serialize.js';
export * from './runtime.js';
export * from './autocast.js';
