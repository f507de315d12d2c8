// Tuned baselines: `--grid 'dropblock:blockSize=3,5,7;keepProb=0.8,0.9,0.95'`
// names a preset (its slots, skip paths and schedule as they are) and values
// for fields of its patterns; every combination is one grid point, a copy of
// the preset with those fields set in every slot pattern that has them. The
// points are trained once on the validation split and the best one is then
// run with every seed (src/compare/run.ts).
import { getPreset, presetNames } from '../patterns/presets.js';
import { PATTERN_FIELDS } from '../patterns/schema.js';
import type { PatternFile } from '../patterns/types.js';
import { validatePatternFile } from '../patterns/validate.js';

export type GridValue = number | string | boolean;

export interface GridSpec {
  /** The preset the points vary. */
  preset: string;
  /** Fields and their candidate values, in the order given. */
  params: { name: string; values: GridValue[] }[];
  /** The flag's text (kept for errors and the results). */
  text: string;
}

export interface GridPoint {
  /** `dropblock[blockSize=3,keepProb=0.8]`. */
  label: string;
  setting: Record<string, GridValue>;
  file: PatternFile;
}

const bad = (text: string, why: string): RangeError => new RangeError(`--grid '${text}': ${why}`);

/** A value as written: a number, true/false, or else the text itself (e.g. gaussian). */
function parseValue(v: string): GridValue {
  const t = v.trim();
  if (t !== '' && Number.isFinite(Number(t))) return Number(t);
  if (t === 'true' || t === 'false') return t === 'true';
  return t;
}

/** Fields a preset's patterns have (its slots' kinds' fields). */
function presetFields(file: PatternFile): string[] {
  const kinds = new Set(Object.values(file.slots).map((p) => p.kind));
  return [...new Set([...kinds].flatMap((k) => PATTERN_FIELDS[k].map(([name]) => name)))];
}

/** Parses `PRESET:field=v1,v2;field=v1,v2`; a RangeError names what is wrong (exit 2). */
export function parseGrid(text: string): GridSpec {
  const colon = text.indexOf(':');
  if (colon < 1) throw bad(text, "expected PRESET:field=v1,v2;field=v1,v2 (e.g. 'dropblock:blockSize=3,5,7;keepProb=0.8,0.9')");
  const preset = text.slice(0, colon).trim().replace(/^preset:/, '');
  if (!presetNames().includes(preset)) throw bad(text, `unknown preset '${preset}'; valid: ${presetNames().join(', ')}`);
  const fields = presetFields(getPreset(preset));
  const params: GridSpec['params'] = [];
  for (const part of text.slice(colon + 1).split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    if (eq < 1) throw bad(text, `'${part}' is not field=v1,v2,...`);
    const name = part.slice(0, eq).trim();
    if (!fields.includes(name)) throw bad(text, `preset ${preset} has no field '${name}'; its fields: ${fields.join(', ') || 'none'}`);
    if (params.some((p) => p.name === name)) throw bad(text, `field '${name}' is given twice`);
    const values = part.slice(eq + 1).split(',').map(parseValue);
    if (values.some((v) => v === '')) throw bad(text, `field '${name}' has an empty value`);
    if (new Set(values.map(String)).size !== values.length) throw bad(text, `field '${name}' repeats a value`);
    params.push({ name, values });
  }
  if (params.length === 0) throw bad(text, 'no field to vary; give at least one field=v1,v2,...');
  const spec = { preset, params, text };
  // Every point must be a valid pattern file: check them all now, not in a worker later.
  gridPoints(spec);
  return spec;
}

/** Every combination of the grid's values (the first field varies slowest), as validated pattern files. */
export function gridPoints(spec: GridSpec): GridPoint[] {
  let settings: Record<string, GridValue>[] = [{}];
  for (const p of spec.params) settings = settings.flatMap((s) => p.values.map((v) => ({ ...s, [p.name]: v })));
  return settings.map((setting) => {
    const file = getPreset(spec.preset);
    for (const pattern of Object.values(file.slots)) {
      const own = new Set(PATTERN_FIELDS[pattern.kind].map(([name]) => name));
      for (const [k, v] of Object.entries(setting)) if (own.has(k)) (pattern as unknown as Record<string, GridValue>)[k] = v;
    }
    const label = `${spec.preset}[${Object.entries(setting)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(',')}]`;
    try {
      return { label, setting, file: validatePatternFile(file, label) };
    } catch (e) {
      throw bad(spec.text, (e as Error).message);
    }
  });
}
