// Executors: where children train (docs/architecture.md §5).
export * from './types.js';
export { InlineExecutor, type InlineExecutorOptions } from './inline.js';
export { LocalExecutor, type LocalExecutorOptions } from './local.js';
export { childTrainConfig, DataCache, runChild } from './child.js';
