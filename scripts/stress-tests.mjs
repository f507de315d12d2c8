#!/usr/bin/env node
// Runs the test suite (or some test files) many times in a row: first on the
// machine as it is, then with busy loops spinning on the cores, stopping at
// the first failing run. A test that passes here does not depend on how fast
// the machine is, which is what the tests promise (faults are triggered by
// events, never by wall-clock delays).
//
//   node scripts/stress-tests.mjs                     # 20 idle runs, then 5 with 2 busy loops
//   node scripts/stress-tests.mjs --idle 5 --busy 2 --loops 2 \
//     --files test/search/executors.test.ts,test/search/executors-search.test.ts
//
// Builds once first (npm run build) unless --no-build. Each run's TAP output
// goes to runs/stress/<time>/<phase>-<n>.tap; the summary names the failing
// tests and the file to read. Exit 0 when every run passed, 1 at the first
// failure, 2 on a bad flag.
//
// Every finished run is appended to a ledger (--ledger, one JSON line each)
// with the code it tested: the commit's git tree. With
// --resume, runs the ledger already holds for the same code, phase and files,
// since the last failure, count towards N, so 25 runs of ~7-13 minutes each
// can span several sittings and still be "in a row" on one version of the code.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const USAGE = `usage: node scripts/stress-tests.mjs [--idle N] [--busy M] [--loops K] [--files A,B,...] [--no-build] [--ledger F] [--resume]
  --idle N     runs with no extra load (default 20)
  --busy M     runs with K busy loops on the cores (default 5)
  --loops K    busy loops during the busy runs (default 2)
  --files ...  test files (test/x.test.ts or dist/test/x.test.js), comma-separated or repeated (default: every test)
  --no-build   use the existing dist/ (default: npm run build first)
  --ledger F   where every finished run is recorded (default runs/stress/ledger.jsonl)
  --resume     count the passing runs the ledger holds for this tree, phase and files
               (since their last failure) towards N; refused with uncommitted changes`;

function usage(message) {
  process.stderr.write(`stress-tests: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { idle: 20, busy: 5, loops: 2, files: [], build: true, ledger: join(root, 'runs', 'stress', 'ledger.jsonl'), resume: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    const count = (name) => {
      const v = value();
      if (!/^\d+$/.test(v)) usage(`${name} must be a non-negative integer, got '${v}'`);
      return Number(v);
    };
    if (a === '--idle') o.idle = count(a);
    else if (a === '--busy') o.busy = count(a);
    else if (a === '--loops') o.loops = count(a);
    else if (a === '--files') o.files.push(...value().split(',').filter((f) => f !== ''));
    else if (a === '--no-build') o.build = false;
    else if (a === '--ledger') o.ledger = resolve(value());
    else if (a === '--resume') o.resume = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else usage(`unknown argument '${a}'`);
  }
  if (o.idle + o.busy === 0) usage('nothing to run: --idle and --busy are both 0');
  return o;
}

/** test/a/b.test.ts -> dist/test/a/b.test.js (a built .js file is taken as it is). */
function builtPath(file) {
  return file.endsWith('.ts') ? join('dist', relative(root, resolve(file)).replace(/\.ts$/, '.js')) : file;
}

/** The TAP summary of one run: counts and the names of the failing top-level tests. */
function summarize(tap) {
  const count = (key) => Number(tap.match(new RegExp(`^# ${key} (\\d+)$`, 'm'))?.[1] ?? NaN);
  const failed = [...tap.matchAll(/^not ok \d+ - (.*)$/gm)].map((m) => m[1]);
  return { tests: count('tests'), pass: count('pass'), fail: count('fail'), cancelled: count('cancelled'), failed };
}

function runOnce(files, logFile) {
  return new Promise((done) => {
    const t0 = performance.now();
    const load = loadavg()[0];
    const args = ['--test', '--test-concurrency=1', '--test-reporter=tap', ...files];
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = createWriteStream(logFile);
    let tap = '';
    child.stdout.setEncoding('utf8').on('data', (d) => {
      tap += d;
      log.write(d);
    });
    child.stderr.setEncoding('utf8').on('data', (d) => log.write(d));
    child.on('close', (code, signal) => {
      log.end();
      done({ code, signal, seconds: (performance.now() - t0) / 1000, loadAtStart: load, ...summarize(tap) });
    });
  });
}

/**
 * The tested code as one key: the commit's whole tree (the tests read the
 * README, docs, configs and schemas too), or null when tracked files differ
 * from the commit or this is no git clone.
 */
function codeKey() {
  const git = (...args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  const status = git('status', '--porcelain', '--untracked-files=no');
  if (status.status !== 0 || status.stdout.trim() !== '') return null;
  const tree = git('rev-parse', 'HEAD^{tree}');
  const commit = git('rev-parse', 'HEAD');
  if (tree.status !== 0 || commit.status !== 0) return null;
  return { key: tree.stdout.trim().slice(0, 16), commit: commit.stdout.trim() };
}

/** The ledger's lines for this code and these files, oldest first (a damaged line is skipped with a warning). */
function readLedger(file, key, files) {
  if (!existsSync(file)) return [];
  const rows = [];
  for (const [i, line] of readFileSync(file, 'utf8').split('\n').entries()) {
    if (line.trim() === '') continue;
    try {
      rows.push(JSON.parse(line));
    } catch {
      process.stderr.write(`stress-tests: warning: ${relative(root, file)} line ${i + 1} is not JSON; skipped\n`);
    }
  }
  return rows.filter((r) => r.key === key && r.files === files.join(' '));
}

/** Passing runs of a phase (with that many busy loops) since the last failure; a failure in any phase resets every count. */
function passesInARow(rows, phase, loops) {
  const lastFail = rows.findLastIndex((r) => !r.ok);
  return rows.slice(lastFail + 1).filter((r) => r.phase === phase && r.loops === loops).length;
}

/** K processes spinning on the CPU until stopped. */
function startBusyLoops(k) {
  const procs = Array.from({ length: k }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
  return () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const files = o.files.length ? o.files.map(builtPath) : ['dist/test/'];
  if (o.build) {
    process.stderr.write('stress-tests: npm run build\n');
    const b = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
    if (b.status !== 0) {
      process.stderr.write('stress-tests: the build failed\n');
      process.exit(1);
    }
  }
  for (const f of files) if (!existsSync(resolve(root, f))) usage(`${f} does not exist (build first, or check the path)`);
  const code = codeKey();
  if (o.resume && code === null) {
    usage('--resume needs every tracked file committed (git status): runs of uncommitted code cannot be matched later');
  }
  const earlier = o.resume ? readLedger(o.ledger, code.key, files) : [];
  const dir = join(root, 'runs', 'stress', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  mkdirSync(dirname(o.ledger), { recursive: true });
  const cores = availableParallelism();
  const phases = [
    { name: 'idle', runs: o.idle, loops: 0 },
    { name: 'busy', runs: o.busy, loops: o.loops },
  ].map((p) => {
    const before = Math.min(p.runs, passesInARow(earlier, p.name, p.loops));
    return { ...p, before };
  });
  process.stderr.write(
    `stress-tests: ${o.idle} idle run(s), then ${o.busy} with ${o.loops} busy loop(s) on ${cores} core(s); files: ${files.join(' ')}; logs in ${relative(root, dir)}` +
      `${code ? `; code ${code.key} (commit ${code.commit.slice(0, 12)})` : '; uncommitted code'}\n` +
      (o.resume ? `stress-tests: the ledger holds ${phases.map((p) => `${p.before} ${p.name}`).join(' and ')} passing run(s) in a row for this code\n` : ''),
  );

  const results = [];
  let stopLoops = () => {};
  const onSignal = (sig) => {
    stopLoops();
    process.stderr.write(`stress-tests: ${sig}\n`);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let failure = null;
  for (const phase of phases) {
    if (phase.runs - phase.before === 0 || failure) continue;
    if (phase.name === 'idle' && loadavg()[0] > cores / 2) {
      process.stderr.write(`stress-tests: warning: the load average is ${loadavg()[0].toFixed(2)} on ${cores} core(s); the "idle" runs are not on an idle machine\n`);
    }
    stopLoops = phase.loops > 0 ? startBusyLoops(phase.loops) : () => {};
    try {
      for (let n = phase.before + 1; n <= phase.runs; n++) {
        const log = join(dir, `${phase.name}-${n}.tap`);
        const r = await runOnce(files, log);
        const ok = r.code === 0 && r.fail === 0;
        results.push({ phase: phase.name, n, ok, log, ...r });
        const row = {
          at: new Date().toISOString(),
          key: code?.key ?? null,
          commit: code?.commit ?? null,
          files: files.join(' '),
          phase: phase.name,
          loops: phase.loops,
          ok,
          tests: r.tests,
          pass: r.pass,
          seconds: Math.round(r.seconds),
          loadAtStart: Number(r.loadAtStart.toFixed(2)),
          log: relative(root, log),
          ...(ok ? {} : { failed: r.failed }),
        };
        appendFileSync(o.ledger, `${JSON.stringify(row)}\n`);
        process.stderr.write(
          `${phase.name} ${n}/${phase.runs}: ${ok ? 'pass' : 'FAIL'}: ${r.pass}/${r.tests} tests passed in ${r.seconds.toFixed(0)} s (load ${r.loadAtStart.toFixed(2)} at start)\n`,
        );
        if (!ok) {
          failure = results.at(-1);
          break;
        }
      }
    } finally {
      stopLoops();
      stopLoops = () => {};
    }
  }

  const lines = ['', 'summary:'];
  for (const phase of phases) {
    const rs = results.filter((r) => r.phase === phase.name);
    if (rs.length === 0 && phase.before === 0) continue;
    const passed = phase.before + rs.filter((r) => r.ok).length;
    const secs = rs.map((r) => r.seconds);
    lines.push(
      `  ${phase.name}${phase.loops ? ` (${phase.loops} busy loops)` : ''}: ${passed}/${phase.runs} runs passed in a row` +
        `${phase.before ? ` (${phase.before} of them from the ledger)` : ''}` +
        `${phase.before + rs.length < phase.runs ? ` (stopped after ${phase.before + rs.length})` : ''}` +
        `${secs.length ? `; ${Math.min(...secs).toFixed(0)}-${Math.max(...secs).toFixed(0)} s per run` : ''}`,
    );
  }
  if (failure) {
    lines.push(`  first failure: ${failure.phase} run ${failure.n}: exit ${failure.code ?? failure.signal}; failing: ${failure.failed.join('; ') || '(see the log)'}`);
    lines.push(`  log: ${relative(root, failure.log)}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  process.exit(failure ? 1 : 0);
}

main().catch((e) => {
  process.stderr.write(`stress-tests: ${e.stack ?? e}\n`);
  process.exit(1);
});
