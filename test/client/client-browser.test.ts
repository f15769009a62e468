/**
 * The built client (dist/src/client/*.js, as `switchboard/client` ships it) in Debian's
 * chromium, driven by playwright-core: connect with a token, subscribe, receive, get
 * disconnected by the management API, and recover what was published meanwhile. Also the
 * runnable example of the README (examples/browser-client/), served by its own serve.js.
 *
 * Needs `npm run build` (or `npx tsc -p tsconfig.build.json`) first; `npm test` does it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { eventually, V1 } from '../support/harness.js';
import { useStarted } from '../support/scoped.js';
import { publish, startClientNode, startEchoBackend } from './support.js';
import { signToken } from '../support/tokens.js';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`client-browser.test.ts: ${CHROMIUM} does not exist, so the browser test is skipped`);
const DIST = join(import.meta.dirname, '../../dist/src/client');

/** What the page keeps on `window.__sb` for the test to read. */
interface PageState {
  ready: boolean;
  failure: string | null;
  connectionIds: string[];
  publications: { topic: string; offset: number; epoch: string; payload: unknown; recovered: boolean }[];
  recoveries: { topic: string; recovered: boolean; delivered: number }[];
  disconnects: { code: number; willReconnect: boolean }[];
  tokenCalls: number;
  holding: boolean;
}

const INDEX_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>switchboard client</title></head>
<body>
<script type="module">
  import { SwitchboardClient } from '/client/index.js';
  const query = new URLSearchParams(location.search);
  const state = { ready: false, failure: null, connectionIds: [], publications: [], recoveries: [], disconnects: [], tokenCalls: 0, holding: false };
  window.__sb = state;
  // The test sets hold() before it disconnects the client, and release() after publishing:
  // getToken waits in between, so the client stays away while publications are missed.
  let gate = null;
  window.__hold = () => { gate = new Promise((resolve) => { window.__release = () => { gate = null; resolve(); }; }); };
  const client = new SwitchboardClient({
    url: query.get('ws'),
    tenantId: query.get('tenantId'),
    userId: query.get('userId'),
    getToken: async () => {
      state.tokenCalls++;
      if (gate !== null) { state.holding = true; await gate; state.holding = false; }
      return query.get('token');
    },
    reconnect: { initialDelayMs: 20, maxDelayMs: 500, factor: 2, jitter: true },
    pingIntervalMs: 1000,
  });
  window.__client = client;
  client.on('connected', (e) => state.connectionIds.push(e.connectionId));
  client.on('disconnected', (e) => state.disconnects.push({ code: e.code, willReconnect: e.willReconnect }));
  client.on('recovered', (e) => state.recoveries.push({ topic: e.topic, recovered: e.recovered, delivered: e.delivered }));
  client.on('recoveryFailed', (e) => state.recoveries.push({ topic: e.topic, recovered: e.recovered, delivered: e.delivered }));
  try {
    await client.connect();
    await client.subscribe(query.get('topic'), (p) => state.publications.push({ topic: p.topic, offset: p.offset, epoch: p.epoch, payload: p.payload, recovered: p.recovered }));
    state.ready = true;
  } catch (err) {
    state.failure = String(err && err.stack || err);
  }
</script>
</body></html>`;

/** Serves index.html and dist/src/client/*.js under /client/, nothing else. */
async function startStaticServer(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(INDEX_HTML);
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    }
    const match = /^\/client\/([\w-]+\.js(?:\.map)?)$/.exec(path);
    const file = match === null ? undefined : join(DIST, match[1]!);
    if (file === undefined || !existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': file.endsWith('.map') ? 'application/json' : 'text/javascript; charset=utf-8' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close };
}

describe('SwitchboardClient in chromium', () => {
  it.skipIf(!hasChromium)(`recovers publications missed across a server-side disconnect (skipped only when ${CHROMIUM} is missing)`, async () => {
    if (!existsSync(join(DIST, 'index.js'))) {
      throw new Error(`${DIST}/index.js is missing: build first (npx tsc -p tsconfig.build.json; npm test does it)`);
    }
    const backend = await useStarted(startEchoBackend());
    const node = await useStarted(startClientNode(backend));
    const site = await useStarted(startStaticServer());
    const browser = await useStarted(chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    }));
    const page: Page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });

    const query = new URLSearchParams({
      ws: node.wsUrl('/rt'),
      tenantId: 'acme',
      userId: 'alice',
      token: await signToken('acme', 'alice'),
      topic: 'browser.feed',
    });
    await page.goto(`${site.url}/index.html?${query.toString()}`);
    const readState = (): Promise<PageState> => page.evaluate(() => (window as unknown as { __sb: PageState }).__sb);
    const ready = await eventually(readState, (s) => s.ready || s.failure !== null, 10_000);
    expect(ready.failure, `page failed: ${ready.failure}; page errors: ${pageErrors.join(' | ')}`).toBeNull();
    expect(ready.connectionIds).toHaveLength(1);

    const first = await publish(node, 'acme:browser.feed', JSON.stringify({ n: 1 }));
    expect(first.offset).toBe(1);
    await eventually(readState, (s) => s.publications.length === 1);

    // Hold the next token, disconnect, publish two while the page is away, let it back.
    await page.evaluate(() => (window as unknown as { __hold(): void }).__hold());
    const deleted = await node.api('DELETE', `${V1}/connections/${ready.connectionIds[0]}`);
    expect(deleted.status).toBe(200);
    await eventually(readState, (s) => s.holding, 5000);
    await publish(node, 'acme:browser.feed', JSON.stringify({ n: 2 }));
    await publish(node, 'acme:browser.feed', 'plain text 3');
    await page.evaluate(() => (window as unknown as { __release(): void }).__release());

    const recovered = await eventually(readState, (s) => s.recoveries.length === 1 && s.publications.length === 3, 10_000);
    expect(recovered.recoveries).toEqual([{ topic: 'acme:browser.feed', recovered: true, delivered: 2 }]);
    expect(recovered.connectionIds).toHaveLength(2);
    expect(recovered.connectionIds[1]).not.toBe(recovered.connectionIds[0]);
    expect(recovered.disconnects).toEqual([{ code: 1000, willReconnect: true }]);

    await publish(node, 'acme:browser.feed', JSON.stringify({ n: 4 }));
    const final = await eventually(readState, (s) => s.publications.length >= 4);
    // Let anything duplicated arrive before checking there is none.
    await page.evaluate(() => (window as unknown as { __client: { ping(): Promise<number> } }).__client.ping());
    const settled = await readState();
    expect(settled.publications).toEqual(final.publications);
    expect(settled.publications.map((p) => [p.offset, p.payload, p.recovered])).toEqual([
      [1, { n: 1 }, false],
      [2, { n: 2 }, true],
      [3, 'plain text 3', true],
      [4, { n: 4 }, false],
    ]);
    expect(new Set(settled.publications.map((p) => p.epoch)).size).toBe(1);
    expect(settled.tokenCalls).toBe(2);
    expect(pageErrors).toEqual([]);
  });

  it.skipIf(!hasChromium)('examples/browser-client connects, subscribes, receives, and recovers after a server-side disconnect', async () => {
    const exampleBackend = await useStarted(startEchoBackend());
    const exampleNode = await useStarted(startClientNode(exampleBackend));
    // A .js file of examples/, loaded as the README runs it: `node examples/browser-client/serve.js`.
    const serveModule = pathToFileURL(join(import.meta.dirname, '../../examples/browser-client/serve.js')).href;
    const { startExampleServer } = (await import(serveModule)) as { startExampleServer(port: number): Promise<{ url: string; close(): Promise<void> }> };
    const site = await useStarted(startExampleServer(0));
    const exampleBrowser = await useStarted(chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] }));
    const page = await exampleBrowser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (err) => pageErrors.push(err.message));
    const query = new URLSearchParams({ ws: exampleNode.wsUrl('/rt'), tenantId: 'acme', userId: 'bob', token: await signToken('acme', 'bob'), topic: 'news' });
    await page.goto(`${site.url}/?${query.toString()}`);
    const logLines = async (): Promise<string[]> => (await page.locator('#log').textContent() ?? '').split('\n').filter((line) => line !== '');

    const subscribed = await eventually(logLines, (lines) => lines.some((line) => /^(subscribed|failed)/.test(line)), 10_000);
    expect(subscribed, pageErrors.join(' | ')).toEqual([expect.stringMatching(/^connected \S+$/), 'subscribed acme:news at offset 0']);
    const connectionId = subscribed[0]!.slice('connected '.length);

    await publish(exampleNode, 'acme:news', JSON.stringify({ n: 1 }));
    await eventually(logLines, (lines) => lines.includes('publication acme:news #1: {"n":1}'));

    expect((await exampleNode.api('DELETE', `${V1}/connections/${connectionId}`)).status).toBe(200);
    const back = await eventually(logLines, (lines) => lines.some((line) => line.startsWith('recovered')), 10_000);
    expect(back.slice(3)).toEqual([
      expect.stringMatching(/^disconnected 1000, reconnecting in \d+ ms$/),
      expect.stringMatching(/^connected \S+ \(reconnected\)$/),
      'recovered acme:news: 0 missed',
    ]);
    await publish(exampleNode, 'acme:news', 'after the reconnect');
    await eventually(logLines, (lines) => lines.includes('publication acme:news #2: "after the reconnect"'));
    expect(pageErrors).toEqual([]);
  });
});
