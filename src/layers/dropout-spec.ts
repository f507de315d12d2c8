// The `--dropout` flag's value, parsed without the engine (so a bad value or
// a dry run answers without loading libtorch); src/layers/dropout.ts builds
// the dropout it names.
export type DropoutSpec = { kind: 'none' } | { kind: 'dropout'; rate: number };

/** Parses `none` or `dropout:RATE`; throws with the accepted forms otherwise. */
export function parseDropoutSpec(text: string): DropoutSpec {
  if (text === 'none') return { kind: 'none' };
  const m = /^dropout:([0-9]*\.?[0-9]+)$/.exec(text);
  if (m) {
    const rate = Number(m[1]);
    if (rate >= 0 && rate < 1) return { kind: 'dropout', rate };
  }
  throw new Error(`invalid --dropout '${text}': expected 'none' or 'dropout:RATE' with 0 <= RATE < 1 (e.g. dropout:0.1)`);
}
