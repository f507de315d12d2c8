// `node dist/bench/dashboard/screenshot.js [--out docs/img/dashboard.png] [--trials 6]`
//
// The README's picture of the dashboard, on a real small search: an rl and a
// random study of the same budget in one database (MNIST, wrn-10-1, 600
// training and 600 validation images, 3 epochs, --prune median, inline), then
// `autodropout dashboard` on it, opened in headless chromium with the best
// trial's detail shown, and a full-page screenshot.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { out: { type: 'string', default: 'docs/img/dashboard.png' }, trials: { type: 'string', default: '6' } } });
const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'dashboard-shot-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const db = join(dir, 'search.db');

function run(args: string[], onStdout?: (s: string) => void) {
  const p = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    onStdout?.(out);
  });
  return { kill: () => p.kill('SIGINT'), done: new Promise<number | null>((r) => p.on('close', r)) };
}

const child = ['--task', 'mnist', '--model', 'wrn-10-1', '--train-limit', '600', '--val-size', '600', '--epochs', '3', '--prune', 'median', '--trials', values.trials!];
for (const strategy of ['rl', 'random']) {
  const code = await run(['search', ...child, '--strategy', strategy, '--name', strategy, '--update-every', '2', '--executor', 'inline', '--quiet', '--db', db]).done;
  if (code !== 0) throw new Error(`search --strategy ${strategy} exited ${code}`);
}
let found: (u: string) => void = () => {};
const url = new Promise<string>((r) => (found = r));
const server = run(['dashboard', '--db', db, '--port', '0'], (s) => {
  const m = /(http:\/\/\S+)/.exec(s);
  if (m) found(m[1]);
});
const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.setDefaultTimeout(600_000);
  await page.goto(await url);
  await page.waitForFunction(() => ((globalThis as unknown as { dashboard?: { updates: number } }).dashboard?.updates ?? 0) > 0);
  // The best trial's detail: sort by reward, descending, and open the first row.
  await page.click('#trials th[data-key="reward"]');
  await page.click('#trials th[data-key="reward"]');
  await page.click('#trials tbody tr');
  await page.waitForFunction(() => {
    const img = document.querySelector<HTMLImageElement>('#detail-masks');
    return img !== null && img.complete && img.naturalWidth > 0;
  });
  mkdirSync(dirname(values.out!), { recursive: true });
  await page.screenshot({ path: values.out!, fullPage: true });
  process.stdout.write(`${values.out}\n`);
} finally {
  await browser.close();
  server.kill();
  await server.done;
}
