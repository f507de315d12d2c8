// The queue settings (search/executors/queue-settings.ts): --redis URLs with
// passwords, users, TLS and database numbers; the password never shown; the
// default queue name; and every setting reaching the --help of the commands
// that take it, with its default (the flags are declared once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Command } from 'commander';
import { QUEUE_SETTINGS, defaultQueueName, parseRedisUrl, queueSettingsOf, redactRedisUrl } from '../../src/search/executors/queue-settings.js';
import { redisOptions } from '../../src/search/executors/redis.js';
import { addQueueOptions, queueSettingsFrom } from '../../src/cli/queue-settings.js';
import { searchCommand, workerCommand } from '../../src/cli/search.js';

test('--redis URLs: host, port, database, user and password (percent-decoded), TLS for rediss://', () => {
  assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6380/2'), { host: '127.0.0.1', port: 6380, db: 2, tls: false });
  assert.deepEqual(parseRedisUrl('redis://redis-host'), { host: 'redis-host', port: 6379, db: 0, tls: false });
  assert.deepEqual(parseRedisUrl('rediss://alice:p%40ss%3Aword@secure.example:6390/1'), { host: 'secure.example', port: 6390, db: 1, username: 'alice', password: 'p@ss:word', tls: true });
  assert.deepEqual(parseRedisUrl('redis://:only-a-password@[::1]:7000/0'), { host: '::1', port: 7000, db: 0, password: 'only-a-password', tls: false });
  const o = redisOptions(parseRedisUrl('rediss://alice:pw@h:1/3'));
  assert.deepEqual([o.host, o.port, o.db, o.username, o.password, o.tls, o.maxRetriesPerRequest], ['h', 1, 3, 'alice', 'pw', { servername: 'h' }, null]);
  assert.equal(redisOptions(parseRedisUrl('redis://h:1/0')).tls, undefined);
});

test('bad --redis URLs are refused saying why, never with the password', () => {
  for (const [url, why] of [
    ['http://h:6379', /has scheme http; expected redis:\/\/ or rediss:\/\//],
    ['redis://:pw@h:6379/x', /the path must be a database number/],
    ['not a url', /is not a URL/],
    ['redis://:pw@h:6379/0?timeout=3', /query strings and fragments are not read/],
  ] as const) {
    assert.throws(
      () => parseRedisUrl(url),
      (e: unknown) => {
        assert.match((e as Error).message, why);
        assert.doesNotMatch((e as Error).message, /:pw@/);
        return true;
      },
    );
  }
  assert.equal(redactRedisUrl('redis://alice:s3cret@h:6379/0'), 'redis://alice:***@h:6379/0');
  assert.equal(redactRedisUrl('rediss://:s3cret@h/0'), 'rediss://:***@h/0');
  assert.equal(redactRedisUrl('redis://h:6379/0'), 'redis://h:6379/0');
});

test('a study name becomes a queue name BullMQ accepts', () => {
  assert.equal(defaultQueueName('fm'), 'fm');
  assert.equal(defaultQueueName('runs/fm:2 x'), 'runs_fm_2_x');
});

test('every queue setting is a flag of the commands that take it, with its default in --help; defaults fill what is not given', () => {
  const help = { search: searchCommand().helpInformation(), worker: workerCommand().helpInformation() };
  for (const s of QUEUE_SETTINGS) {
    for (const side of ['search', 'worker'] as const) {
      const takes = s.side === side || s.side === 'both';
      assert.equal(help[side].includes(`${s.flag} ${s.arg}`), takes, `${s.flag} on ${side}`);
    }
  }
  assert.match(help.worker, /--lock-duration <s>[^]*\(default 30\)/);
  assert.match(help.search, /--job-attempts <n>[^]*\(default 2\)/);
  const cmd = addQueueOptions(new Command('x'), 'worker');
  cmd.parse(['--redis', 'redis://h/0', '--queue', 'q', '--threads', '2'], { from: 'user' });
  const w = queueSettingsFrom(cmd.opts(), 'worker');
  assert.deepEqual([w.redis, w.queue, w.threads, w.lockDuration, w.stalledInterval, w.maxStalled, w.device], ['redis://h/0', 'q', 2, 30, 30, 1, 'cpu']);
  assert.equal(queueSettingsOf('search').length + queueSettingsOf('worker').length, QUEUE_SETTINGS.length + QUEUE_SETTINGS.filter((s) => s.side === 'both').length);
});
