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
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const USAGE = `usage: node scripts/stress-tests.mjs [--idle N] [--busy M] [--loops K] [--files A,B,...] [--no-build]
  --idle N     runs with no extra load (default 20)
  --busy M     runs with K busy loops on the cores (default 5)
  --loops K    busy loops during the busy runs (default 2)
  --files ...  test files (test/x.test.ts or dist/test/x.test.js), comma-separated or repeated (default: every test)
  --no-build   use the existing dist/ (default: npm run build first)`;

function usage(message) {
  process.stderr.write(`stress-tests: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { idle: 20, busy: 5, loops: 2, files: [], build: true };
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
  const dir = join(root, 'runs', 'stress', new Date().toISOString().replace(/[:.]/g, '-'));
  mkdirSync(dir, { recursive: true });
  const cores = availableParallelism();
  process.stderr.write(`stress-tests: ${o.idle} idle run(s), then ${o.busy} with ${o.loops} busy loop(s) on ${cores} core(s); files: ${files.join(' ')}; logs in ${relative(root, dir)}\n`);

  const results = [];
  let stopLoops = () => {};
  const onSignal = (sig) => {
    stopLoops();
    process.stderr.write(`stress-tests: ${sig}\n`);
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const phases = [
    { name: 'idle', runs: o.idle, loops: 0 },
    { name: 'busy', runs: o.busy, loops: o.loops },
  ];
  let failure = null;
  for (const phase of phases) {
    if (phase.runs === 0 || failure) continue;
    if (phase.name === 'idle' && loadavg()[0] > cores / 2) {
      process.stderr.write(`stress-tests: warning: the load average is ${loadavg()[0].toFixed(2)} on ${cores} core(s); the "idle" runs are not on an idle machine\n`);
    }
    stopLoops = phase.loops > 0 ? startBusyLoops(phase.loops) : () => {};
    try {
      for (let n = 1; n <= phase.runs; n++) {
        const log = join(dir, `${phase.name}-${n}.tap`);
        const r = await runOnce(files, log);
        const ok = r.code === 0 && r.fail === 0;
        results.push({ phase: phase.name, n, ok, log, ...r });
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
    if (rs.length === 0) continue;
    const passed = rs.filter((r) => r.ok).length;
    const secs = rs.map((r) => r.seconds);
    lines.push(
      `  ${phase.name}${phase.loops ? ` (${phase.loops} busy loops)` : ''}: ${passed}/${phase.runs} runs passed` +
        `${rs.length < phase.runs ? ` (stopped after ${rs.length})` : ''}; ${Math.min(...secs).toFixed(0)}-${Math.max(...secs).toFixed(0)} s per run`,
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
