// A private redis-server for the tests that need one: started on a free
// loopback port with its own temporary directory, stopped (or killed and
// restarted on the same port, to test what survives) by the test. Debian's
// `redis-server` is installed by ./setup (CI runs it); where it is missing the
// tests that need it are skipped with `redisSkip`'s message instead of failing
// on an unrelated error.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
  /**
   * TLS only (no plain port): a certificate for localhost and 127.0.0.1
   * signed by a CA made for this server (`caFile`); clients connect with
   * rediss://localhost and trust the CA through NODE_EXTRA_CA_CERTS.
   */
  tls?: boolean;
}

/** Why the TLS Redis tests are skipped, or false when openssl is installed (./setup installs it). */
export const tlsSkip: string | false =
  redisSkip || (spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0 ? false : 'openssl is not installed (./setup installs it; CI runs these tests)');

/** A CA and a server certificate for localhost / 127.0.0.1 signed by it, in `dir`. */
function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const f = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=autodropout test CA', '-keyout', f('ca.key'), '-out', f('ca.crt'));
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', f('server.key'), '-out', f('server.csr'));
  writeFileSync(f('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('san.ext'), '-out', f('server.crt'));
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

/** Called when any test's redis-server exits without the test stopping it (killed from outside). */
const lostListeners: ((r: TestRedis, why: string) => void)[] = [];

/**
 * `fn` runs whenever a test's redis-server exits without its test stopping it:
 * a test waiting on its processes should fail then, not wait for a server
 * that will not come back (the search waits for Redis to return, by design).
 */
export function onRedisLost(fn: (r: TestRedis, why: string) => void): void {
  lostListeners.push(fn);
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

  /** redis://127.0.0.1:PORT/0, or rediss://localhost:PORT/0 with TLS (with the password when the server has one). */
  get url(): string {
    const auth = this.o.password ? `:${encodeURIComponent(this.o.password)}@` : '';
    return this.o.tls ? `rediss://${auth}localhost:${this.port}/0` : `redis://${auth}127.0.0.1:${this.port}/0`;
  }

  /** With TLS: the CA that signed the server's certificate (for NODE_EXTRA_CA_CERTS). */
  get caFile(): string {
    if (!this.certs) throw new Error('this Redis has no TLS');
    return this.certs.ca;
  }

  private certs: { ca: string; cert: string; key: string } | null = null;

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  private launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--daemonize', 'no', '--protected-mode', 'no'];
    if (this.o.tls) {
      // localhost may resolve to ::1 first: the server listens there too where the machine has IPv6 ('-': optional).
      this.certs ??= makeCertificates(this.dir);
      args.splice(0, 4, '--port', '0', '--tls-port', String(this.port), '--bind', '127.0.0.1', '-::1');
      args.push('--tls-cert-file', this.certs.cert, '--tls-key-file', this.certs.key, '--tls-ca-cert-file', this.certs.ca, '--tls-auth-clients', 'no');
    }
    args.push(...(this.o.persistence ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']));
    if (this.o.password) args.push('--requirepass', this.o.password);
    // Not niced: on a machine busy with other work at normal priority a nice-19 process gets about
    // 1.5 % of a core, and the tests' queue stalls behind it (found by a busy stress run).
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    // stop() forgets the process before it ends it: an exit of the current one came from elsewhere.
    proc.once('exit', (code, signal) => {
      if (this.proc !== proc) return;
      this.proc = null;
      for (const fn of lostListeners) fn(this, `the test's redis-server on port ${this.port} exited (${signal ?? code}) without the test stopping it`);
    });
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
    p.kill(signal);
    await gone;
  }

  /** Starts the server again on the same port and directory (an append-only file, if any, is read back). */
  async restart(): Promise<void> {
    await this.stop('SIGKILL');
    await this.launch();
  }
}
