// Named pattern files: the classic baselines in the pattern language, and one
// example from each search space. Addresses are wildcards, so a preset fits
// any depth and width of its model family; a preset whose kind cannot act on
// a family's slots (spatial on a Transformer, span on a WRN) fails at
// resolution with a message saying so. Reasons for each choice: docs/patterns.md.
import { loadPatternFile } from './io.js';
import { PATTERN_FORMAT, type PatternFile } from './types.js';
import { PatternError } from './validate.js';

interface Preset {
  description: string;
  file: PatternFile;
}

const F = PATTERN_FORMAT;

const PRESETS: Record<string, Preset> = {
  none: {
    description: 'no dropout anywhere',
    file: { format: F, space: 'baseline', slots: { '*': { kind: 'none' } } },
  },
  dropout: {
    description: 'element-wise dropout 0.1 after every batch norm (WRN) / at every sublayer (Transformer); skip paths untouched',
    file: { format: F, space: 'baseline', slots: { '*': { kind: 'dropout', rate: 0.1 } } },
  },
  spatial: {
    description: 'SpatialDropout 0.1 (whole channels) after every batch norm; ConvNets only',
    file: { format: F, space: 'baseline', slots: { '*': { kind: 'spatial', rate: 0.1 } } },
  },
  dropblock: {
    description:
      'DropBlock 3x3, keepProb 0.9 ramped linearly from 1 over training, in the last two groups and their skip paths (WRN stages 2-3, ResNet layers 3-4, as the DropBlock paper); ConvNets only',
    file: {
      format: F,
      space: 'baseline',
      slots: {
        'stage2.*': { kind: 'dropblock', blockSize: 3, keepProb: 0.9 },
        'stage3.*': { kind: 'dropblock', blockSize: 3, keepProb: 0.9 },
        'stage2.*.skip': { kind: 'dropblock', blockSize: 3, keepProb: 0.9 },
        'stage3.*.skip': { kind: 'dropblock', blockSize: 3, keepProb: 0.9 },
        'layer3.*': { kind: 'dropblock', blockSize: 3, keepProb: 0.9 },
        'layer4.*': { kind: 'dropblock', blockSize: 3, keepProb: 0.9 },
        'layer3.*.skip': { kind: 'dropblock', blockSize: 3, keepProb: 0.9 },
        'layer4.*.skip': { kind: 'dropblock', blockSize: 3, keepProb: 0.9 },
      },
      schedule: { kind: 'linear-ramp', until: 1 },
    },
  },
  variational: {
    description: 'variational dropout 0.1 (one mask per sequence, shared over time) at every sublayer; Transformers only',
    file: { format: F, space: 'baseline', slots: { '*': { kind: 'variational', rate: 0.1 } } },
  },
  droppath: {
    description:
      'DropPath 0.1 on residual branches: the bn2 of WRN and basic-block ResNet (18/34) blocks, EfficientNet project.bn (drop-connect), Transformer attention and FFN outputs; bottleneck ResNets (50/101) end their branch in bn3: use a pattern file with *.bn3 there',
    file: {
      format: F,
      space: 'baseline',
      slots: {
        '*.bn2': { kind: 'droppath', rate: 0.1 },
        '*.project.bn': { kind: 'droppath', rate: 0.1 },
        '*.attention-output': { kind: 'droppath', rate: 0.1 },
        '*.ffn-output': { kind: 'droppath', rate: 0.1 },
      },
    },
  },
  'tile-example': {
    description: 'a hand-made point of the tile space: a sparse grid early, rotated striped patches in the middle, a rotated grid patch late; ConvNets only',
    file: {
      format: F,
      space: 'tile',
      slots: {
        'stage1.*': { kind: 'tile', size: [2, 2], stride: [6, 6], repeat: 'all', rotate: 0, shearX: 0, shearY: 0, shareC: false, residual: false },
        'stage2.*': { kind: 'tile', size: [1, 8], stride: [4, 6], repeat: [4, 4], rotate: 45, shearX: 0.2, shearY: 0, shareC: true, residual: true },
        'stage3.*': { kind: 'tile', size: [3, 3], stride: [5, 5], repeat: [4, 4], rotate: 30, shearX: 0, shearY: -0.1, shareC: false, residual: true },
        '*': { kind: 'tile', size: [2, 2], stride: [5, 5], repeat: 'all', rotate: 0, shearX: 0, shearY: 0, shareC: false, residual: false },
      },
    },
  },
  'span-example': {
    description: 'a hand-made point of the span space: 2-token spans every 16 tokens on the embedding, attention and FFN outputs; Transformers only',
    file: {
      format: F,
      space: 'span',
      slots: {
        '*': { kind: 'span', size: 2, stride: 16, repeat: 'all', shareC: true, noise: 'zero', sublayers: ['embedding', 'attention-output', 'ffn-output'] },
      },
    },
  },
};

/** Preset names, in a stable order. */
export function presetNames(): string[] {
  return Object.keys(PRESETS);
}

/** One-line description of a preset. */
export function presetDescription(name: string): string {
  return lookup(name).description;
}

function lookup(name: string): Preset {
  if (!Object.hasOwn(PRESETS, name)) {
    throw new PatternError(`preset:${name}`, [{ path: '', message: `unknown preset; valid: ${presetNames().join(', ')}` }], '');
  }
  return PRESETS[name];
}

/** A fresh copy of a preset's pattern file; throws PatternError listing valid names. */
export function getPreset(name: string): PatternFile {
  return structuredClone(lookup(name).file);
}

export type PatternRef = { kind: 'preset'; name: string } | { kind: 'file'; path: string };

/** `preset:NAME` (checked against the preset list) or a file path. */
export function parsePatternRef(ref: string): PatternRef {
  if (ref.startsWith('preset:')) {
    const name = ref.slice('preset:'.length);
    lookup(name);
    return { kind: 'preset', name };
  }
  if (ref === '') throw new PatternError('pattern reference', [{ path: '', message: 'empty; expected preset:NAME or a file path' }], 'invalid pattern reference');
  return { kind: 'file', path: ref };
}

/** The pattern file a reference names: a preset, or a file read and validated. */
export function loadPatternRef(ref: string): PatternFile {
  const r = parsePatternRef(ref);
  return r.kind === 'preset' ? getPreset(r.name) : loadPatternFile(r.path);
}
