// The actions behind `autodropout search | status | export | replay`
// (src/cli/search.ts declares the flags). Imported only when one of these
// commands runs: they load the store, and `search` the engine.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatPattern } from '../patterns/io.js';
import type { PatternFile } from '../patterns/types.js';
import type { SearchSummary } from '../search/coordinator.js';
import type { StudySummary } from '../search/status.js';
import type { ChildTrainConfig, StudyConfig } from '../search/types.js';
import { metricFromReward } from '../search/reward.js';
import { UsageError } from './args.js';
import { overlayChildSettings } from './child-settings.js';
import { defaultQueueName, redactRedisUrl } from '../search/executors/queue-settings.js';
import { givenQueueFlags, queueSettingsFrom } from './queue-settings.js';
import { SEARCH_CHILD_SETTINGS, buildStudyConfig, codeVersion, controllerFlag, type ExecutorName, type SearchFlags } from './search.js';

/** The stored config of the study a resume names, or null when the file or study does not exist yet. */
async function storedConfig(db: string, name: string | undefined): Promise<StudyConfig | null> {
  if (!existsSync(db)) return null;
  const { SearchStore } = await import('../search/store.js');
  const store = SearchStore.open(db, { readonly: true });
  try {
    if (name !== undefined) return store.getStudy(name)?.config ?? null;
    const all = store.listStudies();
    if (all.length === 0) return null;
    if (all.length > 1) throw new UsageError(`${db} holds ${all.length} studies (${all.map((s) => s.name).join(', ')}); pick one with --name.`);
    return all[0].config;
  } finally {
    store.close();
  }
}

/**
 * A resume: the stored config with the flags that were given laid over it.
 * Study.open then refuses any given flag that changes what the search does
 * (only --trials may grow a study), so `search --db F --resume` alone is
 * enough, and a script that repeats all its flags works too.
 */
async function resumeConfig(stored: StudyConfig, f: SearchFlags): Promise<StudyConfig> {
  const c: StudyConfig = JSON.parse(JSON.stringify(stored)) as StudyConfig;
  if (f.task !== undefined) {
    const given = f.task === 'auto' ? (await buildStudyConfig({ ...f, model: f.model ?? stored.child.model })).child.task : f.task;
    c.child.task = given as StudyConfig['child']['task'];
  }
  c.child = overlayChildSettings(c.child, f, SEARCH_CHILD_SETTINGS);
  if (f.space !== undefined) c.space = f.space;
  if (f.strategy !== undefined) c.strategy = f.strategy;
  if (f.fixed !== undefined) c.fixed = f.fixed;
  if (f.trials !== undefined) c.trials = f.trials;
  if (f.seed !== undefined) c.seed = f.seed;
  if (f.prune !== undefined) c.prune = f.prune;
  if (f.updateEvery !== undefined) c.updateEvery = f.updateEvery;
  const { CONTROLLER_DEFAULTS } = await import('../controller/options.js');
  for (const key of Object.keys(CONTROLLER_DEFAULTS)) {
    const v = f[`controller${key[0].toUpperCase()}${key.slice(1)}`];
    if (typeof v === 'number') {
      if (c.strategy !== 'rl') throw new UsageError(`${controllerFlag(key)} is an rl option; study '${c.name}' uses --strategy ${c.strategy}.`);
      c.controller = { ...(c.controller ?? {}), [key]: v };
    }
  }
  c.codeVersion = codeVersion();
  return c;
}

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

function rewardText(task: ChildTrainConfig['task'], reward: number): string {
  const m = metricFromReward(task, reward);
  return `${reward.toFixed(4)} (val ${m.name} ${m.name === 'accuracy' ? pct(m.value) : m.value.toFixed(2)})`;
}

/** The addresses of a pattern file, one line each. */
export function formatPatternLines(file: PatternFile, indent = '  '): string {
  const lines = Object.entries(file.slots).map(([a, p]) => `${indent}${a}: ${formatPattern(p)}`);
  if (file.schedule && file.schedule.kind !== 'constant') lines.push(`${indent}schedule: ${JSON.stringify(file.schedule)}`);
  return lines.join('\n');
}

function formatSearchSummary(s: SearchSummary): string {
  const c = s.counts;
  const t = s.timing;
  const out = [
    `study ${s.study} (${s.strategy}, ${s.space} space, ${s.model} on ${s.task}) in ${s.db}`,
    `trials: ${c.done} done, ${c.pruned} pruned, ${c.failed} failed, ${c.queued} queued, ${c.running} running (target ${s.trials.target})`,
  ];
  if (s.best) out.push(`best: trial ${s.best.trialId}, reward ${rewardText(s.task, s.best.reward)}`, formatPatternLines(s.best.pattern));
  else out.push('best: no trial done yet');
  for (const f of s.recentFailures.slice(0, 3)) out.push(`failed: trial ${f.trialId}: ${f.error}`);
  if (t.trialsFinished > 0) {
    out.push(
      `this run: ${t.trialsFinished} trial(s) in ${t.wallSeconds.toFixed(1)} s on ${s.workers} ${s.executor} worker(s); ` +
        `${t.trialWallSeconds.toFixed(1)} s per trial; coordinator ${(t.coordinatorSecondsPerTrial * 1000).toFixed(1)} ms per trial ` +
        `(controller ${(t.controllerSecondsPerTrial * 1000).toFixed(1)} ms), ${pct(t.coordinatorFraction)} of a trial's wall time`,
    );
  }
  if (s.interrupted) out.push(`interrupted by ${s.interrupted}: continue with autodropout search --db ${s.db} --resume`);
  return out.join('\n');
}

/** The executor the flags name: --executor, else bullmq with --redis, else local; queue flags without the bullmq executor are refused. */
function executorOf(f: SearchFlags): ExecutorName {
  const executor = f.executor ?? (f.redis !== undefined ? 'bullmq' : 'local');
  if (executor === 'bullmq' && f.redis === undefined) throw new UsageError('--executor bullmq needs --redis URL: the Redis server whose queue the workers (`autodropout worker`) pull trials from.');
  if (executor !== 'bullmq') {
    const stray = givenQueueFlags(f, 'search');
    if (stray.length) throw new UsageError(`${stray.map((s) => s.flag).join(', ')} go${stray.length === 1 ? 'es' : ''} with the bullmq executor (--redis URL), not --executor ${executor}.`);
  }
  return executor;
}

/** Trials in flight: --workers, capped by the study's trials and, for local workers, by the memory available (each cap said on stderr). */
async function workerCount(f: SearchFlags, executor: ExecutorName, config: StudyConfig): Promise<number> {
  if (executor === 'inline') return 1;
  const { availableMemoryBytes, planWorkers } = await import('../search/workers.js');
  // The bullmq executor's children train on the workers' machines: only the trial cap applies here.
  const plan = planWorkers(f.workers, { trials: config.trials, availableBytes: executor === 'bullmq' ? Number.MAX_SAFE_INTEGER : availableMemoryBytes() });
  for (const note of plan.notes) process.stderr.write(`autodropout: warning: ${note}\n`);
  return plan.workers;
}

/** `autodropout search`; returns the exit code. */
export async function runSearchCli(f: SearchFlags): Promise<number> {
  if (f.takeover && !f.resume) throw new UsageError('--takeover goes with --resume: only an existing study has a lock to take over.');
  if (existsSync(f.db) && statSync(f.db).isDirectory()) throw new UsageError(`--db ${f.db} is a directory; pass a file path for the study (e.g. ${join(f.db, 'study.db')}).`);
  let config: StudyConfig;
  const stored = f.resume ? await storedConfig(f.db, f.name) : null;
  if (stored) config = await resumeConfig(stored, f);
  else {
    if (f.resume && f.task === undefined) throw new UsageError(`--resume: ${f.db} holds no study to resume${f.name ? ` named '${f.name}'` : ''}; give --task (and the other flags) to start one.`);
    config = await buildStudyConfig(f);
  }
  const executor = executorOf(f);
  const workers = await workerCount(f, executor, config);
  const queue = executor === 'bullmq' ? queueSettingsFrom(f, 'search', { queue: defaultQueueName(config.name) }) : null;
  if (f.dryRun) {
    const shownQueue = queue ? { redis: redactRedisUrl(queue.redis), queue: queue.queue, jobAttempts: queue.jobAttempts, backoff: queue.backoff } : undefined;
    const run = { command: 'search', study: config, db: f.db, resume: f.resume ?? false, executor, workers, ...(shownQueue ? { queue: shownQueue } : {}) };
    process.stdout.write(`${JSON.stringify(run, null, 2)}\n`);
    return 0;
  }
  const { runSearch } = await import('../search/coordinator.js');
  const { createSearchProgress } = await import('../search/progress.js');
  const { StudyExistsError, ConfigMismatchError } = await import('../search/study.js');
  let summary: SearchSummary;
  try {
    summary = await runSearch(config, {
      db: f.db,
      resume: f.resume,
      takeover: f.takeover,
      workers,
      executor,
      ...(queue ? { queue: { redis: queue.redis, queue: queue.queue, jobAttempts: queue.jobAttempts, backoff: queue.backoff } } : {}),
      progress: createSearchProgress({ quiet: f.quiet }),
      heartbeatTimeoutMs: f.heartbeatTimeout * 1000,
    });
  } catch (e) {
    if (e instanceof StudyExistsError || e instanceof ConfigMismatchError) throw new UsageError(e.message);
    if (e instanceof Error && e.name === 'QueueInUseError') throw new UsageError(e.message);
    throw e;
  }
  process.stdout.write(f.json ? `${JSON.stringify(summary)}\n` : `${formatSearchSummary(summary)}\n`);
  if (summary.interrupted) return summary.interrupted === 'SIGINT' ? 130 : 143;
  if (summary.counts.done + summary.counts.pruned === 0 && summary.counts.failed > 0) {
    process.stderr.write('autodropout: no child trained successfully (every trial failed); see the reasons above or `autodropout status`\n');
    return 1;
  }
  return 0;
}

function formatStatus(s: StudySummary): string {
  const c = s.counts;
  const out = [
    `study ${s.name} in ${s.db}: ${s.strategy} search, ${s.space} space, ${s.model} on ${s.task}, seed ${s.seed} (${s.codeVersion}, created ${s.created})`,
    `trials: ${s.trials.asked} asked of ${s.trials.target}: ${c.done} done, ${c.pruned} pruned, ${c.failed} failed, ${c.running} running, ${c.queued} queued` +
      (s.trialsPerHour !== null ? `; ${s.trialsPerHour.toFixed(1)} trials/hour` : ''),
  ];
  if (s.best) out.push(`best: trial ${s.best.trialId}, reward ${rewardText(s.task, s.best.reward)}`, formatPatternLines(s.best.pattern));
  else out.push('best: no trial done yet');
  if (s.controller) {
    out.push(`controller: version ${s.controller.version}, baseline ${s.controller.baseline === null ? '-' : s.controller.baseline.toFixed(4)}`);
  }
  if (s.data) out.push(`data: ${s.data} (the fingerprint of the files its children trained on)`);
  if (s.lock) out.push(`held by process ${s.lock.pid} on ${s.lock.host}`);
  for (const f of s.recentFailures) out.push(`failed: trial ${f.trialId}: ${f.error}`);
  return out.join('\n');
}

/** --db of a command that reads a study: an existing file (exit 2 otherwise). */
function requireDbFile(db: string): void {
  if (!existsSync(db)) throw new UsageError(`--db ${db}: no such file.`);
  if (statSync(db).isDirectory()) throw new UsageError(`--db ${db} is a directory; pass the study's .db file (the --db its search was given).`);
}

/** `autodropout status`. */
export async function statusCli(f: { db: string; name?: string; json?: boolean }): Promise<number> {
  requireDbFile(f.db);
  const { studySummary } = await import('../search/status.js');
  const s = studySummary(f.db, f.name);
  process.stdout.write(f.json ? `${JSON.stringify(s)}\n` : `${formatStatus(s)}\n`);
  return 0;
}

/** `autodropout export --best`. */
export async function exportCli(f: { db: string; name?: string; out: string }): Promise<number> {
  requireDbFile(f.db);
  const { exportBest } = await import('../search/status.js');
  const { PatternWriteError } = await import('../patterns/io.js');
  let r;
  try {
    r = exportBest(f.db, f.out, { name: f.name });
  } catch (e) {
    // A bad -o is the command line's fault: exit 2 with the file and the reason.
    if (e instanceof PatternWriteError) throw new UsageError(`-o ${f.out}: ${e.message}.`);
    throw e;
  }
  process.stdout.write(`${r.path}\n`);
  process.stderr.write(`exported trial ${r.trialId} (reward ${r.reward.toFixed(4)})\n`);
  return 0;
}

/** `autodropout replay`: exit 1 when the log does not reproduce. */
export async function replayCli(f: { db: string; name?: string; json?: boolean }): Promise<number> {
  requireDbFile(f.db);
  const { replayStudy } = await import('../search/replay.js');
  const r = replayStudy(f.db, { name: f.name });
  const ok = r.mismatches.length === 0 && r.stopped === null;
  if (f.json) process.stdout.write(`${JSON.stringify({ ok, ...r })}\n`);
  else {
    const lines = [`replay of study ${r.study} (${r.strategy}): ${r.checked} trial(s) checked, ${r.updates} controller update(s) re-applied: ${ok ? 'all match' : `${r.mismatches.length} mismatch(es)`}`];
    for (const m of r.mismatches.slice(0, 20)) {
      lines.push(`  ${m.trialId !== null ? `trial ${m.trialId}` : `update ${m.version}`}: ${m.field}: stored ${JSON.stringify(m.stored)}, replayed ${JSON.stringify(m.replayed)}`);
    }
    if (r.stopped) lines.push(`  stopped: ${r.stopped}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return ok ? 0 : 1;
}
