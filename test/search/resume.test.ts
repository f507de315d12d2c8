// Resume after the coordinator died: done/failed/pruned trials are kept,
// running ones go back to the queue with their attempts, the controller comes
// back from its newest checkpoint plus the told-but-unconsumed trials, and
// the sampler continues its stream, so an interrupted+resumed study ends with
// exactly the trials, tokens, log-probs and updates of an uninterrupted one
// that saw the same outcomes in the same order. Both a study abandoned
// in-process and a coordinator killed with SIGKILL mid-loop are covered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { replayStudy } from '../../src/search/replay.js';
import { SearchStore } from '../../src/search/store.js';
import { Study } from '../../src/search/study.js';
import type { StudyConfig } from '../../src/search/types.js';
import { tempDir } from '../helpers.js';
import { CRASH_CHILD_ENV, lmConfig, resumePoint, runOps, schedule, trialDigest, type IdMap } from './fixtures.js';

const TRIALS = 24;
const IN_FLIGHT = 3;

/** The reference: the whole schedule in one uninterrupted study. */
function reference(config: StudyConfig): { trials: unknown[]; checkpoints: unknown[]; samplerStates: unknown[] } {
  const s = Study.open(join(tempDir(), 'ref.db'), config);
  runOps(s, schedule(TRIALS, IN_FLIGHT), new Map());
  const out = digest(s);
  s.close();
  return out;
}

function digest(s: Study): { trials: unknown[]; checkpoints: unknown[]; samplerStates: unknown[] } {
  return {
    trials: trialDigest(s),
    checkpoints: s.store.checkpoints(s.id).map((c) => ({ version: c.version, asked: c.asked, told: c.told, consumed: c.consumed, baseline: c.meta.baseline, rng: c.meta.rngState })),
    samplerStates: Array.from({ length: s.askedCount() }, (_, k) => s.store.samplerState(s.id, k)),
  };
}

/** Resumes a crashed study and runs the rest of the schedule; checks the resume invariants on the way. */
function finish(path: string, config: StudyConfig): Study {
  const ops = schedule(TRIALS, IN_FLIGHT);
  const s = Study.open(path, config, { resume: true });
  assert.ok(s.resumed);
  const { next, ids } = resumePoint(s, ops);
  const untold = s.trials().filter((t) => t.tellOrder === null);
  // Every trial asked and not told is queued again, with its attempts unchanged.
  for (const t of untold) {
    assert.equal(t.state, 'queued', `trial ${t.id}`);
    assert.equal(t.attempts, 0);
    assert.equal(t.worker, null);
  }
  // rl: the told trials no update consumed yet are back in the controller's buffer, in tell order.
  assert.deepEqual(
    s.resumed!.rebuffered,
    config.strategy === 'rl' ? s.store.unconsumed(s.id).map((t) => t.id) : [],
  );
  assert.deepEqual(s.bufferedTrialIds(), s.resumed!.rebuffered);
  // The coordinator takes the queued trials first, each once, lowest ask order first.
  const taken: number[] = [];
  for (let p = s.takeQueued(); p; p = s.takeQueued()) {
    taken.push(p.trialId);
    s.markRunning(p.trialId, 'w2');
  }
  assert.deepEqual(
    taken,
    untold.map((t) => t.id),
  );
  runOps(s, ops, ids as IdMap, next);
  return s;
}

for (const strategy of ['rl', 'random'] as const) {
  test(`${strategy}: a study abandoned mid-schedule (store closed without cleanup) resumes to exactly the uninterrupted result`, () => {
    const config = lmConfig({ strategy });
    const ref = reference(config);
    const ops = schedule(TRIALS, IN_FLIGHT);
    for (const crashAt of [5, 17, 30]) {
      const path = join(tempDir(), `crash-${crashAt}.db`);
      const s = Study.open(path, config);
      const ids: IdMap = new Map();
      runOps(s, ops, ids, 0, crashAt);
      // One more ask whose trial never starts, so the crash leaves a queued trial too.
      if (ops[crashAt].op === 'ask') {
        ids.set(ids.size, s.ask().trialId);
      }
      const running = s.trials(['running']).map((t) => t.id);
      // The crash: the file is closed, nothing else (the lock stays, the trials stay running).
      s.store.close();
      s.controller?.dispose();

      const r = finish(path, config);
      assert.deepEqual(r.resumed!.requeued, running);
      const got = digest(r);
      assert.deepEqual(got.trials, ref.trials, `crash after op ${crashAt}: trials`);
      assert.deepEqual(got.checkpoints, ref.checkpoints, `crash after op ${crashAt}: updates`);
      assert.deepEqual(got.samplerStates, ref.samplerStates, `crash after op ${crashAt}: sampler states`);
      const all = r.trials().map((t) => t.id);
      assert.equal(new Set(all).size, TRIALS, 'no duplicate trial ids');
      assert.deepEqual(r.counts().queued + r.counts().running, 0);
      r.close();
    }
  });
}

test('rl: a coordinator killed with SIGKILL in the middle of its loop resumes to exactly the uninterrupted result', async () => {
  const config = lmConfig();
  const ref = reference(config);
  const fixtures = fileURLToPath(new URL('./fixtures.js', import.meta.url));
  for (const killAfter of [9, 26]) {
    const path = join(tempDir(), `kill-${killAfter}.db`);
    const child = spawn(process.execPath, [fixtures], {
      env: { ...process.env, [CRASH_CHILD_ENV]: JSON.stringify({ db: path, config, trials: TRIALS, inFlight: IN_FLIGHT }) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let seen = '';
    const exited = new Promise<NodeJS.Signals | null>((res) => child.on('exit', (_code, sig) => res(sig)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      seen += d;
      const lines = seen.trim().split('\n');
      if (Number(lines.at(-1)) >= killAfter) child.kill('SIGKILL');
    });
    const sig = await exited;
    assert.equal(sig, 'SIGKILL');
    assert.ok(!seen.includes('finished'), 'the child was killed before the end of the schedule');

    const r = finish(path, config);
    const got = digest(r);
    assert.deepEqual(got.trials, ref.trials, `killed after op ${killAfter}: trials`);
    assert.deepEqual(got.checkpoints, ref.checkpoints, `killed after op ${killAfter}: updates`);
    assert.deepEqual(got.samplerStates, ref.samplerStates);
    // The log of a killed and resumed study replays from its seed like any other.
    if (killAfter === 26) assert.deepEqual(replayStudy(r.store).mismatches, []);
    r.close();
  }
});

test('a resumed study refuses a second live coordinator, even with takeover; one on another host needs takeover', () => {
  const path = join(tempDir(), 'two.db');
  const s = Study.open(path, lmConfig({ strategy: 'random' }));
  s.store.unsafeExec('UPDATE studies SET lock_pid = ?', process.ppid);
  s.store.close();
  for (const takeover of [false, true]) {
    assert.throws(() => Study.open(path, lmConfig({ strategy: 'random' }), { resume: true, takeover }), /held by process \d+.*still running; only one coordinator/);
  }
  const store = SearchStore.open(path);
  store.unsafeExec("UPDATE studies SET lock_host = 'elsewhere'");
  store.close();
  assert.throws(() => Study.open(path, lmConfig({ strategy: 'random' }), { resume: true }), /on elsewhere .*pass --takeover/);
  const t = Study.open(path, lmConfig({ strategy: 'random' }), { resume: true, takeover: true });
  assert.match(t.warnings.join('\n'), new RegExp(`took study 'lm' over from process ${process.ppid} on elsewhere`));
  t.close();
});
