// Progress reporting: a bar on a terminal, plain lines otherwise (CI logs,
// pipes). Always on stderr, so `--json` output on stdout stays clean.
import cliProgress from 'cli-progress';

export interface ProgressReporter {
  startEpoch(epoch: number, epochs: number, steps: number): void;
  step(done: number, values: { loss: number; lr: number }): void;
  endEpoch(line: string): void;
  message(line: string): void;
  close(): void;
}

export function createProgress(opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): ProgressReporter {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) {
    return { startEpoch() {}, step() {}, endEpoch() {}, message() {}, close() {} };
  }
  if (!stream.isTTY) {
    return {
      startEpoch() {},
      step() {},
      endEpoch: (line) => void stream.write(`${line}\n`),
      message: (line) => void stream.write(`${line}\n`),
      close() {},
    };
  }
  let bar: cliProgress.SingleBar | null = null;
  return {
    startEpoch(epoch, epochs, steps) {
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `epoch ${epoch}/${epochs} [{bar}] {value}/{total} steps | loss {loss} | lr {lr} | eta {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(steps, 0, { loss: '-', lr: '-' });
    },
    step(done, v) {
      bar?.update(done, { loss: v.loss.toFixed(4), lr: v.lr.toExponential(2) });
    },
    endEpoch(line) {
      bar?.stop();
      bar = null;
      stream.write(`${line}\n`);
    },
    message(line) {
      stream.write(`${line}\n`);
    },
    close() {
      bar?.stop();
      bar = null;
    },
  };
}
