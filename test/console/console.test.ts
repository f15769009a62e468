/**
 * The web console end to end: the built page (dist/console) served by a node's management
 * listener at /console, driven in Debian's chromium by playwright-core. It signs in, sees a
 * test client's connection, sends to it, disconnects it, publishes to a topic a realtime
 * client is subscribed to, and never asks anything of another origin.
 *
 * Needs dist/console: `npm test` builds it first; when it is missing this file builds it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerConsole } from '../../src/console/index.js';
import { connectClient, eventually } from '../support/harness.js';
import { forSuite, suiteBackend, useClient, useStarted } from '../support/scoped.js';
import { connectRealtime, startRealtimeNode, topic, type RealtimeClient } from '../realtime-e2e/support.js';

const ROOT = join(import.meta.dirname, '../..');
const DIST = join(ROOT, 'dist/console');
const ARTIFACTS = join(ROOT, 'test-artifacts/console');
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`console.test.ts: ${CHROMIUM} does not exist, so the browser tests are skipped`);

const KEY = 'console-e2e-key-with-every-scope';
const USER_AGENT = 'console-e2e-agent/1.0';

describe('/console on the management listener (no browser)', () => {
  it('answers 503 with a hint to build when dist/console is missing', async () => {
    const app = Fastify();
    registerConsole(app, { root: join(tmpdir(), 'switchboard-console-not-built') });
    const page = await app.inject({ method: 'GET', url: '/console' });
    expect(page.statusCode).toBe(503);
    expect(page.json()).toMatchObject({ code: 14, message: expect.stringContaining('run `npm run build`') });
    const asset = await app.inject({ method: 'GET', url: '/console/assets/index-abc.js' });
    expect(asset.statusCode).toBe(503);
    await app.close();
  });

  it('serves the built files with their content types, and nothing outside them', async () => {
    const root = mkdtempSync(join(tmpdir(), 'switchboard-console-'));
    try {
      mkdirSync(join(root, 'assets'));
      writeFileSync(join(root, 'index.html'), '<!doctype html><title>console</title>');
      writeFileSync(join(root, 'assets/index-abc.js'), 'console.log(1)');
      writeFileSync(join(root, 'assets/index-abc.css'), 'body{}');
      writeFileSync(join(root, '.hidden'), 'secret');
      const app = Fastify();
      registerConsole(app, { root });
      for (const url of ['/console', '/console/', '/console/index.html']) {
        const page = await app.inject({ method: 'GET', url });
        expect(page.statusCode, url).toBe(200);
        expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
        expect(page.headers['cache-control']).toBe('no-cache');
        expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
        expect(page.body).toContain('<title>console</title>');
      }
      const script = await app.inject({ method: 'GET', url: '/console/assets/index-abc.js' });
      expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
      expect(script.headers['cache-control']).toContain('immutable');
      const style = await app.inject({ method: 'GET', url: '/console/assets/index-abc.css' });
      expect(style.headers['content-type']).toBe('text/css; charset=utf-8');
      for (const url of ['/console/..%2F..%2F..%2Fetc%2Fpasswd', '/console/assets/../../package.json', '/console/.hidden', '/console/assets/missing.js', '/console/assets']) {
        expect((await app.inject({ method: 'GET', url })).statusCode, url).toBe(404);
      }
      await app.close();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

// The browser and what it looks at start only where chromium is installed.
describe.skipIf(!hasChromium)('the web console in chromium', () => {
  beforeAll(() => {
    if (!existsSync(join(DIST, 'index.html'))) {
      execFileSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'console', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
    }
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 60_000);
  // A backend that takes ~20 ms, so the latency chart has something to show.
  const backend = suiteBackend((_request, res) => {
    setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      res.end('{"type":"chat-ack"}');
    }, 20);
  });
  const node = forSuite(() =>
    startRealtimeNode(
      {
        management: { apiKeys: [{ key: KEY, scopes: ['read', 'write', 'broadcast'] }] },
        topics: [topic('*')],
      },
      backend.url,
    ),
  );
  const raw = forSuite(() => connectClient(node.wsUrl('/raw'), { headers: { 'user-agent': USER_AGENT } }));
  const realtime = forSuite(async () => {
    const client = await connectRealtime(node, 'acme', 'alice');
    const subscribed = await client.request({ type: 'subscribe', data: { topic: 'news' } });
    expect(subscribed.type).toBe('subscribed');
    return client;
  });
  const browser = forSuite(() =>
    chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    }),
  );
  /** Connected by the charts test and counted by the later ones, so it lives as long as the block. */
  let chatty: RealtimeClient | undefined;
  let page: Page;
  const requests: string[] = [];
  const pageErrors: string[] = [];
  let rawId = '';

  beforeAll(async () => {
    rawId = String(raw.upgradeHeaders['x-yc-apigateway-websocket-connection-id']);
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (message) => {
      // A refused key and a deliberately bad payload show up as failed fetches; those are expected.
      if (message.type() === 'error' && !/status of (400|401|404)/.test(message.text())) pageErrors.push(message.text());
    });
  });

  afterAll(async () => {
    await chatty?.close();
  });

  const signIn = async (key: string): Promise<void> => {
    await page.getByLabel('Management API key').fill(key);
    await page.getByTestId('login-submit').click();
  };

  const confirm = async (): Promise<void> => {
    const dialog = page.getByTestId('confirm-dialog');
    await dialog.waitFor({ state: 'visible' });
    await page.getByTestId('confirm-ok').click();
    await dialog.waitFor({ state: 'detached' });
  };

  it.skipIf(!hasChromium)(`refuses a wrong key and keeps nothing (skipped only when ${CHROMIUM} is missing)`, async () => {
    const response = await page.goto(`${node.apiUrl}/console`);
    expect(response?.status()).toBe(200);
    await page.screenshot({ path: join(ARTIFACTS, 'login.png') });
    await signIn('not-the-key');
    const error = page.getByTestId('login-error');
    await expect.poll(() => error.textContent()).toContain('The API key was refused.');
    // The API's own answer, as it came.
    expect(await error.textContent()).toContain('HTTP 401');
    expect(await error.textContent()).toContain('API key is not valid');
    expect(await page.evaluate(() => [sessionStorage.length, localStorage.length])).toEqual([0, 0]);
    expect(await page.getByTestId('nav-connections').count()).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, 'login-refused.png') });
  });

  it.skipIf(!hasChromium)('signs in and shows the live connections with their details', async () => {
    await signIn(KEY);
    const row = page.locator(`tr[data-id="${rawId}"]`);
    await row.waitFor({ timeout: 10_000 });
    const cells = await row.locator('td').allTextContents();
    expect(cells[0]).toBe(rawId);
    expect(cells[1]).toBe('rt-gateway');
    expect(cells[4]).toBe('127.0.0.1');
    expect(cells[5]).toBe(USER_AGENT);
    const realtimeRow = page.locator(`tr[data-id="${realtime.connectionId}"]`);
    await realtimeRow.waitFor();
    const realtimeCells = await realtimeRow.locator('td').allTextContents();
    expect(realtimeCells.slice(2, 4)).toEqual(['acme', 'alice']);
    expect(realtimeCells[8]).toBe('acme:news');
    // The key lives in this tab's sessionStorage only.
    expect(await page.evaluate(() => [Object.values(sessionStorage), localStorage.length, document.cookie])).toEqual([[KEY], 0, '']);
    await page.screenshot({ path: join(ARTIFACTS, 'connections.png'), fullPage: true });

    // Filters go to the server: tenant acme leaves only the realtime client.
    await page.getByLabel('Tenant').fill('acme');
    await page.getByTestId('filter-apply').click();
    await expect.poll(() => page.locator('tbody[data-testid="connections-body"] tr').count()).toBe(1);
    expect(await realtimeRow.count()).toBe(1);
    expect(page.url()).toContain('tenantId=acme');
    await page.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => page.locator('tbody[data-testid="connections-body"] tr').count()).toBe(2);

    // Keyboard: the id is a real link, reached with Tab and followed with Enter.
    await page.locator(`tr[data-id="${rawId}"] a`).focus();
    await page.keyboard.press('Enter');
    await page.getByTestId('connection-record').getByText(USER_AGENT).waitFor();
    expect(await page.locator('h1').textContent()).toBe(`Connection ${rawId}`);
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('H1');
    const record = JSON.parse((await page.getByTestId('connection-json').textContent()) ?? '{}') as Record<string, unknown>;
    expect(record).toMatchObject({ id: rawId, gatewayId: 'rt-gateway', identity: { sourceIp: '127.0.0.1', userAgent: USER_AGENT }, subscriptions: [], isAlive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'connection-detail.png'), fullPage: true });
  });

  it.skipIf(!hasChromium)('sends text and binary to the connection after confirmation, and shows the API error as it came', async () => {
    await page.getByTestId('send-data').fill('hello from the console');
    await page.getByTestId('send-submit').click();
    // Cancelling sends nothing.
    await page.getByTestId('confirm-dialog').waitFor();
    await page.keyboard.press('Escape');
    await page.getByTestId('confirm-dialog').waitFor({ state: 'detached' });
    expect(await raw.silentFor(300)).toBe(true);

    await page.getByTestId('send-submit').click();
    await confirm();
    const text = await raw.next();
    expect(text).toMatchObject({ binary: false, text: 'hello from the console' });
    await expect.poll(() => page.getByTestId('send-outcome').textContent()).toContain(`Sent 22 bytes (TEXT) to ${rawId}`);

    await page.getByTestId('send-type-binary').check();
    await page.getByTestId('send-data').fill(Buffer.from([0, 1, 2, 254, 255]).toString('base64'));
    await page.getByTestId('send-submit').click();
    await confirm();
    const binary = await raw.next();
    expect(binary.binary).toBe(true);
    expect([...binary.data]).toEqual([0, 1, 2, 254, 255]);

    await page.getByTestId('send-data').fill('this is not base64!');
    await page.getByTestId('send-submit').click();
    await confirm();
    const outcome = page.getByTestId('send-outcome');
    await expect.poll(() => outcome.textContent()).toContain('HTTP 400');
    const body = await outcome.locator('pre').textContent();
    expect(JSON.parse(body ?? '')).toMatchObject({ code: 3, message: 'data is not valid base64' });
    expect(await raw.silentFor(200)).toBe(true);
  });

  it.skipIf(!hasChromium)('disconnects the connection after confirmation and it vanishes from the table', async () => {
    await page.getByTestId('disconnect-submit').click();
    await confirm();
    expect(await raw.closed).toEqual({ code: 1000, reason: '' });
    await expect.poll(() => page.getByTestId('connection-status').textContent(), { timeout: 10_000 }).toContain('gone');
    await page.getByTestId('nav-connections').click();
    await page.locator(`tr[data-id="${realtime.connectionId}"]`).waitFor();
    expect(await page.locator(`tr[data-id="${rawId}"]`).count()).toBe(0);
    const status = await page.getByTestId('connections-status').textContent();
    expect(status).toContain('1 connection on page 1');
  });

  it.skipIf(!hasChromium)('publishes to a topic and the subscribed client receives it; the topic view shows it', async () => {
    await page.getByTestId('nav-actions').click();
    await page.getByTestId('publish-topic').fill('acme:news');
    await page.getByTestId('publish-data').fill('breaking news');
    await page.getByTestId('publish-submit').click();
    await confirm();
    const envelope = await realtime.nextEnvelope();
    expect(envelope).toMatchObject({ type: 'publication', data: { topic: 'acme:news', offset: 1, payload: 'breaking news' } });
    await expect.poll(() => page.getByTestId('publish-outcome').textContent()).toContain('delivered to 1 connection');
    await page.screenshot({ path: join(ARTIFACTS, 'actions.png'), fullPage: true });

    await page.getByTestId('nav-topics').click();
    await page.getByRole('link', { name: 'acme:news' }).click();
    await expect.poll(() => page.getByTestId('topic-subscribers').textContent()).toBe('1');
    await expect.poll(() => page.getByTestId('topic-presence').textContent()).toContain('1 connection, 1 user');
    await expect.poll(() => page.getByTestId('topic-history').textContent()).toContain('breaking news');
    await page.screenshot({ path: join(ARTIFACTS, 'topic.png'), fullPage: true });
  });

  it.skipIf(!hasChromium)("charts connections, message rates and backend latency from every node's /metrics", async () => {
    await page.getByTestId('nav-charts').click();
    const legend = (chart: string, index: number): Promise<string | null> => page.locator(`[data-testid="chart-${chart}"] .legend-value`).nth(index).textContent();
    await eventually(() => legend('connections', 0), (v) => v === '1', 10_000);
    // A second client whose messages go to the HTTP backend, spread over a few scrapes.
    chatty = await connectRealtime(node, 'acme', 'bob', '/rt-http');
    for (let i = 0; i < 6; i++) {
      const answer = await chatty.request({ type: 'chat', data: { n: i } });
      expect(answer.type).toBe('chat-ack');
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
    await eventually(() => legend('connections', 0), (v) => v === '2', 10_000);
    const latency = await eventually(() => legend('latency', 0), (v) => v !== null && v !== '—', 10_000);
    // The backend answers after ~20 ms: the mean is at least that and far below a second.
    expect(latency).toMatch(/^\d+(\.\d+)? ms$/);
    expect(Number.parseFloat(latency!)).toBeGreaterThanOrEqual(15);
    const inRate = await eventually(() => page.locator('[data-testid="chart-messages"] path.series-a').getAttribute('d'), (d) => (d ?? '').includes('L'), 10_000);
    expect(inRate).toBeTruthy();
    // Every node's metrics, through the cluster route: on the memory backplane, the one node.
    expect(await page.getByTestId('charts-status').textContent()).toMatch(/^all 1 node · /);
    await page.screenshot({ path: join(ARTIFACTS, 'charts.png'), fullPage: true });
  });

  it.skipIf(!hasChromium)('pages through connections with the API page tokens', async () => {
    await Promise.all(Array.from({ length: 11 }, () => useClient(node.wsUrl('/raw'), { headers: { 'user-agent': 'pager' } })));
    await page.getByTestId('nav-connections').click();
    await page.getByLabel('Gateway').fill('rt-gateway');
    await page.getByTestId('filter-pageSize').selectOption('10');
    await page.getByTestId('filter-apply').click();
    const rows = page.locator('tbody[data-testid="connections-body"] tr');
    // 13 connections: alice, bob and the 11 above; 10 on the first page.
    await expect.poll(() => rows.count()).toBe(10);
    await expect.poll(() => page.getByTestId('page-next').isEnabled()).toBe(true);
    const first = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')));
    await page.getByTestId('page-next').click();
    await expect.poll(() => rows.count()).toBe(3);
    const second = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')));
    expect(second.filter((id) => first.includes(id))).toEqual([]);
    expect(await page.getByTestId('page-next').isDisabled()).toBe(true);
    expect(await page.getByTestId('connections-status').textContent()).toContain('3 connections on page 2');
    await page.getByTestId('page-previous').click();
    await expect.poll(() => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-id')))).toEqual(first);
  });

  it.skipIf(!hasChromium)("cuts a user off from the connection's page: every connection of the user closes with 4001", async () => {
    const mallory = [await useStarted(connectRealtime(node, 'globex', 'mallory')), await useStarted(connectRealtime(node, 'globex', 'mallory'))];
    const other = await useStarted(connectRealtime(node, 'acme', 'mallory'));
    await page.goto(`${node.apiUrl}/console/#/connections/${mallory[0]!.connectionId}`);
    const link = page.getByTestId('disconnect-user-link');
    await link.waitFor();
    await link.click();
    await expect.poll(() => page.getByTestId('disconnect-user').inputValue()).toBe('mallory');
    expect(await page.getByTestId('disconnect-user-tenant').inputValue()).toBe('globex');
    await page.getByTestId('disconnect-user-submit').click();
    await confirm();
    for (const client of mallory) expect(await client.closed).toEqual({ code: 4001, reason: 'user disconnected' });
    await expect.poll(() => page.getByTestId('disconnect-user-outcome').textContent()).toContain('Disconnected 2 connections of mallory');
    expect(await other.drain()).toEqual([]);
  });

  it.skipIf(!hasChromium)('fits a narrow screen and never leaves its own origin', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByTestId('nav-connections').click();
    await page.locator(`tr[data-id="${realtime.connectionId}"]`).waitFor();
    const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    expect(widths[0]).toBeLessThanOrEqual(widths[1]!);
    await page.screenshot({ path: join(ARTIFACTS, 'connections-narrow.png'), fullPage: true });

    const origin = new URL(node.apiUrl).origin;
    const foreign = requests.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin);
    expect(foreign).toEqual([]);
    expect(requests.some((url) => url.includes('/apigateways/websocket/v1/connections'))).toBe(true);
    expect(requests.some((url) => url.endsWith('/apigateways/websocket/v1/nodes/metrics'))).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
