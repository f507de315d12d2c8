// The pattern language's types (docs/architecture.md §4). A pattern file maps a child
// network's named dropout slots to one pattern each. Everything here is plain
// data: JSON in, JSON out, no engine.

export const PATTERN_FORMAT = 'autodropout/pattern@1';

export const TRANSFORMER_SUBLAYERS = ['embedding', 'query', 'key', 'value', 'attention-output', 'ffn-hidden', 'ffn-output'] as const;
export type Sublayer = (typeof TRANSFORMER_SUBLAYERS)[number];

/** (height, width) */
export type Pair = [number, number];

export interface NonePattern {
  kind: 'none';
}
/** Independent Bernoulli(1 - rate) per element. */
export interface DropoutPattern {
  kind: 'dropout';
  rate: number;
}
/** Whole channels (N, C, 1, 1) dropped with probability rate. */
export interface SpatialPattern {
  kind: 'spatial';
  rate: number;
}
/** Ghiasi et al. 2018: blockSize x blockSize blocks, seeds at rate gamma in the valid region, per channel. */
export interface DropBlockPattern {
  kind: 'dropblock';
  blockSize: number;
  keepProb: number;
}
/** Gal & Ghahramani 2016: one mask per sequence, shared along the time axis of (N, T, C). */
export interface VariationalPattern {
  kind: 'variational';
  rate: number;
}
/** Whole examples of a residual branch dropped with probability rate. */
export interface DropPathPattern {
  kind: 'droppath';
  rate: number;
}
/** The paper's ConvNet space: tiled rectangles, rotated and sheared, placed at random. */
export interface TilePattern {
  kind: 'tile';
  /** Dropped rectangle, (h, w). */
  size: Pair;
  /** Period of the tiling, (sy, sx), start to start. */
  stride: Pair;
  /** Tiles (ry, rx), or 'all' = periodic over the whole map. */
  repeat: Pair | 'all';
  /** Degrees, about the canvas centre. */
  rotate: number;
  shearX: number;
  shearY: number;
  /** One placement for all channels (true) or an independent one per channel. */
  shareC: boolean;
  /** Also mask the block's skip path. */
  residual: boolean;
}
/** The Transformer space: spans of tokens along T of (N, T, C). */
export interface SpanPattern {
  kind: 'span';
  /** Contiguous tokens dropped per span. */
  size: number;
  /** Period along T, start to start. */
  stride: number;
  /** Number of spans, or 'all' = periodic over the whole sequence. */
  repeat: number | 'all';
  /** One temporal mask for all channels, or independent per channel group. */
  shareC: boolean;
  /** 'zero': binary mask; 'gaussian': multiplicative N(1, sigma^2) noise on the spans. */
  noise: 'zero' | 'gaussian';
  /** Sublayers it applies to. */
  sublayers: Sublayer[];
}

export type Pattern =
  | NonePattern
  | DropoutPattern
  | SpatialPattern
  | DropBlockPattern
  | VariationalPattern
  | DropPathPattern
  | TilePattern
  | SpanPattern;
export type PatternKind = Pattern['kind'];

/**
 * constant: full strength from the first step. linear-ramp: strength (or the
 * probability of applying the mask) rises linearly from 0 at the start of
 * training to 1 at fraction `until` of it (DropBlock's keep_prob schedule).
 */
export type Schedule = { kind: 'constant' } | { kind: 'linear-ramp'; until: number; applies?: 'strength' | 'probability' };

export interface Provenance {
  task?: string;
  model?: string;
  search?: string;
  reward?: number;
  seed?: number;
  created?: string;
  [key: string]: unknown;
}

export interface PatternFile {
  format: typeof PATTERN_FORMAT;
  /** Which search space the patterns come from, when they come from one. */
  space?: 'tile' | 'span' | 'baseline';
  /**
   * Slot address -> pattern. An address is an exact slot name
   * (`stage2.block1.bn2`), a wildcard (`stage2.*`, `*.bn2`, `*`), or a
   * relative-depth range (`depth:0-0.5`), so patterns transfer to deeper or
   * wider models.
   */
  slots: Record<string, Pattern>;
  schedule?: Schedule;
  provenance?: Provenance;
}

/** What a resolver needs to know of a model's slots (a subset of models/slots.ts SlotInfo). */
export interface SlotDescriptor {
  name: string;
  kind: 'conv' | 'skip' | 'sequence';
  depth: number;
  sublayer?: string;
  channels: number;
}

/** Shape of a batch of masks: (n, c, h, w); sequences use h = T, w = 1. */
export interface MaskShape {
  n: number;
  c: number;
  h: number;
  w: number;
}
