// The dashboard in a real browser: Debian's chromium driven by playwright-core,
// against a real study database made by small searches (tiny MNIST children,
// trained inline) and a real compare database, served by the real CLI.
// Checked: the page loads with no error; every chart holds as many points as
// the database has (per trial, best so far, validation curves with the pruned
// trial stopped, the controller's updates, the parallel coordinates); a trial
// finished while the page is open appears without a reload (the search is
// resumed once the page has shown its first snapshot: events, not timers);
// the mask pictures load; the table sorts and filters; a trial's pattern
// downloads and validates; a compare database (made-up outcomes: nothing
// trains) shows its results table and chart. A screenshot is saved to dist/test/dashboard/dashboard.png.
// Skipped, saying so, where /usr/bin/chromium is missing (./setup installs it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { loadPatternFile } from '../../src/patterns/io.js';
import { runSearch } from '../../src/search/coordinator.js';
import { InlineExecutor, type Executor } from '../../src/search/executors/index.js';
import { createSearchProgress } from '../../src/search/progress.js';
import { SearchStore } from '../../src/search/store.js';
import type { StudyConfig } from '../../src/search/types.js';
import type { Snapshot } from '../../src/dashboard/snapshot.js';
import { compareStudyConfig, type CompareSetup } from '../../src/compare/run.js';
import { getPreset } from '../../src/patterns/presets.js';
import { Study } from '../../src/search/study.js';
import { cliPath, HANG_GUARD_MS, tempDir } from '../helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing: install Debian's chromium (./setup does) to run the browser tests`;
const quiet = createSearchProgress({ quiet: true });
const child = { task: 'mnist' as const, model: 'wrn-10-1', epochs: 2, trainLimit: 256, valSize: 256, childSeed: 0 };
const screenshotDir = fileURLToPath(new URL('.', import.meta.url));

function config(name: string, over: Partial<StudyConfig> = {}): StudyConfig {
  return { name, strategy: 'random', space: 'tile', trials: 2, seed: 1, child, updateEvery: 2, prune: 'none', codeVersion: 'test', ...over };
}

/** The inline executor, with trial `pruneId` stopped after its first epoch (as the median rule would stop it). */
function pruning(pruneId: number): Executor {
  const inner = new InlineExecutor();
  return {
    kind: inner.kind,
    capacity: inner.capacity,
    run: (spec, events) =>
      inner.run(spec, {
        ...events,
        onEpoch: async (r) => {
          const decision = await events.onEpoch(r);
          return spec.trialId === pruneId && r.epoch === 1 ? 'stop' : decision;
        },
      }),
    close: () => inner.close(),
  };
}

interface Served {
  proc: ChildProcess;
  url: string;
  stderr: () => string;
  /** SIGINT, then the exit code. */
  stop(): Promise<number | null>;
}

/** `autodropout dashboard --db DB --port 0`, resolved once it prints its URL. */
function serve(db: string): Promise<Served> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [cliPath, 'dashboard', '--db', db, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const guard = setTimeout(() => proc.kill('SIGKILL'), HANG_GUARD_MS);
    let out = '';
    let err = '';
    const exited = new Promise<number | null>((r) => proc.on('close', (code) => (clearTimeout(guard), r(code))));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    proc.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /(http:\/\/\S+)/.exec(out);
      if (m) resolve({ proc, url: m[1], stderr: () => err, stop: () => (proc.kill('SIGINT'), exited) });
    });
    void exited.then((code) => reject(new Error(`dashboard exited with ${code} before serving: ${err}`)));
  });
}

async function launch(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
}

/** The page's snapshot count and errors; resolves once the first snapshot is drawn. */
async function open(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
  // A busy machine may be slow: waits end on the page's state; the timeout is only a hang guard.
  page.setDefaultTimeout(HANG_GUARD_MS);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as unknown as { dashboard?: { updates: number } }).dashboard?.updates === 1, null, { timeout: HANG_GUARD_MS });
  return { page, errors };
}

/** Non-null values of each series of a uPlot chart on the page (series 0 is x). */
const seriesCounts = (page: Page, id: string): Promise<number[]> =>
  page.evaluate((chart) => {
    const u = (globalThis as unknown as { dashboard: { charts: Record<string, { data: (number | null)[][] }> } }).dashboard.charts[chart];
    return u.data.slice(1).map((s) => s.filter((v) => v !== null && v !== undefined).length);
  }, id);

const snapshotOf = (page: Page): Promise<Snapshot> => page.evaluate(() => (globalThis as unknown as { dashboard: { snapshot: Snapshot } }).dashboard.snapshot);

/** What the database says the charts must hold, per study in file order. */
function expected(db: string) {
  const store = SearchStore.open(db, { readonly: true });
  try {
    return store.listStudies().map((s) => {
      const trials = store.trials(s.id);
      return {
        name: s.name,
        told: trials.filter((t) => t.tellOrder !== null).length,
        withReward: trials.filter((t) => t.tellOrder !== null && t.reward !== null).length,
        withEpochs: trials.filter((t) => store.epochs(t.id).length > 0).map((t) => ({ id: t.id, epochs: store.epochs(t.id).length, state: t.state })),
        updates: store.checkpoints(s.id).filter((c) => c.stats !== null).length,
      };
    });
  } finally {
    store.close();
  }
}

test('dashboard in chromium: charts match the database, a new trial appears live, pictures load, the table sorts, a pattern downloads', { skip }, async (t) => {
  const dir = tempDir('dashboard-');
  const db = join(dir, 'study.db');
  const rl = config('rl', { strategy: 'rl', trials: 3, controller: { layers: 1, dim: 16, heads: 2 } });
  await runSearch(rl, { db, workers: 1, executor: pruning(2), progress: quiet, handleSignals: false });
  await runSearch(config('random'), { db, workers: 1, executor: 'inline', progress: quiet, handleSignals: false });
  const served = await serve(db);
  const browser = await launch();
  let stopped: number | null = null;
  try {
    const { page, errors } = await open(browser, served.url);
    await page.evaluate(() => ((globalThis as unknown as { loadedOnce: boolean }).loadedOnce = true));
    const want = expected(db);
    assert.deepEqual(
      want.map((s) => [s.name, s.told]),
      [
        ['rl', 3],
        ['random', 2],
      ],
    );

    // Metric per trial and best so far: two series per study, as many points as trials told (with a reward).
    const check = async (studies: ReturnType<typeof expected>) => {
      const perTrial = studies.flatMap((s) => [s.withReward, s.told]);
      assert.deepEqual(await seriesCounts(page, 'chart-trials'), perTrial, 'chart-trials: per trial, best so far');
      assert.deepEqual(await seriesCounts(page, 'chart-epochs'), perTrial, 'chart-epochs: per trial, best so far');
      // rl's curves (the default study): one series per trial with epochs, as many points as epochs recorded.
      assert.deepEqual(
        await seriesCounts(page, 'chart-curves'),
        studies[0].withEpochs.map((x) => x.epochs),
      );
      assert.deepEqual(await seriesCounts(page, 'chart-entropy'), [studies[0].updates]);
      assert.deepEqual(await seriesCounts(page, 'chart-baseline'), [studies[0].updates, studies[0].updates]);
      const lines = await page.evaluate(() => {
        const ec = (globalThis as unknown as { dashboard: { parallel: { getOption(): { series: { data: unknown[] }[]; parallelAxis: unknown[] } } } }).dashboard.parallel.getOption();
        return { lines: ec.series[0].data.length, axes: ec.parallelAxis.length };
      });
      assert.deepEqual(lines, { lines: studies[0].withReward, axes: 9 }, 'parallel coordinates: a line per rl trial with a reward; 8 tokens of the first conv slot + the metric');
    };
    assert.ok(want[0].updates >= 1, 'the rl controller updated');
    await check(want);
    // The pruned trial stopped after epoch 1 of 2 and is drawn dashed.
    const pruned = await page.evaluate(() => {
      const u = (globalThis as unknown as { dashboard: { charts: Record<string, { series: { label?: string; dash?: number[] }[] }> } }).dashboard.charts['chart-curves'];
      return u.series.filter((s) => s.dash !== undefined).map((s) => s.label);
    });
    assert.deepEqual(pruned, ['trial 2 (pruned after epoch 1)']);
    assert.deepEqual(want[0].withEpochs.find((x) => x.id === 2), { id: 2, epochs: 1, state: 'pruned' });

    // A trial finished after the page opened appears without a reload.
    await runSearch({ ...rl, trials: 4 }, { db, resume: true, workers: 1, executor: 'inline', progress: quiet, handleSignals: false });
    // Snapshots taken while it ran may show the 4th trial asked or running: wait for the one with it told.
    await page.waitForFunction(() => (globalThis as unknown as { dashboard: { snapshot: Snapshot } }).dashboard.snapshot.studies[0].trials.filter((x) => x.told !== null).length === 4, null, {
      timeout: HANG_GUARD_MS,
    });
    const after = expected(db);
    assert.equal(after[0].told, 4);
    await check(after);
    assert.equal(await page.evaluate(() => (globalThis as unknown as { loadedOnce?: boolean }).loadedOnce), true, 'the page was not reloaded');
    assert.equal(await page.locator('#trials tbody tr').count(), 6);
    const newest = (await snapshotOf(page)).studies[0].trials.at(-1)!;
    assert.equal(await page.locator(`#trials tbody tr[data-trial="${newest.id}"]`).count(), 1, 'the new trial has its row');

    // The table sorts by validation (ascending, then descending) and filters by state.
    const column = async (n: number) => page.locator(`#trials tbody tr td:nth-child(${n})`).allTextContents();
    await page.click('#trials th[data-key="reward"]');
    const up = (await column(5)).map(Number);
    assert.deepEqual(up, [...up].sort((a, b) => a - b), 'ascending');
    await page.click('#trials th[data-key="reward"]');
    const down = (await column(5)).map(Number);
    assert.deepEqual(down, [...up].sort((a, b) => b - a), 'descending');
    assert.equal(await page.getAttribute('#trials th[data-key="reward"]', 'aria-sort'), 'descending');
    await page.selectOption('#state-filter', 'pruned');
    assert.deepEqual(await column(2), ['2']);
    await page.selectOption('#state-filter', '');

    // A trial's detail: its mask pictures load, and its pattern downloads and validates.
    await page.click(`#trials tbody tr[data-trial="${newest.id}"]`);
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('#detail-masks');
      return img !== null && img.complete && img.naturalWidth > 0 && img.src.endsWith('/masks.png');
    });
    assert.match((await page.textContent('#detail-title')) ?? '', new RegExp(`^Trial ${newest.id} of rl: done`));
    assert.match((await page.textContent('#detail-tokens')) ?? '', /stage1\.block1\.bn1: size=\S+ stride=/);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#detail-download')]);
    assert.equal(download.suggestedFilename(), `rl-trial-${newest.id}.json`);
    const file = loadPatternFile((await download.path())!);
    assert.equal(file.provenance?.trialId, newest.id);
    assert.equal(file.provenance?.search, `${db}#rl`);
    const store = SearchStore.open(db, { readonly: true });
    try {
      assert.deepEqual(file.slots, store.getTrial(newest.id)!.pattern.slots, 'the trial\'s own pattern');
    } finally {
      store.close();
    }

    mkdirSync(screenshotDir, { recursive: true });
    await page.screenshot({ path: join(screenshotDir, 'dashboard.png'), fullPage: true });
    t.diagnostic(`screenshot: ${join(screenshotDir, 'dashboard.png')}`);
    assert.deepEqual(errors, [], 'no page error, failed request or console error');
  } finally {
    await browser.close();
    stopped = await served.stop();
  }
  assert.equal(stopped, 0, `the dashboard exits 0 on SIGINT: ${served.stderr()}`);
});

test('dashboard in chromium: a compare database shows its results table (mean ± std over seeds) and its chart', { skip }, async () => {
  // A compare database as `compare` lays it out (compareStudyConfig), with made-up test accuracies: nothing trains.
  const db = join(tempDir('dashboard-compare-'), 'compare.db');
  const accuracies: Record<string, [number, number]> = { none: [0.9, 0.92], dropout: [0.93, 0.95] };
  const setup: CompareSetup = {
    child: { ...child, epochs: 1 },
    patterns: Object.keys(accuracies).map((name) => ({ label: name, role: 'baseline' as const, fixed: name, file: getPreset(name), source: `preset:${name}` })),
    grids: [],
    seeds: 2,
    codeVersion: 'test',
  };
  for (const p of setup.patterns) {
    const s = Study.open(db, compareStudyConfig(setup, p.label, p.fixed, { trials: 2, evaluateTest: true }));
    for (const acc of accuracies[p.label]) {
      const q = s.ask();
      s.markRunning(q.trialId, 'w');
      s.tell(q.trialId, { state: 'done', reward: acc - 0.01, val: { loss: 1, accuracy: acc - 0.01 }, trainSeconds: 1, test: { loss: 1, accuracy: acc } });
    }
    s.close();
  }
  const served = await serve(db);
  const browser = await launch();
  let stopped: number | null = null;
  try {
    const { page, errors } = await open(browser, served.url);
    assert.equal(await page.isVisible('#compare'), true);
    assert.equal(await page.locator('#compare-table tr').count(), 3, 'a header and a row per pattern');
    const cells = async (n: number) => page.locator(`#compare-table tr:nth-child(${n}) td`).allTextContents();
    assert.deepEqual(await cells(2), ['none', 'baseline', '2', '91.00% ± 1.41%', '90.00%', '92.00%']);
    assert.deepEqual(await cells(3), ['dropout (best baseline)', 'baseline', '2', '94.00% ± 1.41%', '93.00%', '95.00%']);
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('#compare-chart');
      return img !== null && img.complete && img.naturalWidth > 0;
    });
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    stopped = await served.stop();
  }
  assert.equal(stopped, 0, served.stderr());
});
