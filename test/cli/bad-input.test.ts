// The catalogue of bad input: every way a user can hold the command line
// wrong that the project knows of, one row each, run against the real CLI.
// A row gives the arguments (and any files it needs), the exit code (2: the
// command line is at fault and says which flag; 1: the data, the files or the
// study are), what stderr must say, and what must hold of the study database
// afterwards (untouched, never created, or a check of its own). Every row also
// holds: nothing on stdout for a refusal, no stack trace, and a usage pointer
// with exit 2. Rows train nothing beyond loading data or a worker starting.
// (Errors in --config files are catalogued in config-file.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SearchStore } from '../../src/search/store.js';
import { Study } from '../../src/search/study.js';
import type { StudyConfig } from '../../src/search/types.js';
import { damagedCopy } from '../search/fixtures.js';
import { cifar10Fixture, cliPath, runCli, tempDir, type CliRun } from '../helpers.js';

/** A random-strategy study on the small MNIST child, as `search` would have made it. */
const studyConfig = (name: string, trials: number): StudyConfig => ({
  name,
  strategy: 'random',
  space: 'tile',
  trials,
  seed: 0,
  child: { task: 'mnist', model: 'wrn-10-1', epochs: 1, trainLimit: 256, valSize: 256, childSeed: 0 },
  updateEvery: 8,
  prune: 'none',
  codeVersion: 'test',
});

/** A study file whose `trials` trials were all asked and told done (fake rewards: nothing trains). */
function finishedStudy(path: string, trials = 8): string {
  const s = Study.open(path, studyConfig('finished', trials));
  for (let i = 0; i < trials; i++) {
    const p = s.ask();
    s.markRunning(p.trialId, 'w');
    s.tell(p.trialId, { state: 'done', reward: 0.1 + i / 100, val: { loss: 2, accuracy: 0.1 + i / 100 }, trainSeconds: 1 });
  }
  s.close();
  return path;
}


const setLock = (db: string, pid: number, host: string): void => {
  const s = SearchStore.open(db);
  s.unsafeExec('UPDATE studies SET lock_pid = ?, lock_host = ?, lock_since = ?', pid, host, Date.now());
  s.close();
};

/** Every table's rows (what "the database is intact" compares), or the bytes of a file SQLite cannot read. */
function contents(path: string): string {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
      return JSON.stringify(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}"`).all()]), (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
    } finally {
      db.close();
    }
  } catch {
    return readFileSync(path).toString('hex');
  }
}

interface Ctx {
  /** A fresh directory of the row's own. */
  dir: string;
  /** A study path in it, which does not exist unless the row's setup makes it. */
  db: string;
  /** A loopback TCP port the row's setup keeps busy. */
  busyPort?: number;
}

interface Row {
  what: string;
  setup?(c: Ctx): void | Promise<void>;
  args(c: Ctx): string[];
  code: number;
  stderr: RegExp;
  /** What stderr must not say. */
  notStderr?: RegExp;
  /** 'unchanged': every table's rows as before; 'absent': never created; or a check of its own. */
  db?: 'unchanged' | 'absent' | ((c: Ctx, r: CliRun) => void);
}

// The small child every search row would train (it never gets that far, or trains nothing).
const child = ['--task', 'mnist', '--model', 'wrn-10-1', '--train-limit', '256', '--val-size', '256'];
const search = (c: Ctx, ...more: string[]): string[] => ['search', ...child, '--db', c.db, ...more];
const train = (c: Ctx, ...more: string[]): string[] => ['train', ...more, '--checkpoint', join(c.dir, 'never')];
const finished = (c: Ctx): void => void finishedStudy(c.db);
/** Connections that hold a study locked for the rest of the run. */
const heldLocks: Database.Database[] = [];
const TASKS_LIST = 'fashion-mnist, mnist, cifar10, cifar100, imagenet, sotu, moby-dick, ptb, wikitext-2, wikitext-103';

const rows: Row[] = [
  // ------------------------------------------------------------ train flags
  { what: 'train: a non-numeric --epochs', args: (c) => train(c, '--task', 'mnist', '--epochs', 'x'), code: 2, stderr: /--epochs must be a positive integer, got 'x'/ },
  { what: 'train: --epochs 0', args: (c) => train(c, '--task', 'mnist', '--epochs', '0'), code: 2, stderr: /--epochs must be a positive integer, got '0'/ },
  { what: 'train: an unknown task', args: (c) => train(c, '--task', 'nope'), code: 2, stderr: new RegExp(`--task must be one of ${TASKS_LIST} or auto, got 'nope'`) },
  { what: 'train: a task name spelt as the dataset is', args: (c) => train(c, '--task', 'cifar-10'), code: 2, stderr: new RegExp(`--task must be one of ${TASKS_LIST} or auto, got 'cifar-10'`) },
  { what: 'train: a dropout rate of 1.5', args: (c) => train(c, '--task', 'mnist', '--dropout', 'dropout:1.5'), code: 2, stderr: /invalid --dropout 'dropout:1\.5'/ },
  { what: 'train: an unknown option', args: (c) => train(c, '--task', 'mnist', '--frobnicate'), code: 2, stderr: /unknown option '--frobnicate'/ },
  { what: 'train: a language model on an image task', args: (c) => train(c, '--task', 'mnist', '--model', 'tlm-1-32'), code: 2, stderr: /--model tlm-1-32 cannot train on --task mnist/ },
  { what: 'train: an image model on a text task', args: (c) => train(c, '--task', 'moby-dick', '--model', 'wrn-10-1'), code: 2, stderr: /--model wrn-10-1 cannot train on --task moby-dick/ },
  { what: 'train: a WRN depth that is not 6n+4', args: (c) => train(c, '--task', 'mnist', '--model', 'wrn-11-1'), code: 2, stderr: /--model wrn-11-1: depth must be 6n\+4/ },
  { what: 'train: an unknown model', args: (c) => train(c, '--task', 'mnist', '--model', 'vgg-16'), code: 2, stderr: /--model 'vgg-16' is not a model/ },
  { what: 'train: no --task', args: (c) => train(c, '--epochs', '1'), code: 2, stderr: /required option '--task <name>' not specified/ },
  { what: 'train: --image-size on a task of fixed-size images', args: (c) => train(c, '--task', 'mnist', '--image-size', '32'), code: 2, stderr: /--image-size is for imagenet/ },
  { what: 'train: --pattern and --dropout together', args: (c) => train(c, ...child, '--pattern', 'preset:dropout', '--dropout', 'dropout:0.1'), code: 2, stderr: /--pattern and --dropout/ },
  {
    what: 'train: --device tpu, refused before anything says "training"',
    args: (c) => train(c, '--task', 'mnist', '--device', 'tpu'),
    code: 2,
    stderr: /--device must be one of cpu, cuda, cuda:N or auto, got 'tpu'/,
    notStderr: /training/,
  },
  {
    what: 'train: a --data-dir that does not exist (no silent fall-back to the default data)',
    args: (c) => train(c, '--task', 'mnist', '--data-dir', join(c.dir, 'nope')),
    code: 2,
    stderr: /--data-dir \S+nope: no such directory/,
  },
  { what: 'train: a --data-dir that is a file', setup: (c) => writeFileSync(join(c.dir, 'f'), ''), args: (c) => train(c, '--task', 'mnist', '--data-dir', join(c.dir, 'f')), code: 2, stderr: /--data-dir \S+ is a file/ },
  {
    what: 'train: --val-size larger than the training set names the flag',
    args: (c) => train(c, '--task', 'mnist', '--val-size', '70000', '--threads', '1'),
    code: 2,
    stderr: /--val-size must be an integer in \[0, 59999\] \(mnist has 60000 training images and at least one must be left to train on\), got 70000/,
    notStderr: /valSize/,
  },
  {
    what: 'train: a dataset that is not there: the paths tried and how to get it',
    args: (c) => train(c, '--task', 'cifar10', '--data-dir', c.dir, '--threads', '1'),
    code: 1,
    stderr: /^autodropout: CIFAR-10 not found\. Looked for data_batch_1\.bin[^]*cifar-10-batches-bin[^]*pass --data-dir DIR/m,
  },
  { what: 'train: ImageNet folders that are not there', args: (c) => train(c, '--task', 'imagenet', '--data-dir', c.dir, '--threads', '1'), code: 1, stderr: /ImageNet not found: no train\/ folder[^]*ROOT\/train\/<class>\// },
  { what: 'doctor: a --data-dir that does not exist', args: (c) => ['doctor', '--data-dir', join(c.dir, 'nope')], code: 2, stderr: /--data-dir \S+nope: no such directory/ },
  { what: 'an unknown command', args: () => ['frobnicate'], code: 2, stderr: /unknown command 'frobnicate'/ },

  // ----------------------------------------------------------- search flags
  { what: 'search: no --db', args: () => ['search', '--task', 'mnist'], code: 2, stderr: /--db/ },
  { what: 'search: no --task for a new study', args: (c) => ['search', '--db', c.db], code: 2, stderr: /--task is required/, db: 'absent' },
  { what: 'search: --trials 0', args: (c) => search(c, '--trials', '0'), code: 2, stderr: /--trials must be a positive integer/, db: 'absent' },
  { what: 'search: --strategy fixed without --fixed', args: (c) => search(c, '--strategy', 'fixed'), code: 2, stderr: /--strategy fixed needs --fixed/, db: 'absent' },
  { what: 'search: --fixed without --strategy fixed', args: (c) => search(c, '--fixed', 'preset:none'), code: 2, stderr: /--fixed only goes with --strategy fixed/, db: 'absent' },
  { what: 'search: an unknown preset', args: (c) => search(c, '--strategy', 'fixed', '--fixed', 'preset:nope'), code: 2, stderr: /unknown preset/, db: 'absent' },
  { what: 'search: a fixed pattern that cannot act on the model', args: (c) => search(c, '--strategy', 'fixed', '--fixed', 'preset:span-example'), code: 2, stderr: /cannot act on conv slots/, db: 'absent' },
  { what: 'search: a space that does not fit the model', args: (c) => search(c, '--space', 'span'), code: 2, stderr: /--space span does not fit wrn-10-1/, db: 'absent' },
  { what: 'search: an image model on a text task', args: (c) => ['search', '--task', 'sotu', '--model', 'wrn-10-1', '--db', c.db], code: 2, stderr: /cannot train on --task sotu/, db: 'absent' },
  { what: 'search: controller heads that do not divide its width', args: (c) => search(c, '--controller-heads', '3'), code: 2, stderr: /heads must be an integer >= 1 dividing dim/, db: 'absent' },
  { what: 'search: a non-numeric controller flag', args: (c) => search(c, '--controller-lr', 'fast'), code: 2, stderr: /--controller-lr must be a number/, db: 'absent' },
  { what: 'search: an unknown executor', args: (c) => search(c, '--executor', 'cluster'), code: 2, stderr: /Allowed choices are local, inline, bullmq/, db: 'absent' },
  { what: 'search: --executor bullmq without --redis', args: (c) => search(c, '--executor', 'bullmq'), code: 2, stderr: /--executor bullmq needs --redis URL/, db: 'absent' },
  { what: 'search: a queue flag without --redis', args: (c) => search(c, '--job-attempts', '3'), code: 2, stderr: /--job-attempts goes with the bullmq executor \(--redis URL\), not --executor local/, db: 'absent' },
  { what: 'search: --redis with --executor inline', args: (c) => search(c, '--redis', 'redis://127.0.0.1:1/0', '--executor', 'inline'), code: 2, stderr: /--redis goes with the bullmq executor \(--redis URL\), not --executor inline/, db: 'absent' },
  { what: 'search: --redis that is no Redis URL', args: (c) => search(c, '--redis', 'http://host:6379'), code: 2, stderr: /--redis: 'http:\/\/host:6379' has scheme http; expected redis:\/\/ or rediss:\/\/ \(TLS\)/, db: 'absent' },
  {
    what: 'search: a bad --redis URL never shows its password',
    args: (c) => search(c, '--redis', 'redis://:s3cret@host:6379/zero'),
    code: 2,
    stderr: /--redis: 'redis:\/\/:\*\*\*@host:6379\/zero': the path must be a database number/,
    notStderr: /s3cret/,
    db: 'absent',
  },
  { what: 'search: a --queue name with a colon', args: (c) => search(c, '--redis', 'redis://127.0.0.1:1/0', '--queue', 'a:b'), code: 2, stderr: /--queue must be 1 to 100 letters, digits/, db: 'absent' },
  {
    what: 'search: Redis unreachable at start: exit 1, the study never created, the password hidden',
    args: (c) => search(c, '--redis', 'redis://:s3cret@127.0.0.1:1/0', '--trials', '2'),
    code: 1,
    stderr: /^autodropout: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0 \(.*ECONNREFUSED.*\): start it there .*or fix --redis; nothing was enqueued or trained$/m,
    notStderr: /s3cret/,
    db: 'absent',
  },
  { what: 'worker: no --redis', args: () => ['worker'], code: 2, stderr: /worker needs --redis URL and --queue NAME/ },
  { what: 'worker: no --queue', args: () => ['worker', '--redis', 'redis://127.0.0.1:1/0'], code: 2, stderr: /worker --queue <name> is required/ },
  { what: 'worker: --concurrency 0', args: () => ['worker', '--redis', 'redis://127.0.0.1:1/0', '--queue', 'q', '--concurrency', '0'], code: 2, stderr: /--concurrency must be a positive integer/ },
  { what: 'worker: --device tpu', args: () => ['worker', '--redis', 'redis://127.0.0.1:1/0', '--queue', 'q', '--device', 'tpu'], code: 2, stderr: /--device must be one of cpu, cuda, cuda:N or auto/ },
  {
    what: 'worker: Redis unreachable at start (exit 1, the password hidden)',
    args: () => ['worker', '--redis', 'redis://:s3cret@127.0.0.1:1/0', '--queue', 'q', '--concurrency', '1'],
    code: 1,
    stderr: /^autodropout: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0 .*ECONNREFUSED/m,
    notStderr: /s3cret/,
  },
  { what: 'search: an unknown pruner', args: (c) => search(c, '--prune', 'maybe'), code: 2, stderr: /Allowed choices are none, median/, db: 'absent' },
  { what: 'search: --workers -1', args: (c) => search(c, '--workers', '-1'), code: 2, stderr: /--workers must be a positive integer/, db: 'absent' },
  { what: 'search: --seq-len on an image task', args: (c) => search(c, '--seq-len', '32'), code: 2, stderr: /--seq-len and --vocab-size are for language tasks/, db: 'absent' },
  {
    what: 'search: --vocab-size on an image task lists the language tasks',
    args: (c) => ['search', '--task', 'cifar10', '--vocab-size', '100', '--db', c.db],
    code: 2,
    stderr: /--seq-len and --vocab-size are for language tasks \(sotu, moby-dick, ptb, wikitext-2, wikitext-103\)/,
    db: 'absent',
  },
  { what: 'search: a --data-dir that does not exist', args: (c) => search(c, '--data-dir', join(c.dir, 'nope')), code: 2, stderr: /--data-dir \S+nope: no such directory/, db: 'absent' },
  { what: 'search: --db names a directory', setup: (c) => mkdirSync(c.db), args: (c) => search(c), code: 2, stderr: /--db \S+ is a directory; pass a file path for the study/ },
  { what: 'search: --takeover without --resume', args: (c) => search(c, '--takeover'), code: 2, stderr: /--takeover goes with --resume/, db: 'absent' },
  {
    what: 'search: --workers 1000 is capped at the trials, saying so',
    args: (c) => search(c, '--workers', '1000', '--trials', '40', '--dry-run'),
    code: 0,
    stderr: /^autodropout: warning: --workers 1000: the study has 40 trial\(s\), so 40 worker\(s\) are enough; using 40$/m,
    db: (_c, r) => assert.equal((JSON.parse(r.stdout) as { workers: number }).workers <= 40, true, r.stdout),
  },
  {
    what: 'search: --val-size larger than the training set stops the search at the first trial, naming the flag',
    args: (c) => search(c, '--val-size', '70000', '--trials', '4', '--workers', '2', '--epochs', '1'),
    code: 2,
    stderr: /the search stopped: trial \d could not load the data that every trial of the study loads: --val-size must be an integer in \[0, 59999\].*continue with --resume/,
    notStderr: /valSize|failed/,
    db: (c) => {
      const s = SearchStore.open(c.db, { readonly: true });
      const counts = s.counts(s.resolveStudy().id);
      s.close();
      assert.deepEqual([counts.failed, counts.done, counts.running], [0, 0, 0], JSON.stringify(counts));
      assert.ok(counts.queued >= 1 && counts.queued <= 2, JSON.stringify(counts));
    },
  },
  {
    what: 'search: a dataset every child fails to load stops the search at the first trial (exit 1)',
    setup: (c) => {
      const data = cifar10Fixture(20, 3);
      const batch = join(data, 'cifar-10-batches-bin', 'data_batch_2.bin');
      writeFileSync(batch, readFileSync(batch).subarray(0, 1000));
      writeFileSync(join(c.dir, 'data-dir'), data);
    },
    args: (c) => ['search', '--task', 'cifar10', '--data-dir', readFileSync(join(c.dir, 'data-dir'), 'utf8'), '--val-size', '10', '--epochs', '1', '--trials', '5', '--workers', '1', '--db', c.db],
    code: 1,
    stderr: /^autodropout: the search stopped: trial 1 could not load the data that every trial of the study loads: \S*data_batch_2\.bin/m,
    db: (c) => {
      const s = SearchStore.open(c.db, { readonly: true });
      const st = s.resolveStudy();
      assert.deepEqual(
        s.trials(st.id).map((t) => [t.id, t.state, t.attempts]),
        [[1, 'queued', 0]],
      );
      s.close();
    },
  },

  // ------------------------------------------------- existing study files
  {
    what: 'search: a study that exists, without --resume',
    setup: finished,
    args: (c) => ['search', ...child, '--epochs', '1', '--strategy', 'random', '--trials', '8', '--db', c.db, '--name', 'finished'],
    code: 2,
    stderr: /already holds study 'finished'.*--resume/,
    db: 'unchanged',
  },
  { what: 'search --resume: a config that differs from the stored one', setup: finished, args: (c) => ['search', '--db', c.db, '--resume', '--epochs', '2'], code: 2, stderr: /child\.epochs \(stored 1, given 2\)/, db: 'unchanged' },
  {
    what: 'search --resume --trials below the trials already asked',
    setup: finished,
    args: (c) => ['search', '--db', c.db, '--resume', '--trials', '4'],
    code: 2,
    stderr: /cannot resume study 'finished' in \S+ with --trials 4: it has already asked 8 trial\(s\) \(target 8\); give --trials 8 or more, or leave --trials out to keep 8/,
    db: 'unchanged',
  },
  { what: 'search --resume: no study in --db', args: (c) => ['search', '--db', c.db, '--resume'], code: 2, stderr: /--resume: \S+ holds no study to resume; give --task/, db: 'absent' },
  {
    what: 'search --resume: a study locked by a coordinator on another host',
    setup: (c) => setLock(finishedStudy(c.db), 4242, 'elsewhere'),
    args: (c) => ['search', '--db', c.db, '--resume', '--executor', 'inline'],
    code: 1,
    stderr: /study 'finished' in \S+ is held by process 4242 on elsewhere since .*cannot see whether that coordinator still runs.*pass --takeover/,
    db: 'unchanged',
  },
  {
    what: 'search --resume --takeover: takes the study from another host, saying so',
    setup: (c) => setLock(finishedStudy(c.db), 4242, 'elsewhere'),
    args: (c) => ['search', '--db', c.db, '--resume', '--takeover', '--executor', 'inline'],
    code: 0,
    stderr: /warning: took study 'finished' over from process 4242 on elsewhere/,
    db: (c) => {
      const s = SearchStore.open(c.db, { readonly: true });
      const st = s.resolveStudy();
      assert.equal(st.lock, null, 'released at the end');
      assert.equal(s.counts(st.id).done, 8);
      s.close();
    },
  },
  {
    what: 'search --resume --takeover: never from a coordinator still running on this host',
    setup: (c) => setLock(finishedStudy(c.db), process.pid, hostname()),
    args: (c) => ['search', '--db', c.db, '--resume', '--takeover', '--executor', 'inline'],
    code: 1,
    stderr: new RegExp(`held by process ${process.pid} on .*, which is still running; only one coordinator may write a study: stop that one first \\(--takeover never takes`),
    db: 'unchanged',
  },
  { what: 'status: no such file', args: (c) => ['status', '--db', c.db], code: 2, stderr: /--db \S+: no such file/, db: 'absent' },
  { what: 'replay: no such file', args: (c) => ['replay', '--db', c.db], code: 2, stderr: /--db \S+: no such file/, db: 'absent' },
  { what: 'status: --db names a directory', setup: (c) => mkdirSync(c.db), args: (c) => ['status', '--db', c.db], code: 2, stderr: /--db \S+ is a directory; pass the study's \.db file/ },
  { what: 'replay: --db names a directory', setup: (c) => mkdirSync(c.db), args: (c) => ['replay', '--db', c.db], code: 2, stderr: /--db \S+ is a directory/ },
  { what: 'export: --db names a directory', setup: (c) => mkdirSync(c.db), args: (c) => ['export', '--db', c.db, '-o', join(c.dir, 'p.json')], code: 2, stderr: /--db \S+ is a directory/ },
  { what: 'export: -o that is not a .json file', setup: finished, args: (c) => ['export', '--db', c.db, '-o', join(c.dir, 'p.txt')], code: 2, stderr: /--out must name a \.json file/, db: 'unchanged' },
  {
    what: 'export: -o names a directory',
    setup: (c) => {
      finished(c);
      mkdirSync(join(c.dir, 'out.json'));
    },
    args: (c) => ['export', '--db', c.db, '-o', join(c.dir, 'out.json')],
    code: 2,
    stderr: /-o \S+out\.json: cannot write the pattern file \S+out\.json: \S+out\.json is a directory; choose another path/,
    db: 'unchanged',
  },
  {
    what: 'export: -o below a file',
    setup: (c) => {
      finished(c);
      writeFileSync(join(c.dir, 'file'), '');
    },
    args: (c) => ['export', '--db', c.db, '-o', join(c.dir, 'file', 'p.json')],
    code: 2,
    stderr: /cannot write the pattern file \S+p\.json: \S+file is not a directory \(a file is in the way\); choose another path/,
    notStderr: /\.tmp/,
    db: 'unchanged',
  },
  // ------------------------------------------------------------ dashboard
  { what: 'dashboard: no such file', args: (c) => ['dashboard', '--db', c.db], code: 2, stderr: /--db \S+: no such file \(start a search with autodropout search --db/, db: 'absent' },
  { what: 'dashboard: --db names a directory', setup: (c) => mkdirSync(c.db), args: (c) => ['dashboard', '--db', c.db], code: 2, stderr: /--db \S+ is a directory; pass the study's \.db file/ },
  {
    what: 'dashboard: an SQLite database that is not a study',
    setup: (c) => {
      const db = new Database(c.db);
      db.exec('CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)');
      db.close();
    },
    args: (c) => ['dashboard', '--db', c.db, '--port', '0'],
    code: 1,
    stderr: /\S+study\.db is not an autodropout search database \(it has tables photos but no meta table\)/,
    db: 'unchanged',
  },
  {
    what: 'dashboard: a file that is not SQLite',
    setup: (c) => writeFileSync(c.db, 'these are not the pages you are looking for\n'.repeat(200)),
    args: (c) => ['dashboard', '--db', c.db, '--port', '0'],
    code: 1,
    stderr: /\S+study\.db is not an SQLite database/,
    db: 'unchanged',
  },
  {
    what: 'dashboard: a study another program holds locked (locking_mode EXCLUSIVE)',
    setup: (c) => {
      finished(c);
      // Held by this test process until it exits (kept referenced: a collected connection closes and lets go): an exclusive lock keeps WAL readers out.
      const db = new Database(c.db);
      db.pragma('locking_mode = EXCLUSIVE');
      db.exec('BEGIN EXCLUSIVE; COMMIT');
      heldLocks.push(db);
    },
    args: (c) => ['dashboard', '--db', c.db, '--port', '0'],
    code: 1,
    stderr: /the search database \S+study\.db is locked by another program \(SQLite: database is locked\); .*close that program, then run this again/,
  },
  { what: 'dashboard: --port out of range', setup: finished, args: (c) => ['dashboard', '--db', c.db, '--port', '70000'], code: 2, stderr: /--port must be a port number 0\.\.65535 \(0: any free port\), got '70000'/, db: 'unchanged' },
  {
    what: 'dashboard: --port in use',
    setup: async (c) => {
      finished(c);
      const busy = createServer();
      await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
      busy.unref();
      c.busyPort = (busy.address() as AddressInfo).port;
    },
    args: (c) => ['dashboard', '--db', c.db, '--port', String(c.busyPort)],
    code: 2,
    stderr: /--port \d+: 127\.0\.0\.1:\d+ is in use by another program; pick another --port \(0 picks a free one\)/,
    db: 'unchanged',
  },
  {
    what: 'dashboard: --host that is no address of this machine (warned first: no authentication)',
    setup: finished,
    args: (c) => ['dashboard', '--db', c.db, '--port', '0', '--host', '192.0.2.1'],
    code: 2,
    stderr: /warning: --host 192\.0\.2\.1 serves the dashboard beyond this machine, and the page has no authentication[^]*--host 192\.0\.2\.1: not an address of this machine/,
    db: 'unchanged',
  },
  ...(['status', 'replay', 'export', 'search --resume', 'dashboard'] as const).map(
    (cmd): Row => ({
      what: `${cmd}: a damaged database is refused, naming the file`,
      setup: (c) => {
        const good = finishedStudy(join(c.dir, 'good.db'));
        damagedCopy(good, c.db);
      },
      args: (c) => [...cmd.split(' '), '--db', c.db, ...(cmd === 'export' ? ['-o', join(c.dir, 'p.json')] : []), ...(cmd === 'dashboard' ? ['--port', '0'] : [])],
      code: 1,
      stderr: /^autodropout: the search database \S+study\.db is damaged \(SQLite: .*\); restore it from a copy, or start the study again in a new --db$/m,
      db: 'unchanged',
    }),
  ),
  {
    what: 'status: a file that is not SQLite',
    setup: (c) => writeFileSync(c.db, 'these are not the pages you are looking for\n'.repeat(200)),
    args: (c) => ['status', '--db', c.db],
    code: 1,
    stderr: /\S+study\.db is not an SQLite database/,
    db: 'unchanged',
  },
];

/** Runs `fn` over the items, at most `width` at a time, in order of the results. */
async function pool<T, R>(items: readonly T[], width: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

test('the bad-input catalogue: each row exits with its code and message and leaves the study as it says', async (t) => {
  // The commands run a few at a time; the rows are then checked one by one.
  const runs = await pool(rows, 3, async (row) => {
    const dir = tempDir('bad-input-');
    const c: Ctx = { dir, db: join(dir, 'study.db') };
    await row.setup?.(c);
    const before = row.db === 'unchanged' ? contents(c.db) : null;
    return { c, before, r: await runCli(row.args(c)) };
  });
  for (const [i, row] of rows.entries()) {
    const { c, before, r } = runs[i];
    await t.test(row.what, () => {
      const out = `${row.what}: exit ${r.code}\nstderr: ${r.stderr}\nstdout: ${r.stdout.slice(0, 500)}`;
      assert.equal(r.code, row.code, out);
      assert.match(r.stderr, row.stderr, out);
      if (row.notStderr) assert.doesNotMatch(r.stderr, row.notStderr, out);
      assert.doesNotMatch(r.stderr, /\n\s+at /, `${out}\na refusal prints no stack trace`);
      if (row.code !== 0) assert.equal(r.stdout, '', `${out}\nstdout must stay empty`);
      if (row.code === 2) assert.match(r.stderr, /\(run (autodropout \w+ )?(with )?--help for usage\)/, `${out}\nno usage pointer`);
      if (row.db === 'absent') assert.equal(existsSync(c.db), false, `${out}\na refused command must not create the database`);
      else if (row.db === 'unchanged') assert.equal(contents(c.db), before, `${out}\nthe database changed`);
      else row.db?.(c, r);
      assert.equal(existsSync(join(c.dir, 'never')), false, `${out}\na refused train must not start`);
    });
  }
});

/**
 * A command whose user cannot write `dir`: as root (CI), user 65534 (nobody),
 * since root writes anywhere; otherwise this user, with the directory made read-only.
 */
function readOnlyRunner(dir: string): { opts: { uid?: number; gid?: number }; why: string | null } {
  chmodSync(dir, 0o555);
  if (process.getuid?.() !== 0) return { opts: {}, why: null };
  const opts = { uid: 65534, gid: 65534 };
  // nobody must be able to run this checkout's CLI (not so when it lies in a private home directory).
  const probe = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(cliPath)}, require('fs').constants.R_OK)`], { ...opts, encoding: 'utf8' });
  return { opts, why: probe.status === 0 ? null : `as root, and user 65534 cannot read ${cliPath}: ${probe.stderr.trim()}` };
}

test('status, replay and export read a study in a directory they cannot write, and write nothing there', async (t) => {
  const root = tempDir('read-only-');
  chmodSync(root, 0o755);
  const ro = join(root, 'ro');
  mkdirSync(ro);
  const db = finishedStudy(join(ro, 'study.db'));
  chmodSync(db, 0o644);
  const out = join(root, 'out');
  mkdirSync(out, { mode: 0o777 });
  chmodSync(out, 0o777);
  const listing = readdirSync(ro);
  const bytes = readFileSync(db);
  assert.deepEqual(listing, ['study.db']);
  const { opts, why } = readOnlyRunner(ro);
  try {
    if (why) {
      t.skip(why);
      return;
    }
    // The premise: this user cannot create a file there (so SQLite could not create study.db-shm).
    const touch = spawnSync(process.execPath, ['-e', `require('fs').writeFileSync(${JSON.stringify(join(ro, 'probe'))}, '')`], { ...opts, encoding: 'utf8' });
    assert.notEqual(touch.status, 0, 'the directory must be read-only for the CLI');
    const run = (args: string[]): Promise<CliRun> => runCli(args, opts);
    const status = await run(['status', '--db', db, '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.deepEqual((JSON.parse(status.stdout) as { counts: unknown }).counts, { queued: 0, running: 0, done: 8, failed: 0, pruned: 0 });
    const replay = await run(['replay', '--db', db]);
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /8 trial\(s\) checked.*all match/);
    const exported = await run(['export', '--db', db, '-o', join(out, 'best.json')]);
    assert.equal(exported.code, 0, exported.stderr);
    assert.ok(existsSync(join(out, 'best.json')));
    const here = await run(['export', '--db', db, '-o', join(ro, 'best.json')]);
    assert.equal(here.code, 2);
    assert.match(here.stderr, /cannot write the pattern file \S+best\.json: no permission to write in \S+ro; choose another path/);
    // A live coordinator's -wal file would be read in place; none was made here.
    assert.deepEqual(readdirSync(ro), listing, 'no -wal, -shm or other file was created');
    assert.deepEqual(readFileSync(db), bytes, 'the database is unchanged');
  } finally {
    chmodSync(ro, 0o755);
  }
});

test('dashboard --host beyond loopback serves, with a warning that the page has no authentication', async () => {
  const dir = tempDir('bad-input-');
  const db = finishedStudy(join(dir, 'study.db'));
  // Stopped (SIGINT) at its first word, the warning, while the server is still starting: a normal
  // exit all the same (its signal handlers come before any output; a signal that came before them
  // killed it, as a stress run found).
  const r = await runCli(['dashboard', '--db', db, '--port', '0', '--host', '0.0.0.0'], { until: (err) => (/warning: --host/.test(err) ? 'SIGINT' : null) });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^autodropout: warning: --host 0\.0\.0\.0 serves the dashboard beyond this machine, and the page has no authentication: anyone who can reach that address can read every study in \S+study\.db$/m);
  assert.match(r.stdout, /^dashboard of \S+study\.db: http:\/\/0\.0\.0\.0:\d+\/$/m);
});
