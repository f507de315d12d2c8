// `autodropout doctor`'s dataset lines: where each task's files are, or where they were looked
// for. Only the loaders' own locate functions are called (the search rules live there, once), and
// those only stat paths: nothing is decoded or read whole, so the check stays instant.
// Engine-free, so that it can be tested without libtorch.
import { dirname } from 'node:path';
import { DataError, locateCifar, locateFolderDataset, locateImageTask, locateTextTask, locateTokenFiles } from '../data/index.js';
import type { TaskName } from '../train/task-names.js';

/** One line of `autodropout doctor` (the data lines are made here, the engine's in doctor.ts). */
export interface Check {
  name: string;
  /** info: nothing wrong, a fact worth knowing (a dataset that has no default location). */
  status: 'ok' | 'info' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

export interface DataProbeOptions {
  /** Searched first, as train's --data-dir. */
  dataDir?: string;
  /** Replaces every task's default locations (tests): the loaders' searchPaths. */
  searchPaths?: string[];
}

/** A dataset check: found at `location`, or not, with the paths looked at. */
export interface DataCheck extends Check {
  task: TaskName;
  found: boolean;
  /** The folder the task would read (the IDX / batch / token files' folder, or ImageNet's ROOT). */
  location?: string;
  /** Every path looked at, when not found. */
  paths?: string[];
}

/** The folder a task would read (its IDX / batch / token files' folder, or ImageNet's ROOT), by the loader's own search. */
function locate(task: TaskName, dataDir?: string, searchPaths?: string[]): string {
  switch (task) {
    case 'fashion-mnist':
    case 'mnist':
      return dirname(locateImageTask(task, dataDir, searchPaths).trainImages);
    case 'cifar10':
    case 'cifar100':
      return locateCifar(task, dataDir, searchPaths).dir;
    case 'imagenet':
      return locateFolderDataset(dataDir, searchPaths);
    case 'sotu':
    case 'moby-dick':
      return dirname(locateTextTask(task, dataDir, searchPaths)[0]);
    case 'ptb':
    case 'wikitext-2':
    case 'wikitext-103':
      return dirname(locateTokenFiles(task, dataDir, searchPaths).train);
  }
}

/** Where one task's data is, as a doctor check. */
export function probeDataset(task: TaskName, o: DataProbeOptions = {}): DataCheck {
  const name = `data:${task}`;
  try {
    const location = locate(task, o.dataDir, o.searchPaths);
    return { name, task, status: 'ok', found: true, location, detail: `found at ${location}` };
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    if (!e.notFound) {
      // Found but unusable (a folder with only some of the files): the loader's message says which.
      return { name, task, status: 'warn', found: false, paths: e.paths, detail: e.message };
    }
    const looked = `looked in ${e.paths.join(', ')}`;
    // ImageNet has no default install location (it is never in a package): without --data-dir,
    // not finding it in the working directory is the normal case, not a problem.
    if (task === 'imagenet' && o.dataDir === undefined) {
      return { name, task, status: 'info', found: false, paths: e.paths, detail: `no default location: set --data-dir ROOT (${looked})`, fix: e.hint };
    }
    return { name, task, status: 'warn', found: false, paths: e.paths, detail: `not found (${looked})`, fix: e.hint };
  }
}

/** One check per task, in the task list's order. */
export function dataChecks(tasks: readonly TaskName[], o: DataProbeOptions = {}): DataCheck[] {
  return tasks.map((t) => probeDataset(t, o));
}
