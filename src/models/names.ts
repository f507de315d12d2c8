// The child networks by name: one table of the model kinds (`wrn-D-K`,
// `resnet-N`, `efficientnet-bN`, `tlm-L-D`, `txl-L-D`) with each kind's name
// pattern, family and size rules. Engine-free on purpose: the CLI checks a
// --model (and its task) before libtorch loads, and the trainer refuses a bad
// name before it reads any data. Building a model from its name is the other
// half of the registry (models/index.ts: MODEL_BUILDERS, keyed by the same kinds).

export type ModelFamily = 'image' | 'language';

export const RESNET_DEPTHS = [18, 34, 50, 101] as const;
export type ResNetDepth = (typeof RESNET_DEPTHS)[number];

export interface EfficientNetVariant {
  /** Channel multiplier. */
  width: number;
  /** Layer-count multiplier. */
  depth: number;
  /** Published input resolution (square). */
  resolution: number;
  /** Published dropout rate before the classifier. */
  dropout: number;
}

/** Compound-scaling coefficients as published (Tan & Le 2019, and their reference code's table). */
export const EFFICIENTNET_VARIANTS: Readonly<Record<string, EfficientNetVariant>> = {
  'efficientnet-b0': { width: 1.0, depth: 1.0, resolution: 224, dropout: 0.2 },
  'efficientnet-b1': { width: 1.0, depth: 1.1, resolution: 240, dropout: 0.2 },
  'efficientnet-b2': { width: 1.1, depth: 1.2, resolution: 260, dropout: 0.3 },
  'efficientnet-b3': { width: 1.2, depth: 1.4, resolution: 300, dropout: 0.3 },
  'efficientnet-b4': { width: 1.4, depth: 1.8, resolution: 380, dropout: 0.4 },
  'efficientnet-b5': { width: 1.6, depth: 2.2, resolution: 456, dropout: 0.4 },
  'efficientnet-b6': { width: 1.8, depth: 2.6, resolution: 528, dropout: 0.5 },
  'efficientnet-b7': { width: 2.0, depth: 3.1, resolution: 600, dropout: 0.5 },
};

/** Width of one attention head of tlm-L-D and txl-L-D (heads = D / 32). */
export const TXL_HEAD_DIM = 32;

export function parseWrnName(name: string): { depth: number; widen: number } | null {
  const m = /^wrn-(\d+)-(\d+)$/.exec(name);
  if (!m) return null;
  return { depth: Number(m[1]), widen: Number(m[2]) };
}

/** Why wrn-D-K cannot be built, or null when it can (checked without building it). */
export function wrnConfigProblem(depth: number, widen: number): string | null {
  if ((depth - 4) % 6 !== 0 || depth < 10) return `wrn-${depth}-${widen}: depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 40, ...)`;
  if (!Number.isInteger(widen) || widen < 1) return `wrn-${depth}-${widen}: widen factor must be a positive integer`;
  return null;
}

export function parseResNetName(name: string): { depth: number } | null {
  const m = /^resnet-(\d+)$/.exec(name);
  return m ? { depth: Number(m[1]) } : null;
}

/** Why resnet-D cannot be built, or null when it can. */
export function resnetConfigProblem(depth: number): string | null {
  if (!(RESNET_DEPTHS as readonly number[]).includes(depth)) return `resnet-${depth}: depth must be one of ${RESNET_DEPTHS.join(', ')}`;
  return null;
}

export function parseEfficientNetName(name: string): { variant: number } | null {
  const m = /^efficientnet-b(\d+)$/.exec(name);
  return m ? { variant: Number(m[1]) } : null;
}

/** Why efficientnet-bN cannot be built, or null when it can. */
export function efficientNetConfigProblem(variant: number): string | null {
  if (!(`efficientnet-b${variant}` in EFFICIENTNET_VARIANTS)) return `efficientnet-b${variant}: variant must be b0 to b7`;
  return null;
}

/** The published coefficients of `efficientnet-bN`; throws for another name. */
export function efficientNetVariant(name: string): EfficientNetVariant {
  const v = EFFICIENTNET_VARIANTS[name];
  if (!v) throw new Error(`unknown EfficientNet '${name}': expected efficientnet-b0 to efficientnet-b7`);
  return v;
}

/** The published input resolution of a variant (e.g. 300 for efficientnet-b3), for data loaders and configs. */
export function efficientNetResolution(name: string): number {
  return efficientNetVariant(name).resolution;
}

/** `PREFIX-L-D` (tlm and txl name their Transformers alike): layers and width, or null. */
function parseLayersDim(prefix: 'tlm' | 'txl', name: string): { layers: number; dim: number } | null {
  const m = new RegExp(`^${prefix}-(\\d+)-(\\d+)$`).exec(name);
  if (!m) return null;
  return { layers: Number(m[1]), dim: Number(m[2]) };
}

/** Why PREFIX-L-D cannot be built, or null when it can: both Transformers use heads of TXL_HEAD_DIM. */
function transformerProblem(prefix: 'tlm' | 'txl', layers: number, dim: number): string | null {
  if (dim % TXL_HEAD_DIM !== 0 || dim < TXL_HEAD_DIM) return `${prefix}-${layers}-${dim}: width must be a multiple of ${TXL_HEAD_DIM} (heads = width/${TXL_HEAD_DIM})`;
  if (layers < 1) return `${prefix}-${layers}-${dim}: needs at least one layer`;
  return null;
}

export const parseTlmName = (name: string): { layers: number; dim: number } | null => parseLayersDim('tlm', name);

/** Why tlm-L-D cannot be built, or null when it can (checked without building it). */
export const tlmConfigProblem = (layers: number, dim: number): string | null => transformerProblem('tlm', layers, dim);

export const parseTxlName = (name: string): { layers: number; dim: number } | null => parseLayersDim('txl', name);

/** Why txl-L-D cannot be built, or null when it can (checked without building it). */
export const txlConfigProblem = (layers: number, dim: number): string | null => transformerProblem('txl', layers, dim);

/** One kind of child network: how its names look and what they mean. */
export interface ModelKind<P = unknown> {
  /** The kind's key in MODEL_BUILDERS (models/index.ts). */
  id: ModelKindId;
  family: ModelFamily;
  /** The name pattern, for usage texts. */
  help: string;
  /** The size parameters of a well-formed name, or null when the name is not of this kind. */
  parse(name: string): P | null;
  /** Why a well-formed name cannot be built, or null. */
  problem(params: P): string | null;
  /** The input resolution the model was published at (square images), where it has one. */
  resolution?(name: string): number;
}

export type ModelKindId = 'wrn' | 'resnet' | 'efficientnet' | 'tlm' | 'txl';

const kind = <P>(k: ModelKind<P>): ModelKind<P> => k;

/** Every model kind, in the order usage texts list them. */
export const MODEL_KINDS = [
  kind({ id: 'wrn', family: 'image', help: 'wrn-D-K (D = 6n+4, e.g. wrn-10-1, wrn-16-2, wrn-28-10)', parse: parseWrnName, problem: (p) => wrnConfigProblem(p.depth, p.widen) }),
  kind({ id: 'resnet', family: 'image', help: `resnet-N (N = ${RESNET_DEPTHS.join(', ')})`, parse: parseResNetName, problem: (p) => resnetConfigProblem(p.depth) }),
  kind({
    id: 'efficientnet',
    family: 'image',
    help: 'efficientnet-bN (N = 0..7)',
    parse: parseEfficientNetName,
    problem: (p) => efficientNetConfigProblem(p.variant),
    resolution: efficientNetResolution,
  }),
  kind({ id: 'tlm', family: 'language', help: 'tlm-L-D (e.g. tlm-2-128)', parse: parseTlmName, problem: (p) => tlmConfigProblem(p.layers, p.dim) }),
  kind({ id: 'txl', family: 'language', help: 'txl-L-D (Transformer-XL, e.g. txl-2-128)', parse: parseTxlName, problem: (p) => txlConfigProblem(p.layers, p.dim) }),
] as const;

export const MODEL_NAME_HELP = `${MODEL_KINDS.slice(0, -1)
  .map((k) => k.help)
  .join(', ')} or ${MODEL_KINDS[MODEL_KINDS.length - 1].help}`;

/** The name patterns of one family, for messages ("wrn-D-K, resnet-N, efficientnet-bN"). */
export function familyModelPatterns(family: ModelFamily): string {
  return MODEL_KINDS.filter((k) => k.family === family)
    .map((k) => k.help.split(' ')[0])
    .join(', ');
}

/** The kind of a well-formed name (it may still be unbuildable: see modelNameProblem), or null. */
export function modelKind(name: string): ModelKind<unknown> | null {
  for (const k of MODEL_KINDS as readonly ModelKind<unknown>[]) if (k.parse(name)) return k;
  return null;
}

export function modelFamily(name: string): ModelFamily | null {
  return modelKind(name)?.family ?? null;
}

/**
 * Why a model name cannot be built (unknown, or e.g. a WRN depth that is not
 * 6n+4), or null when it can: lets callers reject a bad name before loading data.
 */
export function modelNameProblem(name: string): string | null {
  for (const k of MODEL_KINDS as readonly ModelKind<unknown>[]) {
    const params = k.parse(name);
    if (params) return k.problem(params);
  }
  return `unknown model '${name}': expected ${MODEL_NAME_HELP}`;
}

/**
 * Why `model` cannot train on a task of `family` (null: it can): an unknown
 * or unbuildable name, or a model of the other family. The trainer and the
 * CLI's checks (train/settings.ts) both ask this.
 */
export function modelTaskProblem(model: string, task: string, family: ModelFamily): { kind: 'name' | 'family'; message: string } | null {
  const problem = modelNameProblem(model);
  if (problem) return { kind: 'name', message: problem };
  const fam = modelFamily(model);
  if (fam === family) return null;
  const article = (f: ModelFamily): string => (f === 'image' ? 'an image' : 'a language');
  return {
    kind: 'family',
    message: `model ${model} is ${article(fam ?? 'image')} model but task ${task} needs ${article(family)} ${family === 'image' ? 'classifier' : 'model'} (${familyModelPatterns(family)})`,
  };
}
