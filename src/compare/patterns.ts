// What `compare --patterns` names, resolved to pattern files:
//   none, NAME or preset:NAME   a preset (a baseline);
//   FILE.json                   a pattern file (a candidate);
//   best:DB[:STUDY]             the best done trial of a search study, exported
//                               with its provenance as `export --best` does (a
//                               candidate); STUDY may be left out when DB holds
//                               one study.
// Baselines are what a learned pattern has to beat (presets, and the grid's
// tuned settings); candidates are what is being tested.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { getPreset, presetNames } from '../patterns/presets.js';
import { loadPatternFile } from '../patterns/io.js';
import type { PatternFile } from '../patterns/types.js';

export type PatternRole = 'baseline' | 'candidate';

export interface ComparedPattern {
  /** Unique within a comparison; the study name in the compare database. */
  label: string;
  role: PatternRole;
  /** What the study's `fixed` field holds: a preset name or a pattern file path. */
  fixed: string;
  file: PatternFile;
  /** Where it came from, as given (`preset:dropblock`, `runs/a.json`, `best:runs/fm.db:rl`, or the grid). */
  source: string;
}

/** A reference that names a search study's best trial: the database and (optionally) the study. */
export function parseBestRef(ref: string): { db: string; study?: string } {
  const rest = ref.slice('best:'.length);
  if (rest === '') throw new RangeError(`--patterns ${ref}: expected best:DB or best:DB:STUDY`);
  // A path that exists is the database; otherwise the last ':' separates the study.
  if (existsSync(rest)) return { db: rest };
  const i = rest.lastIndexOf(':');
  if (i > 0 && existsSync(rest.slice(0, i))) return { db: rest.slice(0, i), study: rest.slice(i + 1) };
  throw new RangeError(`--patterns ${ref}: no search database at ${i > 0 ? `${rest.slice(0, i)} (or ${rest})` : rest}`);
}

/** A file-system-safe name for a label (patterns written under the output folder). */
export function fileSlug(label: string): string {
  return label.replace(/[^A-Za-z0-9._=,+-]+/g, '_').replace(/^_+|_+$/g, '') || 'pattern';
}

/**
 * Resolves every entry of `--patterns` (comma-separated list already split).
 * `exportDir`: where best:DB patterns are written (they become files the
 * compare studies point at). Errors name the entry; duplicates are refused.
 */
export async function resolvePatternRefs(refs: readonly string[], exportDir: string): Promise<ComparedPattern[]> {
  const out: ComparedPattern[] = [];
  for (const raw of refs) {
    const ref = raw.trim();
    if (ref === '') throw new RangeError('--patterns has an empty entry (two commas in a row?)');
    let p: ComparedPattern;
    if (ref.startsWith('best:')) {
      const { db, study } = parseBestRef(ref);
      const { exportBest } = await import('../search/status.js');
      const { SearchStore } = await import('../search/store.js');
      const store = SearchStore.open(db, { readonly: true });
      try {
        const name = store.resolveStudy(study).name;
        const label = `best:${basename(db).replace(/\.db$/i, '')}:${name}`;
        const path = join(exportDir, `${fileSlug(label)}.json`);
        // Rewrite the export only when the study's best changed (its provenance carries a creation time).
        const best = store.bestTrial(store.resolveStudy(name).id);
        const kept = best && existsSync(path) ? loadPatternFile(path) : null;
        const same = kept !== null && kept.provenance?.trialId === best!.id && kept.provenance?.search === `${store.path}#${name}` && isDeepStrictEqual(kept.slots, best!.pattern.slots);
        const file = same ? kept : exportBest(store, path, { name }).file;
        p = { label, role: 'candidate', fixed: path, file, source: ref };
      } finally {
        store.close();
      }
    } else if (/\.json$/i.test(ref)) {
      p = { label: ref, role: 'candidate', fixed: ref, file: loadPatternFile(ref), source: ref };
    } else {
      const name = ref.replace(/^preset:/, '');
      if (!presetNames().includes(name)) {
        throw new RangeError(`--patterns ${ref}: not a preset (${presetNames().join(', ')}), a pattern file (FILE.json) or best:DB[:STUDY]`);
      }
      p = { label: name, role: 'baseline', fixed: name, file: getPreset(name), source: ref };
    }
    if (out.some((o) => o.label === p.label)) throw new RangeError(`--patterns names ${p.label} twice`);
    out.push(p);
  }
  return out;
}
