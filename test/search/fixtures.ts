// Shared pieces of the search tests: small study configs, fake outcomes (no
// child is ever trained), a deterministic schedule of asks and tells that
// mimics a coordinator with several trials in flight, and the child-process
// entry point of the kill -9 test (active only when its environment variable
// is set, so the test runner can load this file harmlessly).
import { readFileSync, writeFileSync } from 'node:fs';
import Database from 'better-sqlite3';
import { Rng } from '../../src/util/rng.js';
import { Study } from '../../src/search/study.js';
import type { StudyConfig, TrialOutcome } from '../../src/search/types.js';

/** The environment variable that turns this module into the crash test's child. */
export const CRASH_CHILD_ENV = 'AUTODROPOUT_SEARCH_CRASH_CHILD';

/** A tiny language-model study: tlm-1-32 has one span group (12 tokens), so the controller is fast. */
export function lmConfig(over: Partial<StudyConfig> = {}): StudyConfig {
  return {
    name: 'lm',
    strategy: 'rl',
    space: 'span',
    trials: 40,
    seed: 7,
    updateEvery: 3,
    prune: 'none',
    codeVersion: 'test',
    child: { task: 'sotu', model: 'tlm-1-32', epochs: 2, childSeed: 0 },
    controller: { layers: 1, dim: 16, heads: 2 },
    ...over,
  };
}

/** An image study over the tile space (wrn-10-1: 7 conv groups, 55 tokens: final.bn has no residual token). */
export function imageConfig(over: Partial<StudyConfig> = {}): StudyConfig {
  return {
    name: 'img',
    strategy: 'rl',
    space: 'tile',
    trials: 20,
    seed: 3,
    updateEvery: 4,
    prune: 'none',
    codeVersion: 'test',
    child: { task: 'fashion-mnist', model: 'wrn-10-1', epochs: 3, childSeed: 0 },
    controller: { layers: 1, dim: 16, heads: 2 },
    ...over,
  };
}

/**
 * A fake, deterministic outcome for the trial asked k-th with these tokens:
 * every 5th (k % 5 == 3) fails, every 7th (k % 7 == 5) is pruned, the rest
 * are done with a reward that depends on the tokens (so the controller has
 * something to learn).
 */
export function fakeOutcome(k: number, tokens: readonly number[]): TrialOutcome {
  const r = 0.5 + tokens.reduce((a, t, i) => a + ((t * (i + 1)) % 5), 0) / (25 * Math.max(1, tokens.length));
  if (k % 5 === 3) return { state: 'failed', error: `fake failure of trial #${k}` };
  if (k % 7 === 5) return { state: 'pruned', reward: r - 0.2, atEpoch: 1, trainSeconds: 1 };
  return { state: 'done', reward: r, val: { loss: 1 - r, perplexity: 80 / r }, trainSeconds: 2 };
}

export type Op = { op: 'ask' } | { op: 'tell'; k: number };

/**
 * A coordinator-like order of asks and tells for `trials` trials with up to
 * `inFlight` trials out at once, finishing out of order (seeded).
 */
export function schedule(trials: number, inFlight: number, seed = 11): Op[] {
  const rng = new Rng(seed);
  const ops: Op[] = [];
  const out: number[] = [];
  let asked = 0;
  while (asked < trials || out.length) {
    if (asked < trials && (out.length < inFlight) && (out.length === 0 || rng.chance(0.6))) {
      ops.push({ op: 'ask' });
      out.push(asked++);
    } else {
      const [k] = out.splice(rng.nextInt(out.length), 1);
      ops.push({ op: 'tell', k });
    }
  }
  return ops;
}

/** trialId by ask index, filled as the schedule runs. */
export type IdMap = Map<number, number>;

/**
 * Runs ops[from..to) on the study: ask (then markRunning), or tell the
 * trial asked k-th with its fake outcome. `onOp(j)` after each op.
 */
export function runOps(study: Study, ops: readonly Op[], ids: IdMap, from = 0, to = ops.length, onOp?: (j: number) => void): void {
  for (let j = from; j < to; j++) {
    const o = ops[j];
    if (o.op === 'ask') {
      const p = study.ask();
      ids.set(ids.size, p.trialId);
      study.markRunning(p.trialId, 'w1');
    } else {
      const id = ids.get(o.k)!;
      study.tell(id, fakeOutcome(o.k, study.trial(id).tokens));
    }
    onOp?.(j);
  }
}

/**
 * After a crash: the first op of the schedule the stored study does not
 * reflect (every op is one or two committed transactions, applied in order,
 * so the file holds a prefix of the schedule), and the ask-index → trialId map.
 */
export function resumePoint(study: Study, ops: readonly Op[]): { next: number; ids: IdMap } {
  const trials = study.trials();
  const ids: IdMap = new Map(trials.map((t) => [t.askOrder, t.id]));
  const told = new Set(trials.filter((t) => t.tellOrder !== null).map((t) => t.askOrder));
  let asked = 0;
  for (let j = 0; j < ops.length; j++) {
    const o = ops[j];
    if (o.op === 'ask') {
      if (asked >= trials.length) return { next: j, ids };
      asked++;
    } else if (!told.has(o.k)) return { next: j, ids };
  }
  return { next: ops.length, ids };
}

/** What must be identical between an interrupted+resumed study and an uninterrupted one. */
export function trialDigest(study: Study): unknown[] {
  return study.trials().map((t) => ({
    id: t.id,
    askOrder: t.askOrder,
    tokens: t.tokens,
    logProb: t.logProb,
    policyVersion: t.policyVersion,
    state: t.state,
    reward: t.reward,
    updateReward: t.updateReward,
    tellOrder: t.tellOrder,
    consumedVersion: t.consumedVersion,
    pattern: t.pattern,
  }));
}

// The kill -9 test's child: runs the whole schedule on a fresh study, printing
// the index of each op as it completes, until the parent kills it.
if (process.env[CRASH_CHILD_ENV]) {
  const { db, config, trials, inFlight } = JSON.parse(process.env[CRASH_CHILD_ENV]!) as { db: string; config: StudyConfig; trials: number; inFlight: number };
  const study = Study.open(db, config);
  const ops = schedule(trials, inFlight);
  process.stdout.write('ready\n');
  runOps(study, ops, new Map(), 0, ops.length, (j) => process.stdout.write(`${j}\n`));
  process.stdout.write('finished\n');
  study.close();
}

/**
 * Copies the database `from` to `to` with the cells of its trials table's root
 * page scribbled over (the page header stays, so only a read of its rows
 * notices); returns `to`.
 */
export function damagedCopy(from: string, to: string): string {
  const db = new Database(from, { readonly: true });
  const root = db.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'trials'").pluck().get() as number;
  const page = db.pragma('page_size', { simple: true }) as number;
  db.close();
  const bytes = readFileSync(from);
  bytes.fill(0x5a, (root - 1) * page + 12, root * page);
  writeFileSync(to, bytes);
  return to;
}
