// `autodropout show`: pattern -> PNG of sampled masks (docs/architecture.md §7).
//
//   autodropout show PATTERN.json|preset:NAME [--slot NAME] --out masks.png
//   autodropout show --space tile|span --random 8 --seed 1 --out gallery.png
//
// Image patterns are drawn one row per example and one column per channel;
// span and variational patterns (and any pattern given --size T) with time
// along the width and one thin row per channel (src/patterns/render.ts).
// Everything heavy is imported in the action, so registering the command costs
// nothing and never loads the engine.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Pattern, PatternFile, SlotDescriptor } from '../patterns/types.js';
import { nonNegativeInt, positiveInt, UsageError } from './args.js';

export type ShowSize = { kind: 'image'; height: number; width: number } | { kind: 'sequence'; length: number };

const MAX_SIDE = 512;

/** `HxW` (an image map) or `T` (a sequence length). */
export function parseSize(v: string): ShowSize {
  const m = /^(\d+)(?:[xX](\d+))?$/.exec(v.trim());
  const nums = m ? [m[1], m[2]].filter((s) => s !== undefined).map(Number) : [];
  if (!m || nums.some((n) => n < 1 || n > MAX_SIDE)) {
    throw new InvalidArgumentError(`--size must be HxW (an image map, e.g. 28x28) or T (a sequence length, e.g. 64), each 1..${MAX_SIDE}, got '${v}'.`);
  }
  return nums.length === 2 ? { kind: 'image', height: nums[0], width: nums[1] } : { kind: 'sequence', length: nums[0] };
}

function strengthArg(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError(`--strength must be a number in [0, 1], got '${v}'.`);
  return n;
}

function limited(name: string, max: number) {
  const parse = positiveInt(name);
  return (v: string): number => {
    const n = parse(v);
    if (n > max) throw new InvalidArgumentError(`${name} must be at most ${max}, got '${v}'.`);
    return n;
  };
}

interface ShowFlags {
  slot?: string;
  size?: ShowSize;
  channels: number;
  samples?: number;
  seed: number;
  strength?: number;
  space?: 'tile' | 'span';
  random?: number;
  scale?: number;
  columns?: number;
  out: string;
}

/** The slot descriptor a bare slot name stands for, guessed from its name and the file's space. */
function guessSlot(name: string, file: PatternFile, sublayers: readonly string[]): SlotDescriptor {
  const last = name.split('.').pop() ?? name;
  if (last === 'skip') return { name, kind: 'skip', depth: 0, channels: 1 };
  if (sublayers.includes(last)) return { name, kind: 'sequence', depth: 0, channels: 1, sublayer: last };
  return { name, kind: file.space === 'span' ? 'sequence' : 'conv', depth: 0, channels: 1 };
}

/**
 * The pattern to draw: `--slot` as an address of the file, else as a slot name
 * resolved by the file's name addresses (depth:A-B addresses need a model and
 * are only picked by their address); default: the first non-none pattern.
 */
async function pickPattern(file: PatternFile, source: string, slot: string | undefined): Promise<{ address: string; pattern: Pattern }> {
  const entries = Object.entries(file.slots);
  const listing = entries.map(([a]) => a).join(', ') || '(none)';
  if (slot === undefined) {
    const [address, pattern] = entries.find(([, p]) => p.kind !== 'none') ?? entries[0] ?? [];
    if (!address || !pattern) throw new Error(`${source}: the file has no slots to draw`);
    return { address, pattern };
  }
  if (Object.hasOwn(file.slots, slot)) return { address: slot, pattern: file.slots[slot] };
  const { explainPatterns } = await import('../patterns/resolve.js');
  const { TRANSFORMER_SUBLAYERS } = await import('../patterns/types.js');
  const byName: PatternFile = { ...file, slots: Object.fromEntries(entries.filter(([a]) => !a.startsWith('depth:'))) };
  let decided;
  try {
    decided = explainPatterns(byName, [guessSlot(slot, file, TRANSFORMER_SUBLAYERS)], { source, unmatched: 'ignore' }).get(slot);
  } catch (e) {
    throw new UsageError(`--slot ${slot}: ${(e as Error).message}`);
  }
  if (!decided || decided.address === null) throw new UsageError(`--slot ${slot}: no address of ${source} reaches that slot; its addresses: ${listing}.`);
  return { address: `${slot} (via ${decided.address})`, pattern: decided.pattern };
}

async function show(ref: string | undefined, f: ShowFlags): Promise<void> {
  if (ref !== undefined && f.space !== undefined) throw new UsageError('give either a pattern (PATTERN.json or preset:NAME) or --space, not both.');
  if (ref === undefined && f.space === undefined) throw new UsageError('nothing to show: give a pattern (PATTERN.json or preset:NAME) or --space tile|span --random N.');
  if (f.random !== undefined && f.space === undefined) throw new UsageError('--random needs --space tile|span.');
  if (f.slot !== undefined && ref === undefined) throw new UsageError('--slot picks a slot of a pattern file; it does not apply to --space.');
  if (!/\.png$/i.test(f.out)) throw new UsageError(`--out must name a .png file, got '${f.out}'.`);

  const render = await import('../patterns/render.js');
  const { PATTERN_SLOT_KINDS } = await import('../patterns/resolve.js');
  const geometry = (patterns: readonly Pattern[]) => {
    for (const p of patterns) {
      if (f.size?.kind === 'image' && render.isSequencePattern(p)) {
        throw new UsageError(`--size ${f.size.height}x${f.size.width}: ${p.kind} patterns act on sequences and are drawn along time; give --size T (e.g. 64).`);
      }
      if (f.size?.kind === 'sequence' && !PATTERN_SLOT_KINDS[p.kind].includes('sequence')) {
        throw new UsageError(`--size ${f.size.length}: ${p.kind} patterns need an image map; give --size HxW (e.g. 28x28).`);
      }
    }
    return {
      ...(f.size?.kind === 'image' ? { height: f.size.height, width: f.size.width } : {}),
      ...(f.size?.kind === 'sequence' ? { length: f.size.length } : {}),
      channels: f.channels,
      seed: f.seed,
      strength: f.strength,
      scale: f.scale,
    };
  };

  let png: Buffer;
  if (f.space !== undefined) {
    const { decode, getSpace, tokenTypes } = await import('../patterns/spaces.js');
    const { Rng } = await import('../util/rng.js');
    const space = getSpace(f.space);
    const rng = Rng.derive(f.seed, 'show', 'random', f.space);
    const items = Array.from({ length: f.random ?? 8 }, (_, i) => {
      const tokens = tokenTypes(space).map((t) => rng.nextInt(t.vocabSize));
      const pattern = decode(space, tokens);
      return { pattern, caption: [`#${i + 1} tokens [${tokens.join(' ')}]`, render.describePattern(pattern)] };
    });
    png = render.renderGallery(items, {
      ...geometry(items.map((it) => it.pattern)),
      samples: f.samples ?? 2,
      // Image blocks are narrow: two per row; sequence blocks are wide already.
      columns: f.columns ?? (f.space === 'tile' && f.size?.kind !== 'sequence' ? 2 : 1),
    });
  } else {
    const { loadPatternRef } = await import('../patterns/presets.js');
    const source = ref!;
    // A missing or invalid file (or an unknown preset) is a PatternError: exit 1 with the validator's message.
    const file = loadPatternRef(source);
    const { address, pattern } = await pickPattern(file, source, f.slot);
    png = render.renderPattern(pattern, {
      ...geometry([pattern]),
      samples: f.samples ?? 6,
      caption: [`${source} slot=${address}`, render.describePattern(pattern)],
    });
  }
  const out = resolve(f.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, png);
  process.stdout.write(`${f.out}\n`);
}

export function showCommand(): Command {
  return new Command('show')
    .description('draw sampled masks of a pattern, or of random patterns of a search space, to a PNG')
    .argument('[pattern]', 'a pattern file (PATTERN.json) or preset:NAME')
    .option('--slot <name>', "which slot of the file: an address in it (e.g. 'stage2.*') or a slot name it resolves (default: the first pattern that is not none)")
    .option('--size <HxW|T>', 'mask size: HxW for image patterns (default 28x28), T for sequences (default 64)', parseSize)
    .option('--channels <n>', 'channels per example (columns; thin rows for sequences)', limited('--channels', 64), 4)
    .option('--samples <n>', 'examples drawn, one row each (default 6; 2 per pattern with --space)', limited('--samples', 64))
    .option('--seed <n>', 'seed of the mask placement (and of the random token sequences)', nonNegativeInt('--seed'), 0)
    .option('--strength <x>', "pattern strength in [0, 1], as a schedule's ramp sets it (default 1)", strengthArg)
    .addOption(new Option('--space <name>', 'draw random patterns of a search space instead of a file').choices(['tile', 'span']))
    .option('--random <n>', 'how many random token sequences to decode and draw (with --space; default 8)', limited('--random', 64))
    .option('--columns <n>', 'patterns per row of the --space gallery (default 2 for tile, 1 for span)', limited('--columns', 8))
    .option('--scale <px>', 'pixels per mask element (image patterns; default: cells of about 80 px)', limited('--scale', 32))
    .requiredOption('--out <file.png>', 'where to write the PNG')
    .action(async (ref: string | undefined, f: ShowFlags) => show(ref, f));
}
