// A private redis-server for the tests that need one: started on a free
// loopback port with its own temporary directory, stopped (or killed and
// restarted on the same port, to test what survives) by the test. Debian's
// `redis-server` is installed by ./setup (CI runs it); where it is missing the
// tests that need it are skipped with `redisSkip`'s message instead of failing
// on an unrelated error.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { tempDir } from './helpers.js';

/** Why the Redis tests are skipped, or false when redis-server is installed. */
export const redisSkip: string | false =
  spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0 ? false : 'redis-server is not installed (./setup installs Debian\'s redis-server; CI runs these tests)';

/** A free TCP port on 127.0.0.1 (the OS picks it; redis-server binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export interface RedisOptions {
  /** Append-only file with fsync on every write: a restart keeps every job (default: no persistence at all). */
  persistence?: boolean;
  /** requirepass: clients must AUTH with it. */
  password?: string;
}

/** One redis-server process of a test. */
export class TestRedis {
  private proc: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly o: RedisOptions,
  ) {}

  /** Starts a server on a free port; resolves once it accepts connections. */
  static async start(o: RedisOptions = {}): Promise<TestRedis> {
    const r = new TestRedis(await freePort(), tempDir('autodropout-redis-'), o);
    await r.launch();
    return r;
  }

  /** redis://127.0.0.1:PORT/0 (with the password when the server has one). */
  get url(): string {
    return `redis://${this.o.password ? `:${encodeURIComponent(this.o.password)}@` : ''}127.0.0.1:${this.port}/0`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--daemonize', 'no', '--protected-mode', 'no'];
    args.push(...(this.o.persistence ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
    if (this.o.password) args.push('--requirepass', this.o.password);
    // nice: the machine's cores belong to the training children.
    const proc = spawn('nice', ['-n', '19', 'redis-server', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    return new Promise((resolve, reject) => {
      let out = '';
      const onData = (d: string): void => {
        out += d;
        if (/Ready to accept connections/.test(out)) {
          proc.stdout!.off('data', onData);
          proc.stdout!.resume();
          resolve();
        }
      };
      proc.stdout!.setEncoding('utf8').on('data', onData);
      proc.stderr!.resume();
      proc.once('exit', (code, signal) => reject(new Error(`redis-server on port ${this.port} exited (${signal ?? code}) before it was ready: ${out.slice(-500)}`)));
    });
  }

  /** Ends the server with `signal` (SIGTERM: a clean shutdown; SIGKILL: a crash) and waits until it has exited. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    // `nice` execs redis-server, so the pid is the server's own.
    p.kill(signal);
    await gone;
  }

  /** Starts the server again on the same port and directory (an append-only file, if any, is read back). */
  async restart(): Promise<void> {
    await this.stop('SIGKILL');
    await this.launch();
  }
}
