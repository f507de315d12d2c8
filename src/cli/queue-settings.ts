// The queue flags of `search` and `worker`, derived from the one declaration
// in search/executors/queue-settings.ts (QUEUE_SETTINGS): addQueueOptions()
// puts a command's share on it (and so its --config keys), queueSettingsFrom()
// reads them back with the defaults filled in. No commander defaults: an
// absent flag is "not given", so `search` can refuse queue flags without
// --redis; --help shows each default.
import { Command, InvalidArgumentError, Option } from 'commander';
import { QUEUE_NAME_PATTERN, parseRedisUrl, queueDefaultHelp, queueSettingsOf, type QueueSetting, type QueueSettingKind, type QueueSettings } from '../search/executors/queue-settings.js';
import { deviceName, nonNegativeInt, nonNegativeNumber, positiveInt, positiveNumber, UsageError } from './args.js';

/** A --redis URL. Its refusal is a UsageError, not commander's InvalidArgumentError, whose message would repeat the raw value, password and all. */
function redisUrl(flag: string) {
  return (v: string): string => {
    try {
      parseRedisUrl(v);
    } catch (e) {
      throw new UsageError(`${flag}: ${(e as Error).message}.`);
    }
    return v;
  };
}

function queueName(flag: string) {
  return (v: string): string => {
    if (!QUEUE_NAME_PATTERN.test(v)) throw new InvalidArgumentError(`${flag} must be 1 to 100 letters, digits, '.', '_' or '-', got '${v}'.`);
    return v;
  };
}

const PARSERS: Record<QueueSettingKind, (flag: string) => (v: string) => string | number> = {
  'redis-url': redisUrl,
  'queue-name': queueName,
  'positive-int': positiveInt,
  'non-negative-int': nonNegativeInt,
  'positive-number': positiveNumber,
  'non-negative-number': nonNegativeNumber,
  device: deviceName,
};

/** Adds the queue options `side` takes to `cmd`. */
export function addQueueOptions(cmd: Command, side: 'search' | 'worker'): Command {
  for (const s of queueSettingsOf(side)) {
    const dflt = queueDefaultHelp(s);
    cmd.addOption(new Option(`${s.flag} ${s.arg}`, dflt ? `${s.help} (default ${dflt})` : s.help).argParser(PARSERS[s.kind](s.flag)));
  }
  return cmd;
}

/** The queue flags of `side` that were given (by attribute name = setting key). */
export function givenQueueFlags(flags: object, side: 'search' | 'worker'): QueueSetting[] {
  const f = flags as Readonly<Record<string, unknown>>;
  return queueSettingsOf(side).filter((s) => f[s.key] !== undefined);
}

/**
 * The settings `side` runs with: the flags given, defaults for the rest.
 * `fallbacks` supplies what has no fixed default (search: the queue named
 * after the study); a setting left without a value is a usage error naming
 * its flag.
 */
export function queueSettingsFrom<S extends 'search' | 'worker'>(flags: object, side: S, fallbacks: Partial<QueueSettings> = {}): QueueSettings {
  const f = flags as Readonly<Record<string, unknown>>;
  const out: Record<string, unknown> = {};
  for (const s of queueSettingsOf(side)) {
    const v = f[s.key] ?? fallbacks[s.key] ?? s.default?.();
    if (v === undefined) throw new UsageError(`${side} ${s.flag} ${s.arg} is required${s.defaultHelp ? ` (${s.defaultHelp})` : ''}.`);
    out[s.key] = v;
  }
  return out as unknown as QueueSettings;
}
