// `--config FILE` for `autodropout train` and `autodropout search`: a JSON
// object whose keys are the command's long flags in camelCase (`batchSize`
// for --batch-size, `controllerLr` for --controller-lr: the names commander
// gives the parsed options), plus "description" and "paper" for provenance.
//
// Each value goes through the same parser and choice list as the flag, so a
// file cannot hold what the command line would refuse, and the message names
// the file, the key, the value and what is allowed. Flags given on the command
// line win over the file (commander's 'config' value source: a 'cli' value is
// never overwritten). Relative paths in the file (dataDir, pattern, db, ...)
// are read from the working directory, exactly as the same flags typed there.
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, type Option } from 'commander';
import { UsageError } from './args.js';

/** Keys a config file may hold besides the flags; the command does not read them. */
export const PROVENANCE_KEYS = ['description', 'paper'] as const;

/** Options that make no sense in a file (the file itself). */
const NOT_IN_FILE = new Set(['config']);

interface ConfigOrigin {
  file: string;
  /** The keys (option attribute names) it set. */
  keys: Set<string>;
}

/** Which options a config file set, per parsed command (read when an action's usage error is explained). */
const origins = new WeakMap<Command, ConfigOrigin>();

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `batch-size` -> `batchSize` (commander's attribute names). */
const camel = (s: string): string => s.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());

/** The options a file may set, by attribute name; a --x/--no-x pair is one key (the positive option first). */
export function configurableOptions(cmd: Command): Map<string, Option[]> {
  const byKey = new Map<string, Option[]>();
  for (const opt of cmd.options) {
    const key = opt.attributeName();
    if (NOT_IN_FILE.has(key) || opt.long === undefined) continue;
    const list = byKey.get(key) ?? [];
    if (opt.negate) list.push(opt);
    else list.unshift(opt);
    byKey.set(key, list);
  }
  return byKey;
}

function fail(file: string, message: string): never {
  throw new UsageError(`${file}: ${message}`);
}

function readConfigObject(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    fail(file, `cannot read the --config file (${err.code === 'ENOENT' ? 'no such file' : err.message}).`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    fail(file, `not valid JSON: ${(e as Error).message}.`);
  }
  if (!isPlainObject(value)) fail(file, `a --config file holds one JSON object ({"task": ..., ...}), got ${Array.isArray(value) ? 'an array' : JSON.stringify(value)}.`);
  return value;
}

const show = (v: unknown): string => JSON.stringify(v);

function checkProvenance(file: string, key: string, value: unknown): void {
  const ok = key === 'description' ? typeof value === 'string' || (Array.isArray(value) && value.every((l) => typeof l === 'string')) : typeof value === 'string';
  if (!ok) fail(file, `key "${key}" must be ${key === 'description' ? 'a string or an array of strings' : 'a string'}, got ${show(value)}.`);
}

/** The value commander would store for this key, parsed and checked by the option's own parser. */
function optionValue(file: string, key: string, options: Option[], raw: unknown): unknown {
  const opt = options[0];
  const where = `key "${key}" = ${show(raw)}`;
  if (opt.isBoolean() || options.every((o) => o.negate)) {
    if (typeof raw !== 'boolean') {
      const flags = options.map((o) => o.long).join(' / ');
      fail(file, `${where} has the wrong type: "${key}" is the switch ${flags} and takes true or false.`);
    }
    return raw;
  }
  if (opt.variadic) fail(file, `${where}: ${opt.long} takes a list, which --config does not support yet; give it on the command line.`);
  if (typeof raw !== 'string' && typeof raw !== 'number') fail(file, `${where} has the wrong type: ${opt.long} takes a string or a number.`);
  const text = String(raw);
  if (opt.argChoices) {
    if (typeof raw !== 'string' || !opt.argChoices.includes(raw)) fail(file, `${where} is not allowed: ${opt.long} must be one of ${opt.argChoices.join(', ')}.`);
    return raw;
  }
  let parsed: unknown = text;
  if (opt.parseArg) {
    try {
      parsed = opt.parseArg(text, undefined);
    } catch (e) {
      if (e instanceof InvalidArgumentError || e instanceof UsageError) fail(file, `${where} is not allowed: ${e.message}`);
      throw e;
    }
  }
  // The parser says what the flag holds: a number wants a JSON number, text a JSON string.
  if (typeof parsed === 'number' && typeof raw !== 'number') fail(file, `${where} has the wrong type: ${opt.long} takes a number (write ${text.trim() === '' ? '0' : text}, without quotes).`);
  if (typeof parsed === 'string' && typeof raw !== 'string') fail(file, `${where} has the wrong type: ${opt.long} takes a string (write "${text}").`);
  return parsed;
}

/**
 * Lays the --config file of `cmd` (already parsed) under its command-line
 * values; returns the keys it set. Every key is checked, also those the
 * command line overrides, so a file is valid or not whatever the flags.
 */
export function applyConfigFile(cmd: Command, file: string): Set<string> {
  const config = readConfigObject(file);
  const options = configurableOptions(cmd);
  const set = new Set<string>();
  for (const [key, raw] of Object.entries(config)) {
    if ((PROVENANCE_KEYS as readonly string[]).includes(key)) {
      checkProvenance(file, key, raw);
      continue;
    }
    const opts = options.get(key);
    if (!opts) {
      const hint = options.has(camel(key)) ? ` (did you mean "${camel(key)}"?)` : '';
      fail(
        file,
        `unknown key "${key}"${hint}. Keys are the long flags of autodropout ${cmd.name()} in camelCase: ${[...options.keys()].join(', ')}; ` +
          `plus ${PROVENANCE_KEYS.map((k) => `"${k}"`).join(' and ')} (provenance, not read).`,
      );
    }
    const value = optionValue(file, key, opts, raw);
    if (cmd.getOptionValueSource(key) === 'cli') continue;
    cmd.setOptionValueWithSource(key, value, 'config');
    set.add(key);
  }
  return set;
}

/**
 * Adds `--config <file>` to `cmd` and makes `action` its action. Options
 * declared with requiredOption() may come from the file, so they are checked
 * after it is read (with commander's wording). A usage error of the action
 * that names a flag the file set says so (file and key).
 */
export function withConfigFile<F>(cmd: Command, action: (flags: F, cmd: Command) => Promise<void>): Command {
  const required = cmd.options.filter((o) => o.mandatory);
  for (const o of required) o.makeOptionMandatory(false);
  cmd.option(
    '--config <file>',
    `JSON file of settings: keys are this command's long flags in camelCase (e.g. {"task": "cifar10", "batchSize": 128}), plus "description" and "paper"; flags given here win (see configs/paper/)`,
  );
  cmd.hook('preAction', (self) => {
    const file = self.getOptionValue('config') as string | undefined;
    if (file !== undefined) origins.set(self, { file, keys: applyConfigFile(self, file) });
    for (const o of required) {
      if (self.getOptionValue(o.attributeName()) === undefined) {
        throw new UsageError(`required option '${o.flags}' not specified (on the command line, or as "${o.attributeName()}" in a --config file)`);
      }
    }
  });
  return cmd.action(async (flags: F, self: Command) => {
    try {
      await action(flags, self);
    } catch (e) {
      if (e instanceof UsageError) throw explainFromConfig(e, self);
      throw e;
    }
  });
}

/** A usage error about a flag the --config file set, with the file and key appended. */
function explainFromConfig(e: UsageError, cmd: Command): UsageError {
  const origin = origins.get(cmd);
  if (!origin) return e;
  const from: string[] = [];
  for (const [, flag] of e.message.matchAll(/(--[a-z][a-z0-9-]*)/g)) {
    const opt = cmd.options.find((o) => o.long === flag);
    if (!opt) continue;
    const key = opt.attributeName();
    if (origin.keys.has(key) && !from.includes(key)) from.push(key);
  }
  if (from.length === 0) return e;
  return new UsageError(`${e.message} (${from.map((k) => `"${k}"`).join(', ')} set in ${origin.file})`);
}
