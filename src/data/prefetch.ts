/**
 * Ordered read-ahead for batches produced asynchronously (images decoded on libuv's thread pool):
 * while the consumer trains on batch k, batches k+1 … k+depth are already being made, and they
 * come out in job order whatever order they finish in.
 */

/** How many batches are decoded ahead of the one being trained on, by default. */
export const DEFAULT_PREFETCH = 2;

/** One turn of the event loop: lets finished thread-pool work run its callbacks. */
const eventLoopTurn = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * Runs `jobs` in order and yields their results in job order; while the consumer holds an item,
 * the next `depth` jobs are running (0: one job at a time, no read-ahead).
 *
 * A consumer that does heavy synchronous work between items (a training step) never blocks on a
 * ready item, so without help the event loop would not turn and multi-stage jobs (read a header,
 * then decode) would advance one stage per blocked wait only; one explicit turn before each item
 * keeps every job in flight moving.
 *
 * A job that fails is reported when its turn comes, not earlier (a failure while an earlier batch
 * is being trained on must not surface as an unhandled rejection). Jobs still in flight when the
 * consumer stops early run to completion and are dropped.
 */
export async function* prefetched<T>(jobs: Iterable<() => Promise<T>>, depth = DEFAULT_PREFETCH): AsyncGenerator<T> {
  if (!Number.isInteger(depth) || depth < 0) throw new RangeError(`prefetch depth must be a non-negative integer, got ${depth}`);
  const pending = jobs[Symbol.iterator]();
  const inFlight: Promise<T>[] = [];
  let exhausted = false;
  const fill = (limit: number): void => {
    while (!exhausted && inFlight.length < limit) {
      const next = pending.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const job = next.value;
      const p = new Promise<T>((resolve) => resolve(job()));
      // Marks the rejection as handled now; awaiting p below still throws it.
      p.catch(() => undefined);
      inFlight.push(p);
    }
  };
  for (;;) {
    fill(depth + 1);
    const head = inFlight.shift();
    if (head === undefined) return;
    await eventLoopTurn();
    yield await head;
  }
}
