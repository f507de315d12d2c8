// `node dist/bench/dashboard/run.js [--trials 4] [--rounds 2] [--workers 1] [--train-limit 512] [--epochs 1] [--viewer chromium|stream] [--out FILE]`
//
// Does an open dashboard slow a search down? The same small random search
// (MNIST, wrn-10-1, a fresh database each time, so every run trains the same
// children) runs through the CLI without and with `autodropout dashboard`
// serving its database to a page open in headless chromium (an SSE client
// when /usr/bin/chromium is missing, or with --viewer stream: the server's
// own cost, as with a browser on another machine), alternating the order each round
// (ABBA...) so drift in the machine's load hits both arms alike. Reported:
// trials per hour of each run (the search's own count: trials finished over
// its wall time), and the ratio with/without per round and over all rounds.
// A ratio measured while other jobs load the cores is noisy: rerun idle.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SearchStore } from '../../src/search/store.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '2' },
    workers: { type: 'string', default: '1' },
    'train-limit': { type: 'string', default: '512' },
    epochs: { type: 'string', default: '1' },
    viewer: { type: 'string', default: 'chromium' },
    out: { type: 'string' },
  },
});
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const CHROMIUM = '/usr/bin/chromium';
if (values.viewer !== 'chromium' && values.viewer !== 'stream') throw new Error(`bench/dashboard: --viewer is chromium or stream, got '${values.viewer}'`);
/** A page in chromium on this machine (its rendering shares the search's cores), or an event-stream client (the server's cost only). */
const useChromium = values.viewer === 'chromium' && existsSync(CHROMIUM);
const dir = mkdtempSync(join(tmpdir(), 'bench-dashboard-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], onStdout?: (text: string) => void): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; kill: () => void } {
  const p = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    onStdout?.(stdout);
  });
  p.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return { done: new Promise((resolve) => p.on('close', (code) => resolve({ code, stdout, stderr }))), kill: () => p.kill('SIGINT') };
}

/** A dashboard on `db` with a page (or an event stream) open on it; returns how to close both and how many snapshots the page drew (or the stream got). */
async function openDashboard(db: string): Promise<{ close: () => Promise<number>; viewer: string }> {
  let resolveUrl: (u: string) => void = () => {};
  const url = new Promise<string>((r) => (resolveUrl = r));
  const server = run(['dashboard', '--db', db, '--port', '0'], (out) => {
    const m = /(http:\/\/\S+)/.exec(out);
    if (m) resolveUrl(m[1]);
  });
  const href = await Promise.race([url, server.done.then((r) => Promise.reject(new Error(`dashboard exited: ${r.stderr}`)))]);
  if (useChromium) {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const page = await browser.newPage();
    await page.goto(href);
    await page.waitForFunction(() => ((globalThis as unknown as { dashboard?: { updates: number } }).dashboard?.updates ?? 0) > 0);
    return {
      viewer: 'chromium',
      close: async () => {
        const n = await page.evaluate(() => (globalThis as unknown as { dashboard: { updates: number } }).dashboard.updates);
        await browser.close();
        server.kill();
        await server.done;
        return n;
      },
    };
  }
  const ac = new AbortController();
  let events = 0;
  const res = await fetch(`${href}api/events`, { signal: ac.signal });
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) events += (decoder.decode(chunk).match(/^event: snapshot$/gm) ?? []).length;
    } catch {
      // aborted
    }
  })();
  return {
    viewer: 'event stream',
    close: async () => {
      ac.abort();
      await reading;
      server.kill();
      await server.done;
      return events;
    },
  };
}

interface RunResult {
  arm: 'without' | 'with';
  trialsPerHour: number;
  wallSeconds: number;
  trials: number;
  snapshots?: number;
}

async function searchOnce(arm: RunResult['arm'], k: number): Promise<RunResult> {
  const db = join(dir, `${arm}-${k}.db`);
  // The file exists (no study yet) before the search starts, so the dashboard can open it first.
  SearchStore.open(db).close();
  const dash = arm === 'with' ? await openDashboard(db) : null;
  const r = await run([
    'search', '--task', 'mnist', '--model', 'wrn-10-1', '--strategy', 'random', '--trials', values.trials!, '--workers', values.workers!,
    '--train-limit', values['train-limit']!, '--val-size', '512', '--epochs', values.epochs!, '--seed', '0', '--db', db, '--json', '--quiet',
  ]).done;
  const snapshots = dash ? await dash.close() : undefined;
  if (r.code !== 0) throw new Error(`search exited ${r.code}: ${r.stderr}`);
  const s = JSON.parse(r.stdout) as { timing: { trialsFinished: number; wallSeconds: number } };
  const t = s.timing;
  return { arm, trials: t.trialsFinished, wallSeconds: t.wallSeconds, trialsPerHour: (t.trialsFinished / t.wallSeconds) * 3600, ...(snapshots !== undefined ? { snapshots } : {}) };
}

const rounds = Number(values.rounds);
const runs: RunResult[] = [];
for (let k = 0; k < rounds; k++) {
  const order: RunResult['arm'][] = k % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
  for (const arm of order) {
    const r = await searchOnce(arm, k);
    runs.push(r);
    process.stderr.write(`round ${k + 1} ${arm} the dashboard: ${r.trials} trials in ${r.wallSeconds.toFixed(1)} s, ${r.trialsPerHour.toFixed(0)} trials/hour${r.snapshots !== undefined ? ` (page drew ${r.snapshots} snapshots)` : ''}\n`);
  }
}
const perRound = Array.from({ length: rounds }, (_, k) => {
  const [a, b] = [runs[2 * k], runs[2 * k + 1]];
  const w = a.arm === 'with' ? a : b;
  const wo = a.arm === 'with' ? b : a;
  return w.trialsPerHour / wo.trialsPerHour;
});
const sum = (arm: RunResult['arm'], f: (r: RunResult) => number) => runs.filter((r) => r.arm === arm).reduce((s, r) => s + f(r), 0);
const overall = (sum('with', (r) => r.trials) / sum('with', (r) => r.wallSeconds)) / (sum('without', (r) => r.trials) / sum('without', (r) => r.wallSeconds));
const result = {
  bench: 'dashboard',
  search: { task: 'mnist', model: 'wrn-10-1', strategy: 'random', trials: Number(values.trials), workers: Number(values.workers), trainLimit: Number(values['train-limit']), epochs: Number(values.epochs) },
  viewer: useChromium ? 'chromium' : 'event stream',
  runs,
  ratioPerRound: perRound,
  ratioWithOverWithout: overall,
};
process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
process.stderr.write(`trials per hour with the dashboard open / without: ${overall.toFixed(3)} (rounds: ${perRound.map((x) => x.toFixed(3)).join(', ')})\n`);
if (values.out) writeFileSync(values.out, `${JSON.stringify(result, null, 1)}\n`);
