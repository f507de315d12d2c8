// `autodropout dashboard`: a web page over a search (or compare) database,
// served on loopback by default, live while a search writes the file.
//
// Read-only, and never in the coordinator's way: the file is opened read-only
// in WAL mode, where readers never block the single writer (store.ts). The
// server polls SQLite's data_version (one pragma, no table read) only while a
// page is open, and reads a new snapshot (snapshot.ts) only when another
// connection committed since the last one; every open page gets it as a
// server-sent event when it shows something new (a heartbeat does not: the
// pages then get a small `read` event). The page's scripts and chart libraries (uPlot, ECharts)
// are served from the installed packages: the page needs no network.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { galleryItems, PICTURE_OPTIONS, slug } from '../report/report.js';
import { formatPattern, formatPatternFile } from '../patterns/io.js';
import { renderGallery } from '../patterns/render.js';
import { trialPatternFile } from '../search/status.js';
import { SearchStore } from '../search/store.js';
import { pageHtml } from './page.js';
import { readSnapshot, slotCache, type Snapshot } from './snapshot.js';

export interface DashboardOptions {
  db: string;
  host: string;
  /** 0: any free port. */
  port: number;
  /** How often data_version is polled while a page is open (default 1000 ms). */
  pollMs?: number;
  /** Where a failed read is reported (default stderr). */
  warn?: (line: string) => void;
}

/** Why the server could not listen, naming the flag at fault. */
export class ListenError extends Error {}

const require_ = createRequire(import.meta.url);

/** The files the page loads, by URL: the bundled chart libraries and the page's own script. */
const ASSETS: Record<string, { file: () => string; type: string }> = {
  '/assets/uPlot.iife.min.js': { file: () => require_.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript' },
  '/assets/uPlot.min.css': { file: () => require_.resolve('uplot/dist/uPlot.min.css'), type: 'text/css' },
  '/assets/echarts.min.js': { file: () => require_.resolve('echarts/dist/echarts.min.js'), type: 'text/javascript' },
  '/assets/app.js': { file: () => fileURLToPath(new URL('./client/app.js', import.meta.url)), type: 'text/javascript' },
};

/** Loopback names and addresses: anything else serves the page beyond this machine. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

export class DashboardServer {
  private readonly server: Server;
  private readonly clients = new Set<ServerResponse>();
  private readonly slotsOf = slotCache();
  private readonly assets = new Map<string, Buffer>();
  /** The last snapshot read; `content`: its JSON without the read time, to tell a change the page shows from one it does not. */
  private snapshot: { version: number; data: Snapshot; json: string; content: string } | null = null;
  private reading: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private keepAlive: NodeJS.Timeout | null = null;
  url = '';

  private constructor(
    private readonly store: SearchStore,
    private readonly o: DashboardOptions,
  ) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) this.send(res, 500, 'text/plain; charset=utf-8', `dashboard: ${(e as Error).message}\n`);
        else res.end();
      });
    });
  }

  /** Opens the database read-only, reads it once, and listens. */
  static async start(o: DashboardOptions): Promise<DashboardServer> {
    const store = SearchStore.open(o.db, { readonly: true });
    const d = new DashboardServer(store, o);
    try {
      await d.refresh();
      await d.listen();
    } catch (e) {
      store.close();
      throw e;
    }
    return d;
  }

  private listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', (e: NodeJS.ErrnoException) => {
        const where = `${this.o.host}:${this.o.port}`;
        if (e.code === 'EADDRINUSE') reject(new ListenError(`--port ${this.o.port}: ${where} is in use by another program; pick another --port (0 picks a free one)`));
        else if (e.code === 'EACCES') reject(new ListenError(`--port ${this.o.port}: this user may not listen on ${where} (ports below 1024 need privileges); pick a port from 1024 up`));
        else if (e.code === 'ENOTFOUND' || e.code === 'EADDRNOTAVAIL' || e.code === 'EAI_AGAIN') {
          reject(new ListenError(`--host ${this.o.host}: not an address of this machine (${e.code}); give 127.0.0.1 (the default), or an address of one of its interfaces`));
        } else reject(e);
      });
      this.server.listen(this.o.port, this.o.host, () => {
        const a = this.server.address() as AddressInfo;
        const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        this.url = `http://${host}:${a.port}/`;
        resolve();
      });
    });
  }

  /** Reads a new snapshot when the file changed since the last one (or when there is none); one read at a time. */
  private refresh(): Promise<void> {
    // .finally runs after the assignment even when the read finds nothing new and returns at once.
    this.reading ??= this.readIfChanged().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async readIfChanged(): Promise<void> {
    const version = this.store.dataVersion();
    if (this.snapshot && this.snapshot.version === version) return;
    const data = await readSnapshot(this.store, { slotsOf: this.slotsOf });
    const content = JSON.stringify({ ...data, read: 0 });
    const same = this.snapshot?.content === content;
    this.snapshot = { version, data, json: JSON.stringify(data), content };
    // Most commits while a child trains are heartbeats, which the page does not show: the open
    // pages then only hear that the file was read (their 'live' line), and redraw nothing.
    const event = same ? `event: read\ndata: ${data.read}\n\n` : `event: snapshot\ndata: ${this.snapshot.json}\n\n`;
    for (const c of this.clients) c.write(event);
  }

  /** Polls while a page is open; a failed read (e.g. a moment of SQLITE_BUSY) is reported and tried again at the next poll. */
  private watch(): void {
    if (this.timer || this.clients.size === 0) return;
    this.timer = setInterval(() => {
      this.refresh().catch((e: unknown) => (this.o.warn ?? ((l) => process.stderr.write(`${l}\n`)))(`dashboard: reading ${this.o.db} failed, trying again: ${(e as Error).message}`));
    }, this.o.pollMs ?? 1000);
    // Proxies close a silent stream: a comment line now and then keeps it open.
    this.keepAlive = setInterval(() => {
      for (const c of this.clients) c.write(': keep-alive\n\n');
    }, 15_000);
  }

  private unwatch(): void {
    if (this.clients.size > 0) return;
    if (this.timer) clearInterval(this.timer);
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.timer = this.keepAlive = null;
  }

  private send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
    res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers });
    res.end(body);
  }

  private asset(path: string): Buffer {
    let b = this.assets.get(path);
    if (!b) {
      b = readFileSync(ASSETS[path].file());
      this.assets.set(path, b);
    }
    return b;
  }

  /** The trial with this id in the file, with its study. */
  private trial(id: number) {
    const t = Number.isSafeInteger(id) ? this.store.getTrial(id) : null;
    return t ? { t, s: this.store.getStudyById(t.studyId) } : null;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, 'text/plain; charset=utf-8', 'read-only: GET only\n', { Allow: 'GET, HEAD' });
    if (path === '/') return this.send(res, 200, 'text/html; charset=utf-8', pageHtml(this.o.db));
    if (Object.hasOwn(ASSETS, path)) return this.send(res, 200, `${ASSETS[path].type}; charset=utf-8`, this.asset(path));
    if (path === '/api/snapshot') {
      await this.refresh();
      return this.send(res, 200, 'application/json', this.snapshot!.json);
    }
    if (path === '/api/events') {
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
      await this.refresh();
      res.write(`retry: 2000\nevent: snapshot\ndata: ${this.snapshot!.json}\n\n`);
      this.clients.add(res);
      // The response's close (the page went away), not the request's: a GET's request stream closes as soon as it is read.
      res.on('close', () => {
        this.clients.delete(res);
        this.unwatch();
      });
      this.watch();
      return;
    }
    if (path === '/api/compare.svg') {
      await this.refresh();
      const compare = this.snapshot!.data.compare;
      if (!compare) return this.send(res, 404, 'text/plain; charset=utf-8', 'not a compare database\n');
      const [{ resultsChart }, { chartSvg }] = await Promise.all([import('../compare/results.js'), import('../report/chart.js')]);
      return this.send(res, 200, 'image/svg+xml', await chartSvg(resultsChart(compare)));
    }
    const m = /^\/api\/trials\/(\d+)(\/masks\.png|\/pattern\.json)?$/.exec(path);
    if (m) {
      const found = this.trial(Number(m[1]));
      if (!found) return this.send(res, 404, 'text/plain; charset=utf-8', `no trial ${m[1]} in ${this.o.db}\n`);
      const { t, s } = found;
      if (m[2] === '/masks.png') return this.send(res, 200, 'image/png', renderGallery(galleryItems(t.pattern), PICTURE_OPTIONS), { 'Cache-Control': 'max-age=3600' });
      if (m[2] === '/pattern.json') {
        const file = trialPatternFile(this.store, s, t);
        return this.send(res, 200, 'application/json', formatPatternFile(file, `trial ${t.id}`), {
          'Content-Disposition': `attachment; filename="${slug(s.name)}-trial-${t.id}.json"`,
        });
      }
      const patternLines = Object.entries(t.pattern.slots).map(([a, p]) => `${a}: ${formatPattern(p)}`);
      if (t.pattern.schedule && t.pattern.schedule.kind !== 'constant') patternLines.push(`schedule: ${JSON.stringify(t.pattern.schedule)}`);
      return this.send(res, 200, 'application/json', JSON.stringify({ study: s.name, trial: t, patternLines, events: this.store.events(t.id) }));
    }
    return this.send(res, 404, 'text/plain; charset=utf-8', `no page ${path}\n`);
  }

  /** Stops listening, ends every open event stream and closes the database. */
  async close(): Promise<void> {
    for (const c of this.clients) c.end();
    this.clients.clear();
    this.unwatch();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
    await this.reading?.catch(() => {});
    this.store.close();
  }
}
