// What acts at a dropout slot: the classic element-wise dropout and the
// pattern engine (masks built on the tensor engine).
export * from './dropout.js';
export * from './patterns.js';
export * from './pattern-file.js';
