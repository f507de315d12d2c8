// Flag parsers shared by the commands; a bad value is a usage error (exit 2).
import { statSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { DEVICE_NAMES_HELP, isDeviceName } from '../engine/devices.js';

export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got '${v}'.`);
    return n;
  };
}
export function nonNegativeInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} must be a non-negative integer, got '${v}'.`);
    return n;
  };
}
export function positiveNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number, got '${v}'.`);
    return n;
  };
}
export function nonNegativeNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${name} must be a number >= 0, got '${v}'.`);
    return n;
  };
}
export function oneOf<T extends string>(name: string, values: readonly T[]) {
  return (v: string): T => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`${name} must be one of ${values.join(', ')}, got '${v}'.`);
    return v as T;
  };
}

/** A directory that exists (relative paths from the working directory, as the commands read them). */
export function existingDirectory(name: string) {
  return (v: string): string => {
    let isDir: boolean;
    try {
      isDir = statSync(v).isDirectory();
    } catch {
      throw new InvalidArgumentError(`${name} ${v}: no such directory (it is searched first for the dataset files; give a directory that exists, or leave ${name} out for the default locations).`);
    }
    if (!isDir) throw new InvalidArgumentError(`${name} ${v} is a file; give the directory that holds the dataset.`);
    return v;
  };
}

/** --device: a name the engine knows (whether this machine has it is checked when the engine loads). */
export function deviceName(name: string) {
  return (v: string): string => {
    if (!isDeviceName(v)) throw new InvalidArgumentError(`${name} must be one of ${DEVICE_NAMES_HELP}, got '${v}'.`);
    return v;
  };
}

/** Raised for flag combinations commander cannot check; main() turns it into exit code 2. */
export class UsageError extends Error {}
