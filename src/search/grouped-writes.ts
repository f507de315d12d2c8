// The coordinator's store writes, grouped: writes asked for in one turn of the
// event loop run together, in order, in one transaction, at the end of that
// turn. Every SQLite commit waits for the disk (the study's durability): a
// coordinator with hundreds of workers hears of dozens of epochs and ends at
// once, and one commit for them all waits once instead of dozens of times.
//
// Each write keeps its own outcome: the study's methods are transactions
// themselves (savepoints inside the group), so one that throws undoes only
// its own changes and rejects only its own promise. When the group's commit
// fails, every write in it rejects.

export class GroupedWrites {
  private queue: { run: () => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  /** `transaction` runs a function as one store transaction (Study.transaction). */
  constructor(private readonly transaction: (fn: () => void) => void) {}

  /** Runs `write` with the others of this turn; resolves with its result once they are committed. */
  add<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: write, resolve: resolve as (v: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Resolves once every write asked for so far is committed (or has failed). */
  async settled(): Promise<void> {
    if (this.queue.length) await this.add(() => undefined).catch(() => undefined);
  }

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.scheduled = false;
    const results: { ok: boolean; value: unknown }[] = [];
    try {
      this.transaction(() => {
        for (const w of batch) {
          try {
            results.push({ ok: true, value: w.run() });
          } catch (e) {
            results.push({ ok: false, value: e });
          }
        }
      });
    } catch (e) {
      for (const w of batch) w.reject(e);
      return;
    }
    batch.forEach((w, i) => (results[i].ok ? w.resolve(results[i].value) : w.reject(results[i].value)));
  }
}
