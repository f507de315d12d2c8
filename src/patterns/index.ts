// The pattern language: types, schema and validation, file I/O, addressing and
// resolution, schedules, presets, and the search spaces.
export * from './types.js';
export * from './json.js';
export * from './schema.js';
export * from './validate.js';
export * from './address.js';
export * from './io.js';
export * from './resolve.js';
export * from './schedule.js';
export * from './presets.js';
export * from './spaces.js';
