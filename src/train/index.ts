export * from './settings.js';
export * from './trainer.js';
export * from './tasks.js';
export * from './schedule.js';
export * from './progress.js';
