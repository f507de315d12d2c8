// Several studies of one database run by one coordinator, so that the
// workers stay busy across them (compare trains every pattern × seed; one
// study at a time would leave workers idle at the end of each). Trial ids are
// unique in the file, so every call about a trial goes to the study that
// asked it.
//
// Members are asked in order: the first with trials left proposes. A pending
// member is a study that can only be configured once others have finished
// (a tuned baseline waits for its grid); until then the group's askBatch()
// may return none, which tells the coordinator to wait for a trial in flight.
// The group's trial target counts pending members from the start, so the
// progress total is right throughout; a pending member that can never run
// (every grid point failed) leaves the target.
import type { TrialSpec } from '../search/executors/types.js';
import type { Study } from '../search/study.js';
import type { CoordinatedStudy, EpochReport, Proposal, TrialOutcome } from '../search/types.js';

export interface PendingStudy {
  /** Trials it will ask for once open. */
  readonly trials: number;
  /** The study, once it can be opened; undefined: not yet; null: never (it leaves the group's target). */
  open(): Study | null | undefined;
}

export class StudyGroup implements CoordinatedStudy {
  private readonly members: Study[];
  private pending: PendingStudy[];
  private readonly owner = new Map<number, Study>();

  constructor(members: readonly Study[], pending: readonly PendingStudy[] = []) {
    this.members = [...members];
    this.pending = [...pending];
    for (const s of this.members) this.adopt(s);
  }

  private adopt(s: Study): void {
    for (const t of s.trials()) this.owner.set(t.id, s);
  }

  /** Opens every pending member that can be opened now. */
  private settle(): void {
    const still: PendingStudy[] = [];
    for (const p of this.pending) {
      const s = p.open();
      if (s === undefined) still.push(p);
      else if (s !== null) {
        this.members.push(s);
        this.adopt(s);
      }
    }
    this.pending = still;
  }

  private of(trialId: number): Study {
    const s = this.owner.get(trialId);
    if (!s) throw new Error(`study group: trial ${trialId} belongs to none of its studies`);
    return s;
  }

  /** The open studies, in ask order (pending ones join once opened). */
  studies(): readonly Study[] {
    this.settle();
    return this.members;
  }

  get trialTarget(): number {
    this.settle();
    return this.members.reduce((a, s) => a + s.trialTarget, 0) + this.pending.reduce((a, p) => a + p.trials, 0);
  }

  askedCount(): number {
    return this.members.reduce((a, s) => a + s.askedCount(), 0);
  }

  /** Up to `max` proposals, all from the first open study with trials left to ask (ask order = seed order within a study). */
  askBatch(max: number): Proposal[] {
    this.settle();
    const s = this.members.find((m) => m.askedCount() < m.trialTarget);
    if (!s) return [];
    const ps = s.askBatch(Math.min(max, s.trialTarget - s.askedCount()));
    for (const p of ps) this.owner.set(p.trialId, s);
    return ps;
  }

  takeQueued(): Proposal | null {
    for (const s of this.members) {
      const p = s.takeQueued();
      if (p) return p;
    }
    return null;
  }

  trialSpec(p: Proposal): TrialSpec {
    return this.of(p.trialId).trialSpec(p);
  }
  dataFingerprint(trialId: number): string | null {
    return this.of(trialId).dataFingerprint(trialId);
  }
  markRunning(trialId: number, worker: string): void {
    this.of(trialId).markRunning(trialId, worker);
  }
  heartbeat(trialId: number): void {
    this.of(trialId).heartbeat(trialId);
  }
  recordEpoch(trialId: number, report: EpochReport): void {
    this.of(trialId).recordEpoch(trialId, report);
  }
  stopAfter(trialId: number, report: EpochReport): boolean {
    return this.of(trialId).stopAfter(trialId, report);
  }
  requeue(trialId: number, reason: string, countsAsAttempt?: boolean): 'queued' | 'failed' {
    return this.of(trialId).requeue(trialId, reason, countsAsAttempt);
  }
  tell(trialId: number, outcome: TrialOutcome): void {
    this.of(trialId).tell(trialId, outcome);
  }
  /** The members share one store (compare opens them all on its database). */
  transaction(fn: () => void): void {
    const first = this.members[0];
    if (first) first.transaction(fn);
    else fn();
  }

  counts(): { queued: number; running: number; done: number; failed: number; pruned: number } {
    const c = { queued: 0, running: 0, done: 0, failed: 0, pruned: 0 };
    for (const s of this.members) {
      const m = s.counts();
      for (const k of Object.keys(c) as (keyof typeof c)[]) c[k] += m[k];
    }
    return c;
  }

  /** The highest reward of any done trial (different patterns; shown by the progress line only). */
  best(): { trialId: number; reward: number } | null {
    let best: { trialId: number; reward: number } | null = null;
    for (const s of this.members) {
      const b = s.best();
      if (b && (!best || b.reward > best.reward)) best = b;
    }
    return best;
  }

  /** The study a trial belongs to (its name labels progress lines). */
  studyOf(trialId: number): Study | undefined {
    return this.owner.get(trialId);
  }

  close(): void {
    for (const s of this.members) s.close();
  }
}
