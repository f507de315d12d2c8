// `autodropout dashboard`: a live web page over a search or compare database.
//
//   autodropout dashboard --db runs/fm.db [--port 8080] [--host 127.0.0.1]
//
// Read-only on the file (a search may be writing it: WAL readers never block
// the writer), on loopback unless --host says otherwise. The server and the
// store load in the action, so a bad flag exits 2 before anything heavy loads.
import { existsSync, statSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { UsageError } from './args.js';

/** Default --port. */
export const DEFAULT_DASHBOARD_PORT = 8080;

/** A TCP port: 0 (any free one) to 65535. */
function portNumber(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n > 65535) throw new InvalidArgumentError(`${name} must be a port number 0..65535 (0: any free port), got '${v}'.`);
    return n;
  };
}

interface DashboardFlags {
  db: string;
  port: number;
  host: string;
}

export function dashboardCommand(): Command {
  return new Command('dashboard')
    .description('a live web page over a search (or compare) database: rewards, curves, controller, tokens, trials and their patterns (read-only)')
    .requiredOption('--db <file>', 'the search (or compare) database, e.g. runs/NAME.db')
    .option('--port <n>', `TCP port to serve on (0: any free port)`, portNumber('--port'), DEFAULT_DASHBOARD_PORT)
    .option('--host <addr>', 'address to serve on; anything but loopback lets other machines read the study (the page has no authentication)', '127.0.0.1')
    .action(async (f: DashboardFlags) => {
      process.exitCode = await dashboardCli(f);
    });
}

/** Serves until SIGINT or SIGTERM; returns the exit code. */
export async function dashboardCli(f: DashboardFlags): Promise<number> {
  if (!existsSync(f.db)) throw new UsageError(`--db ${f.db}: no such file (start a search with autodropout search --db ${f.db}, or give the --db it was given).`);
  if (statSync(f.db).isDirectory()) throw new UsageError(`--db ${f.db} is a directory; pass the study's .db file (the --db its search was given).`);
  // Stopping the page is how it ends: both signals are a normal exit. The
  // handlers come first, so that "Ctrl-C stops it" is true the moment it is
  // printed (a signal before them would kill the process instead).
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  const onSignal = (): void => stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const { DashboardServer, ListenError, isLoopback } = await import('../dashboard/server.js');
  if (!isLoopback(f.host)) {
    process.stderr.write(
      `autodropout: warning: --host ${f.host} serves the dashboard beyond this machine, and the page has no authentication: anyone who can reach that address can read every study in ${f.db}\n`,
    );
  }
  let server;
  try {
    server = await DashboardServer.start({ db: f.db, host: f.host, port: f.port });
  } catch (e) {
    if (e instanceof ListenError) throw new UsageError(e.message);
    throw e;
  }
  process.stdout.write(`dashboard of ${f.db}: ${server.url}\n`);
  process.stderr.write('(read-only; Ctrl-C stops it)\n');
  await stopped;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  await server.close();
  return 0;
}
