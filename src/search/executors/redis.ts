// Connecting to the Redis server behind a trial queue: ioredis options from a
// --redis URL, and the check both the coordinator and a worker make before
// they start, so an unreachable server or a wrong password is one clear error
// (exit 1) instead of ioredis retrying forever in silence.
import { isIP } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { parseRedisUrl, redactRedisUrl, type RedisTarget } from './queue-settings.js';

/** Redis cannot be reached, or refuses us, at start. */
export class RedisUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisUnreachableError';
  }
}

/**
 * ioredis options for a target. `maxRetriesPerRequest: null`: a command waits
 * for the connection to come back instead of failing (BullMQ requires it for
 * its blocking connections), so a restarted Redis costs a pause, not a search.
 */
export function redisOptions(t: RedisTarget): RedisOptions {
  return {
    host: t.host,
    port: t.port,
    db: t.db,
    ...(t.username !== undefined ? { username: t.username } : {}),
    ...(t.password !== undefined ? { password: t.password } : {}),
    // SNI names a host; an address is no name (RFC 6066), and Node warns when given one.
    ...(t.tls ? { tls: isIP(t.host) ? {} : { servername: t.host } } : {}),
    maxRetriesPerRequest: null,
  };
}

/** Tries `url` once (connect, AUTH, SELECT, PING); throws RedisUnreachableError naming the URL (password hidden), the reason and the fix. */
export async function checkRedis(url: string, flag = '--redis'): Promise<void> {
  const shown = redactRedisUrl(url);
  const client = new Redis({ ...redisOptions(parseRedisUrl(url)), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 10_000, enableOfflineQueue: false });
  let lastError: Error | null = null;
  client.on('error', (e: Error) => (lastError = e));
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    const err = lastError ?? (e as Error);
    const msg = err.message;
    if (/WRONGPASS|NOAUTH|invalid password|invalid username/i.test(msg)) {
      throw new RedisUnreachableError(`Redis at ${shown} refused the login (${msg.trim()}); put the right password in ${flag} (redis://:PASSWORD@HOST:PORT/DB)`);
    }
    if (/certificate|CERT_|self[- ]signed|Hostname\/IP does not match/i.test(msg)) {
      throw new RedisUnreachableError(
        `Redis at ${shown} has a TLS certificate this machine does not trust (${msg.trim()}): for a private CA, start this process with NODE_EXTRA_CA_CERTS=/path/to/ca.pem; ` +
          `the certificate must name the host of ${flag}; nothing was enqueued or trained`,
      );
    }
    throw new RedisUnreachableError(
      `cannot reach Redis at ${shown} (${msg.trim() || err.name}): start it there (e.g. \`redis-server\`, Debian package redis-server) or fix ${flag}; nothing was enqueued or trained`,
    );
  } finally {
    client.disconnect();
  }
}
