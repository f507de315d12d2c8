// Search progress on stderr: a one-line bar on a terminal (trials finished,
// running, failed, best reward so far, ETA), one line per finished trial
// otherwise (CI logs, pipes), nothing when quiet. stdout stays free for --json.
import cliProgress from 'cli-progress';

export interface SearchCounts {
  /** Trials finished (done + pruned + failed), this session and before it. */
  finished: number;
  total: number;
  running: number;
  failed: number;
  pruned: number;
  /** Best reward so far and its trial. */
  best: { trialId: number; reward: number } | null;
}

export interface SearchProgress {
  /** Redraws the bar (TTY) with the current counts. */
  update(c: SearchCounts): void;
  /** A finished trial: a line (non-TTY), a redraw (TTY). */
  trial(line: string, c: SearchCounts): void;
  /** Any other message (workers replaced, interruption). */
  message(line: string): void;
  close(): void;
}

const fmtBest = (c: SearchCounts): string => (c.best ? `${c.best.reward.toFixed(4)} (trial ${c.best.trialId})` : '-');

export function createSearchProgress(opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): SearchProgress {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) return { update() {}, trial() {}, message() {}, close() {} };
  if (!stream.isTTY) {
    return {
      update() {},
      trial: (line, c) =>
        void stream.write(`${line}  [${c.finished}/${c.total} finished, ${c.running} running, ${c.failed} failed, ${c.pruned} pruned, best ${fmtBest(c)}]\n`),
      message: (line) => void stream.write(`${line}\n`),
      close() {},
    };
  }
  let bar: cliProgress.SingleBar | null = null;
  const payload = (c: SearchCounts) => ({ running: c.running, failed: c.failed, pruned: c.pruned, best: fmtBest(c) });
  const ensure = (c: SearchCounts): cliProgress.SingleBar => {
    if (!bar) {
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: 'trials [{bar}] {value}/{total} | running {running} | failed {failed} | pruned {pruned} | best {best} | eta {eta_formatted}',
          hideCursor: true,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(c.total, c.finished, payload(c));
    }
    return bar;
  };
  return {
    update(c) {
      const b = ensure(c);
      b.setTotal(c.total);
      b.update(c.finished, payload(c));
    },
    trial(_line, c) {
      // The bar's ETA comes from this session's rate (the bar starts at the trials finished before a resume).
      this.update(c);
    },
    message(line) {
      if (bar) {
        // Print above the bar, then let the next update redraw it.
        stream.write(`\r\x1b[2K${line}\n`);
      } else stream.write(`${line}\n`);
    },
    close() {
      bar?.stop();
      bar = null;
    },
  };
}
