/**
 * The one error type for unusable input data (missing files, corrupt or truncated files,
 * inconsistent datasets, impossible split options), so the CLI can print the message alone and
 * exit with a data-specific code instead of a stack trace.
 */
export class DataError extends Error {
  /** Every path that was looked at, where the error is about finding files. */
  readonly paths: string[];
  /** The dataset is nowhere to be found (as opposed to found but unusable: incomplete, corrupt). */
  readonly notFound: boolean;
  /** For a dataset not found: how to get it and where to put it (also in the message). */
  readonly hint: string | undefined;
  /**
   * The loading option whose value the data cannot satisfy (e.g. `valSize`
   * larger than the training set), when that is the problem; the message
   * then starts with it, so a command line can name its own flag instead.
   */
  readonly option: string | undefined;

  constructor(message: string, options?: { paths?: string[]; cause?: unknown; notFound?: boolean; hint?: string; option?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DataError';
    this.paths = options?.paths ?? [];
    this.notFound = options?.notFound ?? false;
    this.hint = options?.hint;
    this.option = options?.option;
  }
}

/** A split size (valSize, trainLimit) the dataset cannot give: an integer in [lo, hi], else a DataError naming the option. */
export function checkSplitSize(option: 'valSize' | 'trainLimit', value: number, lo: number, hi: number, why: string): void {
  if (!Number.isInteger(value) || value < lo || value > hi) throw new DataError(`${option} must be an integer in [${lo}, ${hi}] (${why}), got ${value}`, { option });
}
