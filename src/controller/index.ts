// The controller (docs/architecture.md §5): a causal Transformer policy over pattern
// tokens, its sampling, log-probs and REINFORCE/PPO update, and its state.
export * from './options.js';
export * from './policy.js';
export * from './controller.js';
