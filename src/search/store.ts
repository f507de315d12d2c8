// Durable trial storage: one SQLite file per search (docs/architecture.md §5), written by
// one process, the coordinator; any number of readers (status, dashboard,
// replay) may open it read-only at the same time (WAL mode).
//
// What lives here, and why each piece:
//  - `meta`: the file's identity (app = autodropout) and its schema version.
//    Opening a file that is not ours, or one written by a newer autodropout,
//    is refused with an error naming the file; an older schema is migrated
//    forward by MIGRATIONS, an ordered list applied one transaction each
//    (Optuna's RDB storage keeps its schema versioned the same way).
//  - `studies`: name, the full config as JSON, seed, code version, the fixed
//    pattern resolved at creation (so a pattern file edited later cannot
//    change a running baseline), and a lock naming the coordinator that holds
//    the study (pid and host), so two coordinators never write one study.
//  - `trials`: one row per ask, with everything needed to replay the search
//    (tokens, log-prob under the sampling policy, policy version), its state
//    (queued → running → done | failed | pruned), attempts, worker,
//    timestamps, heartbeat, reward, the reward that entered the controller
//    update, validation metrics, error text, and the ask and tell order.
//    Schema 2 adds the test metrics of children that evaluated the test split
//    once at the end (only `autodropout compare` asks for that; a search
//    never does).
//  - `trial_epochs`: per-epoch validation values (the pruner's input).
//  - `trial_events`: a trial's history in order: asked, started, why it was
//    re-queued or failed, how it ended, and the fingerprint of the data its child
//    trained on ('data', src/data/fingerprint.ts).
//  - `controller_checkpoints`: the controller after every update (tensors,
//    Adam state, meta JSON with the baseline and RNG state, the trials the
//    update consumed, in order, and how many trials had been asked and told).
//    Only the newest few keep their tensor blobs (keepCheckpointBlobs):
//    resume needs the newest, replay recomputes the rest from the log.
//  - `sampler_state`: the strategy's sampling state after every ask, so a
//    resumed study continues the random stream where it stopped instead of
//    redrawing samples it already handed out.
//
// Every write runs in a transaction (nested calls become savepoints), so a
// coordinator killed at any instant leaves the file at a transaction boundary.
// Timestamps are milliseconds since the Unix epoch.
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { PatternFile } from '../patterns/types.js';
import { lockHolder, type StudyLock } from './lock.js';
import { TRIAL_STATES, type EpochReport, type StudyConfig, type TrialState } from './types.js';

export type { StudyLock } from './lock.js';

/** The schema this code writes; files with a newer one are refused. */
export const SCHEMA_VERSION = 2;
/** `meta.app` of our files. */
export const STORE_APP = 'autodropout';

/** Any problem with the database file or a store operation, with a message naming the file. */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

type Db = Database.Database;

interface Migration {
  version: number;
  description: string;
  up(db: Db): void;
}

const STATE_CHECK = TRIAL_STATES.map((s) => `'${s}'`).join(', ');

/** Ordered schema migrations; migration N takes a file from version N-1 to N (0 = empty file). */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    description: 'studies, trials, trial epochs and events, controller checkpoints, sampler state',
    up(db: Db) {
      db.exec(`
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE studies (
          id INTEGER PRIMARY KEY,
          name TEXT NOT NULL UNIQUE,
          strategy TEXT NOT NULL,
          config TEXT NOT NULL,
          seed INTEGER NOT NULL,
          code_version TEXT NOT NULL,
          fixed_pattern TEXT,
          created INTEGER NOT NULL,
          lock_pid INTEGER,
          lock_host TEXT,
          lock_since INTEGER
        );
        CREATE TABLE trials (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          study_id INTEGER NOT NULL REFERENCES studies(id),
          ask_order INTEGER NOT NULL,
          state TEXT NOT NULL CHECK (state IN (${STATE_CHECK})),
          pattern TEXT NOT NULL,
          tokens TEXT NOT NULL,
          log_prob REAL NOT NULL,
          policy_version INTEGER NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0,
          worker TEXT,
          created INTEGER NOT NULL,
          started INTEGER,
          finished INTEGER,
          heartbeat INTEGER,
          reward REAL,
          update_reward REAL,
          val TEXT,
          train_seconds REAL,
          pruned_at_epoch INTEGER,
          error TEXT,
          tell_order INTEGER,
          consumed_version INTEGER,
          UNIQUE (study_id, ask_order),
          UNIQUE (study_id, tell_order)
        );
        CREATE INDEX trials_by_state ON trials (study_id, state, ask_order);
        CREATE TABLE trial_epochs (
          trial_id INTEGER NOT NULL REFERENCES trials(id),
          epoch INTEGER NOT NULL,
          value REAL NOT NULL,
          metrics TEXT NOT NULL,
          recorded INTEGER NOT NULL,
          PRIMARY KEY (trial_id, epoch)
        ) WITHOUT ROWID;
        CREATE TABLE trial_events (
          id INTEGER PRIMARY KEY,
          trial_id INTEGER NOT NULL REFERENCES trials(id),
          at INTEGER NOT NULL,
          kind TEXT NOT NULL,
          detail TEXT
        );
        CREATE INDEX trial_events_by_trial ON trial_events (trial_id, id);
        CREATE TABLE controller_checkpoints (
          study_id INTEGER NOT NULL REFERENCES studies(id),
          version INTEGER NOT NULL,
          asked INTEGER NOT NULL,
          told INTEGER NOT NULL,
          tensors BLOB,
          optimizer BLOB,
          meta TEXT NOT NULL,
          consumed TEXT NOT NULL,
          stats TEXT,
          created INTEGER NOT NULL,
          PRIMARY KEY (study_id, version)
        );
        CREATE TABLE sampler_state (
          study_id INTEGER NOT NULL REFERENCES studies(id),
          ask_order INTEGER NOT NULL,
          state TEXT NOT NULL,
          PRIMARY KEY (study_id, ask_order)
        ) WITHOUT ROWID;
      `);
    },
  },
  {
    version: 2,
    description: "trials.test: the child's test-split metrics (compare runs only)",
    up(db: Db) {
      db.exec('ALTER TABLE trials ADD COLUMN test TEXT');
    },
  },
]);

export interface StudyRecord {
  id: number;
  name: string;
  strategy: StudyConfig['strategy'];
  config: StudyConfig;
  seed: number;
  codeVersion: string;
  /** fixed strategy: the pattern every trial trains with, resolved when the study was created. */
  fixedPattern: PatternFile | null;
  created: number;
  lock: StudyLock | null;
}

export interface TrialRecord {
  /** Unique in the file (never reused); the trialId of proposals. */
  id: number;
  studyId: number;
  /** 0, 1, 2, ... in the order the trials were asked. */
  askOrder: number;
  state: TrialState;
  pattern: PatternFile;
  tokens: number[];
  logProb: number;
  policyVersion: number;
  /** Failed attempts (lost workers); an interruption of the coordinator does not count. */
  attempts: number;
  worker: string | null;
  created: number;
  started: number | null;
  finished: number | null;
  heartbeat: number | null;
  /** done: the final reward; pruned: the last validation value; failed: null. */
  reward: number | null;
  /** The reward this trial entered the controller update with (see study.ts for failed and pruned trials). */
  updateReward: number | null;
  val: EpochReport['val'] | null;
  /** Test-split metrics, when the trial's spec asked for them (compare); else null. */
  test: EpochReport['val'] | null;
  trainSeconds: number | null;
  prunedAtEpoch: number | null;
  error: string | null;
  /** 0, 1, 2, ... in the order the trials were told; null until told. */
  tellOrder: number | null;
  /** The controller version the update that consumed this trial produced; null while unconsumed. */
  consumedVersion: number | null;
}

export interface EpochRecord {
  trialId: number;
  epoch: number;
  value: number;
  metrics: EpochReport;
  recorded: number;
}

export interface TrialEvent {
  trialId: number;
  at: number;
  kind: string;
  detail: string | null;
}

export interface CheckpointRecord {
  studyId: number;
  version: number;
  /** Trials asked when the update ran (replay applies it before the trial with this ask order). */
  asked: number;
  /** Trials told when the update ran. */
  told: number;
  /** Null once older than the newest keepCheckpointBlobs checkpoints. */
  tensors: Buffer | null;
  optimizer: Buffer | null;
  meta: Record<string, unknown>;
  /** Trial ids the update consumed, in the order they entered it. */
  consumed: number[];
  stats: Record<string, unknown> | null;
  created: number;
}

export interface NewTrial {
  pattern: PatternFile;
  tokens: number[];
  logProb: number;
  policyVersion: number;
}

export interface FinishTrial {
  state: 'done' | 'failed' | 'pruned';
  reward: number | null;
  updateReward: number | null;
  val?: EpochReport['val'] | null;
  test?: EpochReport['val'] | null;
  trainSeconds?: number | null;
  prunedAtEpoch?: number | null;
  error?: string | null;
  /** The fingerprint of the data the child trained on (TrialOutcome.data): a 'data' event of the trial. */
  data?: string | null;
}

export interface NewCheckpoint {
  version: number;
  asked: number;
  told: number;
  tensors: Buffer;
  optimizer: Buffer;
  meta: Record<string, unknown>;
  consumed: number[];
  stats?: Record<string, unknown> | null;
}

export interface StoreOptions {
  /**
   * Open for reading only (status, replay, export); the file must exist. It is
   * never written, and in a directory this process cannot write it is read from
   * a copy in memory (see needsInMemoryCopy).
   */
  readonly?: boolean;
  /** readonly: read from a copy in memory (true) or in place (false) instead of deciding by the directory (tests). */
  inMemoryCopy?: boolean;
  /** Clock for timestamps (tests); default Date.now. */
  now?: () => number;
  /** How long a statement waits for another process's write lock (default 5000 ms). */
  busyTimeoutMs?: number;
  /** Controller checkpoints that keep their tensor blobs (default 5, at least 1). */
  keepCheckpointBlobs?: number;
}

export type TrialCounts = Record<TrialState, number>;

const json = (v: unknown): string => JSON.stringify(v);
const parse = <T>(s: string | null): T | null => (s === null ? null : (JSON.parse(s) as T));

interface TrialRow {
  id: number;
  study_id: number;
  ask_order: number;
  state: TrialState;
  pattern: string;
  tokens: string;
  log_prob: number;
  policy_version: number;
  attempts: number;
  worker: string | null;
  created: number;
  started: number | null;
  finished: number | null;
  heartbeat: number | null;
  reward: number | null;
  update_reward: number | null;
  val: string | null;
  test: string | null;
  train_seconds: number | null;
  pruned_at_epoch: number | null;
  error: string | null;
  tell_order: number | null;
  consumed_version: number | null;
}

interface StudyRow {
  id: number;
  name: string;
  strategy: StudyConfig['strategy'];
  config: string;
  seed: number;
  code_version: string;
  fixed_pattern: string | null;
  created: number;
  lock_pid: number | null;
  lock_host: string | null;
  lock_since: number | null;
}

interface CheckpointRow {
  study_id: number;
  version: number;
  asked: number;
  told: number;
  tensors: Buffer | null;
  optimizer: Buffer | null;
  meta: string;
  consumed: string;
  stats: string | null;
  created: number;
}

function toTrial(r: TrialRow): TrialRecord {
  return {
    id: r.id,
    studyId: r.study_id,
    askOrder: r.ask_order,
    state: r.state,
    pattern: JSON.parse(r.pattern) as PatternFile,
    tokens: JSON.parse(r.tokens) as number[],
    logProb: r.log_prob,
    policyVersion: r.policy_version,
    attempts: r.attempts,
    worker: r.worker,
    created: r.created,
    started: r.started,
    finished: r.finished,
    heartbeat: r.heartbeat,
    reward: r.reward,
    updateReward: r.update_reward,
    val: parse<EpochReport['val']>(r.val),
    test: parse<EpochReport['val']>(r.test),
    trainSeconds: r.train_seconds,
    prunedAtEpoch: r.pruned_at_epoch,
    error: r.error,
    tellOrder: r.tell_order,
    consumedVersion: r.consumed_version,
  };
}

function toStudy(r: StudyRow): StudyRecord {
  return {
    id: r.id,
    name: r.name,
    strategy: r.strategy,
    config: JSON.parse(r.config) as StudyConfig,
    seed: r.seed,
    codeVersion: r.code_version,
    fixedPattern: parse<PatternFile>(r.fixed_pattern),
    created: r.created,
    lock: r.lock_pid === null ? null : { pid: r.lock_pid, host: r.lock_host ?? '', since: r.lock_since ?? 0 },
  };
}

function toCheckpoint(r: CheckpointRow): CheckpointRecord {
  return {
    studyId: r.study_id,
    version: r.version,
    asked: r.asked,
    told: r.told,
    tensors: r.tensors,
    optimizer: r.optimizer,
    meta: JSON.parse(r.meta) as Record<string, unknown>,
    consumed: JSON.parse(r.consumed) as number[],
    stats: parse<Record<string, unknown>>(r.stats),
    created: r.created,
  };
}

/** Checks (and creates) the directory of a database path, with errors a user can act on. */
function prepareLocation(path: string, readonly: boolean): void {
  if (readonly) {
    if (!existsSync(path)) throw new StoreError(`no search database at ${path}`);
    if (statSync(path).isDirectory()) throw new StoreError(`${path} is a directory, not a search database; pass the study's .db file (the --db of autodropout search)`);
    try {
      accessSync(path, constants.R_OK);
    } catch {
      throw new StoreError(`the search database ${path} is not readable (check its permissions)`);
    }
    return;
  }
  const dir = dirname(resolve(path));
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new StoreError(`cannot create the directory ${dir} for the search database ${path}: ${(e as Error).message}`);
  }
  if (!statSync(dir).isDirectory()) throw new StoreError(`cannot use ${path} as the search database: ${dir} is not a directory`);
  try {
    // SQLite creates the -wal and -shm files next to the database.
    accessSync(dir, constants.W_OK);
    if (existsSync(path)) accessSync(path, constants.R_OK | constants.W_OK);
  } catch {
    throw new StoreError(`the search database ${path} is not writable (check the permissions of ${existsSync(path) ? path : dir})`);
  }
  if (existsSync(path) && statSync(path).isDirectory()) throw new StoreError(`the search database ${path} is a directory; pass a file path`);
}

function damaged(path: string, detail: string): StoreError {
  return new StoreError(`the search database ${path} is damaged (SQLite: ${detail}); restore it from a copy, or start the study again in a new --db`);
}

/** A file another connection holds exclusively (locking_mode EXCLUSIVE, or a rollback-journal write): never a coordinator, which leaves readers in. */
function locked(path: string, detail: string): StoreError {
  return new StoreError(
    `the search database ${path} is locked by another program (SQLite: ${detail}); a search's coordinator never locks readers out, so something else holds it exclusively (e.g. an sqlite3 shell with locking_mode=EXCLUSIVE): close that program, then run this again`,
  );
}

function writableDir(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether a read-only open must read a copy of the file: a WAL database is read
 * through its -shm file, which SQLite creates next to the database, so in a
 * directory this process cannot write (a read-only mount, another user's
 * files) it cannot be opened in place. Without a -wal file every committed
 * transaction is in the database file itself (a -wal file is folded in and
 * removed when its last writer closes), so a copy of that file is the whole
 * database. With a -wal file (a coordinator is writing, or was killed) the
 * copy would miss its transactions: the file is opened in place, which works
 * when the -shm file is there too.
 */
export function needsInMemoryCopy(path: string): boolean {
  return !existsSync(`${path}-wal`) && !writableDir(dirname(resolve(path)));
}

/** A read-only in-memory database holding a copy of the file at `path`; nothing is written next to it. */
function openInMemoryCopy(path: string): Db {
  const image = readFileSync(path);
  // Bytes 18-19 of the header: the file format versions, 2 for WAL. An in-memory
  // database has no WAL; 1 (rollback journal) reads the same pages.
  if (image.length >= 100 && image[18] === 2 && image[19] === 2) {
    image[18] = 1;
    image[19] = 1;
  }
  return new Database(image, { readonly: true });
}

/**
 * The SQLite trial store. Open with SearchStore.open(path); every method is
 * synchronous (better-sqlite3) and every write is one transaction.
 */
export class SearchStore {
  readonly path: string;
  readonly readonly: boolean;
  private readonly db: Db;
  private readonly now: () => number;
  private readonly keepBlobs: number;
  private closed = false;
  private rolledBack = 0;
  /** Statements by SQL text, prepared once per connection (sql()). */
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(path: string, db: Db, o: StoreOptions) {
    this.path = path;
    this.db = db;
    this.readonly = o.readonly ?? false;
    this.now = o.now ?? Date.now;
    this.keepBlobs = Math.max(1, o.keepCheckpointBlobs ?? 5);
  }

  /**
   * Opens (creating it and its parent directories if needed, unless readonly)
   * the database at `path` (`:memory:` for a throw-away one). Refuses, with a
   * StoreError naming the file: a file that is not SQLite, an SQLite file that
   * is not an autodropout search database, a schema newer than SCHEMA_VERSION,
   * a path that cannot be created or written.
   */
  static open(path: string, options: StoreOptions = {}): SearchStore {
    const readonly = options.readonly ?? false;
    const memory = path === ':memory:';
    if (!memory) prepareLocation(path, readonly);
    const copy = readonly && !memory && (options.inMemoryCopy ?? needsInMemoryCopy(path));
    let db: Db;
    try {
      db = copy ? openInMemoryCopy(path) : new Database(path, { readonly, fileMustExist: readonly });
    } catch (e) {
      if ((e as { code?: string }).code?.startsWith('SQLITE_BUSY')) throw locked(path, (e as Error).message);
      throw new StoreError(`cannot open the search database ${path}: ${(e as Error).message}`);
    }
    const store = new SearchStore(path, db, options);
    try {
      db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000))}`);
      if (!memory) store.checkIntegrity();
      store.checkSchema();
      if (!readonly && !memory) {
        const mode = db.pragma('journal_mode = WAL', { simple: true });
        if (String(mode).toLowerCase() !== 'wal') throw new StoreError(`cannot put the search database ${path} in WAL mode (journal_mode is ${String(mode)})`);
      }
      db.pragma('foreign_keys = ON');
    } catch (e) {
      db.close();
      if (e instanceof StoreError) throw e;
      const err = e as Error & { code?: string };
      if (err.code === 'SQLITE_NOTADB') throw new StoreError(`${path} is not an SQLite database (so not an autodropout search database)`);
      if (err.code?.startsWith('SQLITE_CORRUPT')) throw damaged(path, err.message);
      if (err.code?.startsWith('SQLITE_BUSY')) throw locked(path, err.message);
      if (readonly && /^SQLITE_(READONLY|CANTOPEN)/.test(err.code ?? '')) {
        throw new StoreError(
          `cannot read the search database ${path}: ${err.message}; SQLite needs ${path}-shm next to it, and ${dirname(resolve(path))} is not writable ` +
            `(copy the database, with its -wal file, to a writable directory, or let a search --resume fold the -wal file in)`,
        );
      }
      throw new StoreError(`cannot open the search database ${path}: ${err.message}`);
    }
    return store;
  }

  /**
   * SQLite's quick integrity check of every page: a damaged file is refused
   * here, naming it, rather than failing later in whichever query reads the
   * damaged page.
   */
  private checkIntegrity(): void {
    const rows = this.db.pragma('quick_check(5)') as { quick_check: string }[];
    if (rows.length === 1 && rows[0].quick_check === 'ok') return;
    throw damaged(this.path, rows.map((r) => r.quick_check.replace(/\s*\n\s*/g, ' ')).join('; '));
  }

  /** Validates meta and migrates an older schema (or creates the schema in an empty file). */
  private checkSchema(): void {
    const tables = (this.sql("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[]).map(
      (r) => r.name,
    );
    let version = 0;
    if (tables.length > 0) {
      if (!tables.includes('meta')) {
        throw new StoreError(`${this.path} is not an autodropout search database (it has tables ${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ', ...' : ''} but no meta table)`);
      }
      const meta = new Map((this.sql('SELECT key, value FROM meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
      if (meta.get('app') !== STORE_APP) {
        throw new StoreError(`${this.path} is not an autodropout search database (its meta table says app = ${JSON.stringify(meta.get('app') ?? null)})`);
      }
      version = Number(meta.get('schema_version'));
      if (!Number.isSafeInteger(version) || version < 1) throw new StoreError(`${this.path}: invalid schema_version ${JSON.stringify(meta.get('schema_version') ?? null)} in its meta table`);
      if (version > SCHEMA_VERSION) {
        throw new StoreError(
          `${this.path} has search schema version ${version}, newer than this autodropout supports (${SCHEMA_VERSION}); use a newer autodropout to open it`,
        );
      }
    }
    if (version === SCHEMA_VERSION) return;
    if (this.readonly) {
      throw new StoreError(
        version === 0
          ? `${this.path} is empty, not an autodropout search database`
          : `${this.path} has search schema version ${version} and needs a migration to ${SCHEMA_VERSION}; open it once without read-only (e.g. autodropout search --resume)`,
      );
    }
    for (const m of MIGRATIONS) {
      if (m.version <= version) continue;
      this.db.transaction(() => {
        m.up(this.db);
        const put = this.sql('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
        put.run('app', STORE_APP);
        put.run('schema_version', String(m.version));
        if (m.version === 1) put.run('created', new Date(this.now()).toISOString());
      })();
      version = m.version;
    }
  }

  /** The schema version of the open file. */
  schemaVersion(): number {
    return Number((this.sql("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: string }).value);
  }

  /** Runs fn in one transaction (a savepoint when already inside one); a throw rolls everything back. */
  transaction<T>(fn: () => T): T {
    this.writable();
    try {
      return this.db.transaction(fn)();
    } catch (e) {
      this.rolledBack++;
      throw e;
    }
  }

  /** Transactions (or savepoints) of this connection that failed and were undone: a cache of what the file holds is stale when this changed. */
  get rollbacks(): number {
    return this.rolledBack;
  }

  private writable(): void {
    if (this.closed) throw new StoreError(`the search database ${this.path} is closed`);
    if (this.readonly) throw new StoreError(`the search database ${this.path} is open read-only`);
  }

  /**
   * The prepared statement for `text`, prepared on first use: preparing one
   * cost more than running most of them (a coordinator's profile in
   * bench/search-scale). A call site's mode (pluck) is the same on every use.
   */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) this.statements.set(text, (st = this.db.prepare(text)));
    return st;
  }

  private open_(): void {
    if (this.closed) throw new StoreError(`the search database ${this.path} is closed`);
  }

  /** Closes the file (idempotent). A WAL checkpoint folds the log back into the database. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  /**
   * SQLite's data_version of this connection: it changes whenever another
   * connection (the coordinator) commits to the file, so a reader polling it
   * learns of new data without reading any table (the dashboard's live updates).
   */
  dataVersion(): number {
    this.open_();
    return this.db.pragma('data_version', { simple: true }) as number;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  // ---------------------------------------------------------------- studies

  listStudies(): StudyRecord[] {
    this.open_();
    return (this.sql('SELECT * FROM studies ORDER BY id').all() as StudyRow[]).map(toStudy);
  }

  getStudy(name: string): StudyRecord | null {
    this.open_();
    const r = this.sql('SELECT * FROM studies WHERE name = ?').get(name) as StudyRow | undefined;
    return r ? toStudy(r) : null;
  }

  getStudyById(id: number): StudyRecord {
    this.open_();
    const r = this.sql('SELECT * FROM studies WHERE id = ?').get(id) as StudyRow | undefined;
    if (!r) throw new StoreError(`${this.path}: no study with id ${id}`);
    return toStudy(r);
  }

  /** The study named `name`, or (name omitted) the only study in the file; errors list what is there. */
  resolveStudy(name?: string): StudyRecord {
    if (name !== undefined) {
      const s = this.getStudy(name);
      if (!s) throw new StoreError(`${this.path} has no study '${name}'; it has: ${this.listStudies().map((x) => x.name).join(', ') || 'none'}`);
      return s;
    }
    const all = this.listStudies();
    if (all.length === 1) return all[0];
    if (all.length === 0) throw new StoreError(`${this.path} holds no study yet`);
    throw new StoreError(`${this.path} holds ${all.length} studies (${all.map((x) => x.name).join(', ')}); name one`);
  }

  createStudy(config: StudyConfig, fixedPattern: PatternFile | null = null): StudyRecord {
    return this.transaction(() => {
      if (this.getStudy(config.name)) throw new StoreError(`${this.path} already holds a study named '${config.name}'`);
      this.sql('INSERT INTO studies (name, strategy, config, seed, code_version, fixed_pattern, created) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(config.name, config.strategy, json(config), config.seed, config.codeVersion, fixedPattern ? json(fixedPattern) : null, this.now());
      return this.getStudy(config.name)!;
    });
  }

  /**
   * Replaces the stored config (resume may change fields that do not alter
   * the search, e.g. the trial budget); the code_version column keeps the
   * version that created the study.
   */
  updateStudyConfig(studyId: number, config: StudyConfig): void {
    this.transaction(() => {
      this.sql('UPDATE studies SET config = ? WHERE id = ?').run(json(config), studyId);
    });
  }

  /**
   * Takes the study for this process (see lock.ts). Refused while a live
   * process on this host may be the coordinator holding it, even with
   * `takeover`; a lock held on another host is taken only with `takeover`; one
   * left by a process that is gone (kill -9, or its pid reused since) is taken
   * without asking. Returns the lock it replaced (null: none, or ours).
   */
  acquireLock(studyId: number, options: { takeover?: boolean } = {}): StudyLock | null {
    return this.transaction(() => {
      const s = this.getStudyById(studyId);
      const l = s.lock;
      const holder = l ? lockHolder(l) : null;
      if (l && holder !== 'this-process') {
        const held = `study '${s.name}' in ${this.path} is held by process ${l.pid} on ${l.host} since ${new Date(l.since).toISOString()}`;
        if (holder === 'alive-here') {
          throw new StoreError(`${held}, which is still running; only one coordinator may write a study: stop that one first (--takeover never takes a study from a live process on this host)`);
        }
        if (holder === 'other-host' && !options.takeover) {
          throw new StoreError(
            `${held}; this host (${hostname()}) cannot see whether that coordinator still runs. If it is gone (e.g. the database was copied here, or the container got a new host name), pass --takeover to take the study over`,
          );
        }
      }
      this.sql('UPDATE studies SET lock_pid = ?, lock_host = ?, lock_since = ? WHERE id = ?').run(process.pid, hostname(), this.now(), studyId);
      return l && holder !== 'this-process' ? l : null;
    });
  }

  /** Releases this process's lock on the study (no-op if it does not hold it). */
  releaseLock(studyId: number): void {
    if (this.closed || this.readonly) return;
    this.transaction(() => {
      this.sql('UPDATE studies SET lock_pid = NULL, lock_host = NULL, lock_since = NULL WHERE id = ? AND lock_pid = ? AND lock_host = ?').run(studyId, process.pid, hostname());
    });
  }

  // ----------------------------------------------------------------- trials

  /** Persists a freshly asked trial as queued, with the sampler state after its draw. */
  insertTrial(studyId: number, t: NewTrial, samplerState: unknown): TrialRecord {
    return this.insertTrials(studyId, [{ trial: t, samplerState }])[0];
  }

  /** Persists freshly asked trials as queued, in this ask order, each with its sampler state, in one transaction. */
  insertTrials(studyId: number, asked: readonly { trial: NewTrial; samplerState: unknown }[]): TrialRecord[] {
    return this.transaction(() => {
      const first = this.askedCount(studyId);
      const now = this.now();
      const insertTrial = this.sql('INSERT INTO trials (study_id, ask_order, state, pattern, tokens, log_prob, policy_version, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
      const insertState = this.sql('INSERT INTO sampler_state (study_id, ask_order, state) VALUES (?, ?, ?)');
      return asked.map(({ trial: t, samplerState }, i) => {
        const info = insertTrial.run(studyId, first + i, 'queued', json(t.pattern), json(t.tokens), t.logProb, t.policyVersion, now);
        insertState.run(studyId, first + i, json(samplerState));
        const id = Number(info.lastInsertRowid);
        this.event(id, 'asked', null);
        return this.getTrial(id)!;
      });
    });
  }

  getTrial(id: number): TrialRecord | null {
    this.open_();
    const r = this.sql('SELECT * FROM trials WHERE id = ?').get(id) as TrialRow | undefined;
    return r ? toTrial(r) : null;
  }

  /** The trial, which must belong to the study (errors name the trial and file). */
  trialOf(studyId: number, id: number): TrialRecord {
    const t = this.getTrial(id);
    if (!t || t.studyId !== studyId) throw new StoreError(`${this.path}: no trial ${id} in study ${this.getStudyById(studyId).name}`);
    return t;
  }

  /** The study's trials in ask order, optionally only those in the given states. */
  trials(studyId: number, states?: readonly TrialState[]): TrialRecord[] {
    this.open_();
    const rows = states
      ? (this.sql(`SELECT * FROM trials WHERE study_id = ? AND state IN (${states.map(() => '?').join(', ')}) ORDER BY ask_order`).all(studyId, ...states) as TrialRow[])
      : (this.sql('SELECT * FROM trials WHERE study_id = ? ORDER BY ask_order').all(studyId) as TrialRow[]);
    return rows.map(toTrial);
  }

  askedCount(studyId: number): number {
    this.open_();
    return (this.sql('SELECT COUNT(*) AS n FROM trials WHERE study_id = ?').get(studyId) as { n: number }).n;
  }

  toldCount(studyId: number): number {
    this.open_();
    return (this.sql('SELECT COUNT(*) AS n FROM trials WHERE study_id = ? AND tell_order IS NOT NULL').get(studyId) as { n: number }).n;
  }

  counts(studyId: number): TrialCounts {
    this.open_();
    const out = Object.fromEntries(TRIAL_STATES.map((s) => [s, 0])) as TrialCounts;
    for (const r of this.sql('SELECT state, COUNT(*) AS n FROM trials WHERE study_id = ? GROUP BY state').all(studyId) as { state: TrialState; n: number }[]) {
      out[r.state] = r.n;
    }
    return out;
  }

  /** The queued trial with the lowest ask order whose id is not in `exclude`, or null. */
  nextQueued(studyId: number, exclude: ReadonlySet<number> = new Set()): TrialRecord | null {
    this.open_();
    const ids = this.sql("SELECT id FROM trials WHERE study_id = ? AND state = 'queued' ORDER BY ask_order").pluck().all(studyId) as number[];
    const id = ids.find((x) => !exclude.has(x));
    return id === undefined ? null : this.getTrial(id);
  }

  /** queued → running on `worker`. */
  markRunning(studyId: number, id: number, worker: string): TrialRecord {
    return this.transaction(() => {
      const t = this.trialOf(studyId, id);
      if (t.state !== 'queued') throw new StoreError(`trial ${id} is ${t.state}; only a queued trial can start running`);
      const now = this.now();
      this.sql("UPDATE trials SET state = 'running', worker = ?, started = ?, heartbeat = ? WHERE id = ?").run(worker, now, now, id);
      this.event(id, 'started', worker);
      return this.getTrial(id)!;
    });
  }

  /** Records that a running trial is alive; false (and nothing written) when it is not running. */
  heartbeat(id: number): boolean {
    return this.transaction(() => this.sql("UPDATE trials SET heartbeat = ? WHERE id = ? AND state = 'running'").run(this.now(), id).changes === 1);
  }

  /** A running trial's validation result after `report.epoch` (a retried epoch replaces the earlier row). */
  recordEpoch(studyId: number, id: number, report: EpochReport): void {
    if (!Number.isSafeInteger(report.epoch) || report.epoch < 1) throw new RangeError(`recordEpoch: epoch must be an integer >= 1, got ${report.epoch}`);
    if (!Number.isFinite(report.value)) throw new RangeError(`recordEpoch: trial ${id} epoch ${report.epoch} has value ${report.value}; it must be finite`);
    this.transaction(() => {
      const t = this.trialOf(studyId, id);
      if (t.state !== 'running') throw new StoreError(`trial ${id} is ${t.state}; epochs are recorded for running trials`);
      const now = this.now();
      this.sql('INSERT INTO trial_epochs (trial_id, epoch, value, metrics, recorded) VALUES (?, ?, ?, ?, ?) ON CONFLICT (trial_id, epoch) DO UPDATE SET value = excluded.value, metrics = excluded.metrics, recorded = excluded.recorded')
        .run(id, report.epoch, report.value, json(report), now);
      this.sql('UPDATE trials SET heartbeat = ? WHERE id = ?').run(now, id);
    });
  }

  epochs(id: number): EpochRecord[] {
    this.open_();
    return (this.sql('SELECT * FROM trial_epochs WHERE trial_id = ? ORDER BY epoch').all(id) as { trial_id: number; epoch: number; value: number; metrics: string; recorded: number }[]).map(
      (r) => ({ trialId: r.trial_id, epoch: r.epoch, value: r.value, metrics: JSON.parse(r.metrics) as EpochReport, recorded: r.recorded }),
    );
  }

  /** Values at `epoch` of the study's trials in `states` (default done), excluding one trial; the pruner's input. */
  epochValues(studyId: number, epoch: number, options: { states?: readonly TrialState[]; exclude?: number } = {}): number[] {
    this.open_();
    const states = options.states ?? ['done'];
    return this.sql(
      `SELECT e.value FROM trial_epochs e JOIN trials t ON t.id = e.trial_id WHERE t.study_id = ? AND e.epoch = ? AND t.id != ? AND t.state IN (${states.map(() => '?').join(', ')}) ORDER BY t.ask_order`,
    )
      .pluck()
      .all(studyId, epoch, options.exclude ?? -1, ...states) as number[];
  }

  /**
   * Back to queued (worker, start and heartbeat cleared, recorded epochs
   * dropped: the next attempt trains from scratch). `countAttempt`: a lost
   * worker counts as a failed attempt, an interruption of the coordinator
   * does not. Returns the trial as stored afterwards.
   */
  requeue(studyId: number, id: number, reason: string, countAttempt: boolean): TrialRecord {
    return this.transaction(() => {
      const t = this.trialOf(studyId, id);
      if (t.state !== 'running' && t.state !== 'queued') throw new StoreError(`trial ${id} is ${t.state}; only a queued or running trial can be re-queued`);
      this.sql("UPDATE trials SET state = 'queued', worker = NULL, started = NULL, heartbeat = NULL, attempts = attempts + ? WHERE id = ?").run(countAttempt ? 1 : 0, id);
      this.sql('DELETE FROM trial_epochs WHERE trial_id = ?').run(id);
      this.event(id, countAttempt ? 'requeued-attempt' : 'requeued', reason);
      return this.getTrial(id)!;
    });
  }

  /** Every running trial of the study back to queued, attempts unchanged (a restarted coordinator); returns their ids. */
  requeueRunning(studyId: number, reason: string): number[] {
    return this.transaction(() => {
      const ids = this.sql("SELECT id FROM trials WHERE study_id = ? AND state = 'running' ORDER BY ask_order").pluck().all(studyId) as number[];
      for (const id of ids) this.requeue(studyId, id, reason, false);
      return ids;
    });
  }

  /** Running trials whose last heartbeat is older than `before` (ms since the epoch). */
  staleRunning(studyId: number, before: number): TrialRecord[] {
    this.open_();
    return (this.sql("SELECT * FROM trials WHERE study_id = ? AND state = 'running' AND (heartbeat IS NULL OR heartbeat < ?) ORDER BY ask_order").all(studyId, before) as TrialRow[]).map(toTrial);
  }

  /** queued|running → done|failed|pruned, with the next tell order; returns the stored trial. */
  finishTrial(studyId: number, id: number, f: FinishTrial): TrialRecord {
    return this.transaction(() => {
      const t = this.trialOf(studyId, id);
      if (t.state !== 'running' && t.state !== 'queued') throw new StoreError(`trial ${id} is already ${t.state}; a trial is told once`);
      const tellOrder = this.toldCount(studyId);
      this.sql(
          'UPDATE trials SET state = ?, reward = ?, update_reward = ?, val = ?, test = ?, train_seconds = ?, pruned_at_epoch = ?, error = ?, finished = ?, tell_order = ?, heartbeat = NULL WHERE id = ?',
        )
        .run(f.state, f.reward, f.updateReward, f.val ? json(f.val) : null, f.test ? json(f.test) : null, f.trainSeconds ?? null, f.prunedAtEpoch ?? null, f.error ?? null, this.now(), tellOrder, id);
      this.event(id, f.state, f.error ?? null);
      if (f.data) this.event(id, 'data', f.data);
      return this.getTrial(id)!;
    });
  }

  /** Lowest reward among the study's done and pruned trials, or null when there is none. */
  minReward(studyId: number): number | null {
    this.open_();
    return (this.sql("SELECT MIN(reward) AS m FROM trials WHERE study_id = ? AND state IN ('done', 'pruned') AND reward IS NOT NULL").get(studyId) as { m: number | null }).m;
  }

  /** The done trial with the highest reward (ties: the earliest asked), or null. */
  bestTrial(studyId: number): TrialRecord | null {
    this.open_();
    const r = this.sql("SELECT * FROM trials WHERE study_id = ? AND state = 'done' AND reward IS NOT NULL ORDER BY reward DESC, ask_order ASC LIMIT 1").get(studyId) as TrialRow | undefined;
    return r ? toTrial(r) : null;
  }

  /** Told trials not yet consumed by a controller update, in tell order (what a restored controller re-buffers). */
  unconsumed(studyId: number): TrialRecord[] {
    this.open_();
    return (this.sql('SELECT * FROM trials WHERE study_id = ? AND tell_order IS NOT NULL AND consumed_version IS NULL ORDER BY tell_order').all(studyId) as TrialRow[]).map(toTrial);
  }

  // ----------------------------------------------------------------- events

  private event(trialId: number, kind: string, detail: string | null): void {
    this.sql('INSERT INTO trial_events (trial_id, at, kind, detail) VALUES (?, ?, ?, ?)').run(trialId, this.now(), kind, detail);
  }

  /** The data fingerprint the study's first finished child recorded (its 'data' event), or null before one has. */
  dataFingerprint(studyId: number): string | null {
    this.open_();
    const r = this.sql("SELECT e.detail FROM trial_events e JOIN trials t ON t.id = e.trial_id WHERE t.study_id = ? AND e.kind = 'data' ORDER BY e.id LIMIT 1")
      .pluck()
      .get(studyId) as string | null | undefined;
    return r ?? null;
  }

  /** A trial's history (asked, started, requeued with reasons, finished), oldest first. */
  events(trialId: number): TrialEvent[] {
    this.open_();
    return (this.sql('SELECT trial_id, at, kind, detail FROM trial_events WHERE trial_id = ? ORDER BY id').all(trialId) as { trial_id: number; at: number; kind: string; detail: string | null }[]).map(
      (r) => ({ trialId: r.trial_id, at: r.at, kind: r.kind, detail: r.detail }),
    );
  }

  // ------------------------------------------------------ controller, sampler

  /**
   * Stores a controller checkpoint and marks the trials it consumed, in one
   * transaction; then drops the tensor blobs of checkpoints older than the
   * newest keepCheckpointBlobs.
   */
  insertCheckpoint(studyId: number, c: NewCheckpoint): void {
    this.transaction(() => {
      this.sql('INSERT INTO controller_checkpoints (study_id, version, asked, told, tensors, optimizer, meta, consumed, stats, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(studyId, c.version, c.asked, c.told, c.tensors, c.optimizer, json(c.meta), json(c.consumed), c.stats ? json(c.stats) : null, this.now());
      const mark = this.sql('UPDATE trials SET consumed_version = ? WHERE id = ? AND study_id = ? AND consumed_version IS NULL');
      for (const id of c.consumed) {
        if (mark.run(c.version, id, studyId).changes !== 1) throw new StoreError(`checkpoint ${c.version}: trial ${id} is not an unconsumed trial of this study`);
      }
      this.sql('UPDATE controller_checkpoints SET tensors = NULL, optimizer = NULL WHERE study_id = ? AND version <= ? AND tensors IS NOT NULL')
        .run(studyId, c.version - this.keepBlobs);
    });
  }

  /** The newest checkpoint that still has its blobs, or null. */
  latestCheckpoint(studyId: number): CheckpointRecord | null {
    this.open_();
    const r = this.sql('SELECT * FROM controller_checkpoints WHERE study_id = ? AND tensors IS NOT NULL ORDER BY version DESC LIMIT 1').get(studyId) as CheckpointRow | undefined;
    return r ? toCheckpoint(r) : null;
  }

  /** The highest controller version stored (null: none). */
  controllerVersion(studyId: number): number | null {
    this.open_();
    return (this.sql('SELECT MAX(version) AS v FROM controller_checkpoints WHERE study_id = ?').get(studyId) as { v: number | null }).v;
  }

  /** Every checkpoint in version order; `blobs: false` (default) leaves tensors and optimizer null. */
  checkpoints(studyId: number, options: { blobs?: boolean } = {}): CheckpointRecord[] {
    this.open_();
    const cols = options.blobs ? '*' : 'study_id, version, asked, told, NULL AS tensors, NULL AS optimizer, meta, consumed, stats, created';
    return (this.sql(`SELECT ${cols} FROM controller_checkpoints WHERE study_id = ? ORDER BY version`).all(studyId) as CheckpointRow[]).map(toCheckpoint);
  }

  /** The sampler state after the ask with this order, or (omitted) after the latest ask; null if none. */
  samplerState(studyId: number, askOrder?: number): unknown {
    this.open_();
    const r = (
      askOrder === undefined
        ? this.sql('SELECT state FROM sampler_state WHERE study_id = ? ORDER BY ask_order DESC LIMIT 1').get(studyId)
        : this.sql('SELECT state FROM sampler_state WHERE study_id = ? AND ask_order = ?').get(studyId, askOrder)
    ) as { state: string } | undefined;
    return r ? (JSON.parse(r.state) as unknown) : null;
  }

  /** Raw SQL for tests and tools (e.g. tampering with a log to check replay). Writes bypass every invariant. */
  unsafeExec(sql: string, ...params: unknown[]): void {
    this.writable();
    // Not through sql(): arbitrary one-off text would only fill its cache.
    this.db.prepare(sql).run(...params);
  }
}
