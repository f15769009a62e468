import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadSettings, parseGatewaySpec } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';
import { connectClient, type SettingsOverrides, type TestBackend, type TestNode } from '../support/harness.js';
import { useBackend, useNode } from '../support/scoped.js';
import { rawRequest } from '../support/raw-http.js';

const MESSAGE = { 'x-yc-apigateway-websocket-message': { 'x-yc-apigateway-integration': { type: 'dummy', http_code: 200, content: 'ok' } } };

/** `/open` takes the global list, `/app` has its own, `/devices` allows no browser at all. */
function specYaml(connectUrl?: string): string {
  const connect = connectUrl ? { 'x-yc-apigateway-websocket-connect': { 'x-yc-apigateway-integration': { type: 'http', url: connectUrl } } } : {};
  return stringify({
    openapi: '3.0.0',
    info: { title: 'origins', version: '1' },
    'x-switchboard': { gatewayId: 'origins-gw' },
    paths: {
      '/open': { ...connect, ...MESSAGE },
      '/app': { ...connect, ...MESSAGE, 'x-switchboard-allowed-origins': ['https://app.example.com', 'https://*.example.org'] },
      '/devices': { ...connect, ...MESSAGE, 'x-switchboard-allowed-origins': [] },
    },
  });
}

describe('Origin allow-list', () => {
  async function start(edge: SettingsOverrides['edge'] = {}): Promise<{ port: number; node: TestNode; backend: TestBackend }> {
    const backend = await useBackend();
    const node = await useNode({ spec: specYaml(`${backend.url}/connect`), settings: { edge } });
    return { port: node.node.clientAddress.port, node, backend };
  }

  const status = async (port: number, target: string, origin?: string): Promise<number> =>
    (await rawRequest(port, target, origin === undefined ? {} : { headers: { Origin: origin } })).status;

  it('refuses a handshake from an origin off the global list with 403, before the connect backend hears of it', async () => {
    const { port, backend } = await start({ allowedOrigins: ['https://chat.example.com'] });
    const refused = await rawRequest(port, '/open', { headers: { Origin: 'https://evil.example' } });
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('not allowed');
    expect(await status(port, '/open', 'https://chat.example.com')).toBe(101);
    // Scheme and port are part of the origin.
    expect(await status(port, '/open', 'http://chat.example.com')).toBe(403);
    expect(await status(port, '/open', 'https://chat.example.com:8443')).toBe(403);
    expect(await status(port, '/open', 'HTTPS://Chat.Example.COM')).toBe(101);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(backend.requests.filter((r) => r.url.startsWith('/connect'))).toHaveLength(2);
  });

  it('lets a path\'s x-switchboard-allowed-origins replace the global list, wildcards matching subdomains only', async () => {
    const { port } = await start({ allowedOrigins: ['https://chat.example.com'] });
    expect(await status(port, '/app', 'https://app.example.com')).toBe(101);
    expect(await status(port, '/app', 'https://chat.example.com')).toBe(403);
    expect(await status(port, '/app', 'https://eu.cdn.example.org')).toBe(101);
    expect(await status(port, '/app', 'https://example.org')).toBe(403);
    expect(await status(port, '/app', 'https://evilexample.org')).toBe(403);
    expect(await status(port, '/app', 'https://x.example.org.evil.com')).toBe(403);
    expect(await status(port, '/app', 'https://x.example.org:444')).toBe(403);
    expect(await status(port, '/app', 'null')).toBe(403);
    // An empty list on a path admits no browser, only clients that send no Origin.
    expect(await status(port, '/devices', 'https://app.example.com')).toBe(403);
    expect(await status(port, '/devices')).toBe(101);
  });

  it('lets clients without an Origin header (non-browsers) in, unless edge.requireOrigin is set', async () => {
    const open = await start({ allowedOrigins: ['https://chat.example.com'] });
    expect(await status(open.port, '/open')).toBe(101);
    const client = await connectClient(open.node.wsUrl('/open'));
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    await client.close();
    const { port } = await start({ allowedOrigins: ['https://chat.example.com'], requireOrigin: true });
    const refused = await rawRequest(port, '/open');
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('Origin header is required');
    expect(await status(port, '/open', 'https://chat.example.com')).toBe(101);
  });

  it('allows any origin when no list is configured, and "*" allows any origin that is present', async () => {
    const anyList = await start();
    expect(await status(anyList.port, '/open', 'https://anything.example')).toBe(101);
    const { port } = await start({ allowedOrigins: ['*'], requireOrigin: true });
    expect(await status(port, '/open', 'https://anything.example')).toBe(101);
    expect(await status(port, '/open')).toBe(403);
  });

  it('counts refusals in switchboard_connect_rejections_total{reason="origin"}', async () => {
    const { port, node } = await start({ allowedOrigins: ['https://chat.example.com'] });
    await status(port, '/open', 'https://evil.example');
    const metrics = await node.api('GET', '/metrics');
    expect(metrics.text).toMatch(/switchboard_connect_rejections_total\{reason="origin"\} 1/);
  });
});

describe('origin lists are validated where they are written', () => {
  const tempDirs: string[] = [];
  afterEach(() => {
    for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });

  function settingsProblem(yaml: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-origins-'));
    tempDirs.push(dir);
    const file = path.join(dir, 'switchboard.yaml');
    fs.writeFileSync(file, yaml);
    try {
      loadSettings({ configFile: file, flags: {}, env: {} });
    } catch (err) {
      if (err instanceof ConfigError) return err.message.replace(file, 'FILE');
      throw err;
    }
    throw new Error('no ConfigError');
  }

  function specProblem(origins: unknown): string {
    const text = stringify({ openapi: '3.0.0', info: { title: 't', version: '1' }, paths: { '/chat/{room}': { ...MESSAGE, 'x-switchboard-allowed-origins': origins } } });
    try {
      parseGatewaySpec(text, 'spec.yaml');
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      throw err;
    }
    throw new Error('no ConfigError');
  }

  it('normalises entries in the settings: case, default ports, duplicates', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-origins-'));
    tempDirs.push(dir);
    const file = path.join(dir, 'switchboard.yaml');
    fs.writeFileSync(file, 'edge:\n  allowedOrigins: ["HTTPS://App.Example.com:443", "https://app.example.com", "http://*.Example.org:8080"]\n  requireOrigin: true\n');
    expect(loadSettings({ configFile: file, flags: {}, env: {} }).edge).toEqual({
      allowedOrigins: ['https://app.example.com', 'http://*.example.org:8080'],
      requireOrigin: true,
    });
  });

  it.each([
    ['a path', '["https://app.example.com/"]', 'FILE: edge.allowedOrigins[0]: must be an origin such as https://app.example.com or https://*.example.com (scheme, host and optional port; no path), or "*", got "https://app.example.com/"'],
    ['another scheme', '["ftp://x.example"]', 'FILE: edge.allowedOrigins[0]: must be an origin such as https://app.example.com or https://*.example.com (scheme, host and optional port; no path), or "*", got "ftp://x.example"'],
    ['the null origin', '["https://a.example", "null"]', 'FILE: edge.allowedOrigins[1]: "null" cannot be allowed: sandboxed frames and file:// pages send it, so any page could claim it'],
    ['a wildcard over a top-level domain', '["https://*.com"]', 'FILE: edge.allowedOrigins[0]: a wildcard needs a domain of at least two labels below it (e.g. https://*.example.com), got "https://*.com"'],
    ['a wildcard inside a label', '["https://app*.example.com"]', 'FILE: edge.allowedOrigins[0]: must be an origin such as https://app.example.com or https://*.example.com (scheme, host and optional port; no path), or "*", got "https://app*.example.com"'],
    ['a string instead of a list', '"https://a.example"', 'FILE: edge.allowedOrigins: must be a list, got "https://a.example"'],
  ])('settings: %s is an error naming the entry', (_name, value, message) => {
    expect(settingsProblem(`edge:\n  allowedOrigins: ${value}\n`)).toBe(message);
  });

  it('settings: requireOrigin must be a boolean', () => {
    expect(settingsProblem('edge:\n  requireOrigin: sometimes\n')).toBe('FILE: edge.requireOrigin: must be true or false, got "sometimes"');
  });

  it('spec: a bad entry names the path and the extension', () => {
    expect(specProblem(['https://ok.example', 'https://bad.example/path'])).toBe(
      'spec.yaml: paths./chat/{room}.x-switchboard-allowed-origins[1]: must be an origin such as https://app.example.com or https://*.example.com (scheme, host and optional port; no path), or "*", got "https://bad.example/path"',
    );
    expect(specProblem('https://ok.example')).toBe('spec.yaml: paths./chat/{room}.x-switchboard-allowed-origins: must be a list, got "https://ok.example"');
  });

  it('spec: a valid list is kept, normalised, on the route', () => {
    const text = stringify({ openapi: '3.0.0', info: { title: 't', version: '1' }, paths: { '/a': { ...MESSAGE, 'x-switchboard-allowed-origins': ['https://A.example:443', '*'] } } });
    expect(parseGatewaySpec(text, 'spec.yaml').routes[0]!.allowedOrigins).toEqual(['https://a.example', '*']);
  });
});
