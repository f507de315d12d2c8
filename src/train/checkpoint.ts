// Per-epoch checkpoints of a training run: model tensors, optimizer state, the
// random generators and the metrics so far. Files are written first and the
// small state.json that names them last (atomically), so a crash at any point
// leaves the previous checkpoint usable.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTensors, saveTensors, writeAtomically, type Tensor } from '../engine/index.js';
import type { LossScaleState } from './loss-scale.js';

export interface CheckpointState<H> {
  version: 1;
  /** Identifies the configuration; resuming with a different one is refused. */
  configKey: string;
  epochsDone: number;
  globalStep: number;
  dataRng: number[];
  history: H[];
  trainSeconds: number;
  /** float16 training: the loss scaler's state (train/loss-scale.ts). */
  lossScale?: LossScaleState;
  files: { model: string; optimizer: string; generator: string };
}

export function checkpointExists(dir: string): boolean {
  return existsSync(join(dir, 'state.json'));
}

export function writeCheckpoint<H>(
  dir: string,
  state: Omit<CheckpointState<H>, 'files' | 'version'>,
  tensors: ReadonlyMap<string, Tensor>,
  optimizerState: Buffer,
  generatorState: Buffer,
): void {
  mkdirSync(dir, { recursive: true });
  const e = state.epochsDone;
  const files = { model: `model-e${e}.adt`, optimizer: `optimizer-e${e}.bin`, generator: `generator-e${e}.bin` };
  saveTensors(join(dir, files.model), tensors);
  writeAtomically(join(dir, files.optimizer), [optimizerState]);
  writeAtomically(join(dir, files.generator), [generatorState]);
  const previous = checkpointExists(dir) ? readState<H>(dir) : null;
  writeAtomically(join(dir, 'state.json'), [Buffer.from(JSON.stringify({ version: 1, ...state, files }, null, 1))]);
  if (previous && previous.epochsDone !== e) {
    for (const f of Object.values(previous.files)) rmSync(join(dir, f), { force: true });
  }
}

function readState<H>(dir: string): CheckpointState<H> {
  const path = join(dir, 'state.json');
  try {
    const s = JSON.parse(readFileSync(path, 'utf8')) as CheckpointState<H>;
    if (s.version !== 1 || typeof s.epochsDone !== 'number' || !s.files) throw new Error('missing fields');
    return s;
  } catch (err) {
    throw new Error(`${path}: unreadable checkpoint state (${(err as Error).message}); delete the directory to start over`);
  }
}

export interface LoadedCheckpoint<H> {
  state: CheckpointState<H>;
  tensors: Map<string, Tensor>;
  optimizer: Buffer;
  generator: Buffer;
}

/** JSON with every object's keys sorted: the same configuration gives the same text, whatever order it was built in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** A stored key in canonical form (checkpoints written before keys were sorted read as the same configuration). */
function canonicalKey(key: string): string {
  try {
    return canonicalJson(JSON.parse(key));
  } catch {
    return key;
  }
}

export function readCheckpoint<H>(dir: string, configKey: string): LoadedCheckpoint<H> {
  const state = readState<H>(dir);
  if (canonicalKey(state.configKey) !== canonicalKey(configKey)) {
    throw new Error(
      `${join(dir, 'state.json')}: this checkpoint was made with a different configuration\n  checkpoint: ${state.configKey}\n  now:        ${configKey}\n` +
        'Resume with the same flags, or choose another --checkpoint directory.',
    );
  }
  const { tensors } = loadTensors(join(dir, state.files.model));
  return {
    state,
    tensors,
    optimizer: readFileSync(join(dir, state.files.optimizer)),
    generator: readFileSync(join(dir, state.files.generator)),
  };
}

/** Marks a run finished so a later --resume reports it rather than training more. */
export function writeResult(dir: string, result: unknown): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'result.json'), JSON.stringify(result, null, 1));
}
