/**
 * The one error type for unusable input data (missing files, corrupt or truncated files,
 * inconsistent datasets, impossible split options), so the CLI can print the message alone and
 * exit with a data-specific code instead of a stack trace.
 */
export class DataError extends Error {
  /** Every path that was looked at, where the error is about finding files. */
  readonly paths: string[];

  constructor(message: string, options?: { paths?: string[]; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DataError';
    this.paths = options?.paths ?? [];
  }
}
