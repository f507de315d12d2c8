// The dashboard's event stream without a browser: a page is sent a snapshot
// when the file changes in a way the page shows, and only a small `read`
// event when it does not (a heartbeat), so an open page redraws nothing while
// a child trains between epochs. Waits are on events, never on timers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { DashboardServer } from '../../src/dashboard/server.js';
import type { Snapshot } from '../../src/dashboard/snapshot.js';
import { Study } from '../../src/search/study.js';
import type { StudyConfig } from '../../src/search/types.js';
import { tempDir } from '../helpers.js';

const config: StudyConfig = {
  name: 'events',
  strategy: 'random',
  space: 'tile',
  trials: 2,
  seed: 1,
  child: { task: 'mnist', model: 'wrn-10-1', epochs: 2, trainLimit: 256, valSize: 256, childSeed: 0 },
  updateEvery: 2,
  prune: 'none',
  codeVersion: 'test',
};

/** The server-sent events of one stream, in order; next() resolves with the next one not yet taken. */
async function events(url: string): Promise<{ next(): Promise<{ event: string; data: string }>; close(): void }> {
  const ac = new AbortController();
  const res = await fetch(url, { signal: ac.signal });
  const queue: { event: string; data: string }[] = [];
  const waiters: ((e: { event: string; data: string }) => void)[] = [];
  void (async () => {
    let buf = '';
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (event === undefined || data === undefined) continue; // keep-alive comments, retry lines
          const e = { event, data };
          const w = waiters.shift();
          if (w) w(e);
          else queue.push(e);
        }
      }
    } catch {
      // aborted
    }
  })();
  return {
    next: () => new Promise((resolve) => (queue.length ? resolve(queue.shift()!) : waiters.push(resolve))),
    close: () => ac.abort(),
  };
}

test('the event stream: a heartbeat is only a read event (nothing to redraw); an epoch recorded is a new snapshot', async () => {
  const db = join(tempDir(), 'events.db');
  const study = Study.open(db, config);
  const server = await DashboardServer.start({ db, host: '127.0.0.1', port: 0, pollMs: 20 });
  const stream = await events(`${server.url}api/events`);
  try {
    const p = study.ask();
    study.markRunning(p.trialId, 'w1');
    // The first event is the snapshot as the page opened (it may already show the trial running).
    let first = await stream.next();
    assert.equal(first.event, 'snapshot');
    while ((JSON.parse(first.data) as Snapshot).studies[0].trials[0]?.state !== 'running') {
      first = await stream.next();
      assert.equal(first.event, 'snapshot', 'asking and starting a trial change what the page shows');
    }

    study.heartbeat(p.trialId);
    const beat = await stream.next();
    assert.equal(beat.event, 'read', 'a heartbeat changes nothing the page shows');
    assert.ok(Number(beat.data) >= (JSON.parse(first.data) as Snapshot).read);

    study.recordEpoch(p.trialId, { epoch: 1, value: 0.5, trainLoss: 1, val: { loss: 1, accuracy: 0.5 }, seconds: 1 });
    const epoch = await stream.next();
    assert.equal(epoch.event, 'snapshot');
    assert.deepEqual((JSON.parse(epoch.data) as Snapshot).studies[0].trials[0].epochs, [{ epoch: 1, value: 0.5 }]);
  } finally {
    stream.close();
    await server.close();
    study.close();
  }
});
