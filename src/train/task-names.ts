// The tasks a child can train on, by family. Engine-free on purpose: the CLI
// checks --task against these lists before it loads libtorch.

/** Image classification: accuracy; wrn-D-K-style models; SGD. */
export const IMAGE_TASKS = ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'imagenet'] as const;
/** Word-level language modelling: perplexity; tlm-L-D-style models; AdamW. */
export const LANGUAGE_TASKS = ['sotu', 'moby-dick', 'ptb', 'wikitext-2', 'wikitext-103'] as const;
export const TASKS = [...IMAGE_TASKS, ...LANGUAGE_TASKS] as const;

export type ImageTaskId = (typeof IMAGE_TASKS)[number];
export type LanguageTaskId = (typeof LANGUAGE_TASKS)[number];
export type TaskName = (typeof TASKS)[number];

export const isTaskName = (t: string): t is TaskName => (TASKS as readonly string[]).includes(t);
export const isImageTask = (t: TaskName): t is ImageTaskId => (IMAGE_TASKS as readonly string[]).includes(t);
