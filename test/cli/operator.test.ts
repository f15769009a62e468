import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, eventually, startTestNode, type TestClient, type TestNode } from '../support/harness.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'switchboard.js');

function run(args: string[], input?: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

const SPEC = `
openapi: 3.0.0
info: {title: cli, version: '1'}
x-switchboard: {gatewayId: cli}
paths:
  /ws:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration: {type: dummy, http_code: 200, content: ''}
`;

describe('operator commands', () => {
  let node: TestNode;
  let client: TestClient;
  let id: string;
  let endpoint: string;
  const key = 'operator-key';
  const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));

  beforeAll(async () => {
    node = await startTestNode({ spec: SPEC, settings: {
        management: { apiKeys: [{ key, scopes: ['read', 'write', 'broadcast'] }] },
        topics: [{ pattern: 'acme:*', historySize: 10, historyTtlSeconds: 300, presence: true, joinLeave: false }],
      },
    });
    endpoint = node.apiUrl;
    client = await connectClient(node.wsUrl('/ws'));
    id = String(client.upgradeHeaders['x-yc-apigateway-websocket-connection-id']);
  });

  afterAll(async () => {
    await client.close();
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const common = (): string[] => ['--endpoint', endpoint, '--api-key', key];

  it('lists connections as JSON and as a table', async () => {
    const json = await run(['connections', 'list', ...common(), '-o', 'json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).connections.map((c: { id: string }) => c.id)).toEqual([id]);
    const table = await run(['connections', 'list', ...common(), '-o', 'table']);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+GATEWAYID/);
    expect(table.stdout).toContain(id);
  });

  it('gets one connection with the API key from the environment', async () => {
    const result = await run(['connections', 'get', id, '--endpoint', endpoint, '-o', 'json'], undefined, { SWITCHBOARD_API_KEY: key });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ id, gatewayId: 'cli' });
  });

  it('sends --data as text, a --file as binary and standard input', async () => {
    expect((await run(['connections', 'send', id, ...common(), '--data', 'from the cli'])).code).toBe(0);
    expect(await client.next()).toMatchObject({ text: 'from the cli', binary: false });
    const file = join(dir, 'blob.bin');
    writeFileSync(file, Buffer.from([0, 1, 2, 255]));
    expect((await run(['connections', 'send', id, ...common(), '--file', file, '--type', 'binary'])).code).toBe(0);
    const binary = await client.next();
    expect(binary.binary).toBe(true);
    expect([...binary.data]).toEqual([0, 1, 2, 255]);
    expect((await run(['connections', 'send', id, ...common()], 'piped in')).code).toBe(0);
    expect((await client.next()).text).toBe('piped in');
  });

  it('publishes to a topic and reads its presence and history', async () => {
    expect((await node.api('POST', `/apigateways/websocket/v1/connections/${id}:subscribe`, { topic: 'acme:news' }, { authorization: `Bearer ${key}` })).status).toBe(200);
    const published = await run(['topics', 'publish', 'acme:news', ...common(), '--data', 'headline', '-o', 'json']);
    expect(published.code).toBe(0);
    expect(JSON.parse(published.stdout)).toMatchObject({ delivered: 1 });
    expect((await client.next()).text).toBe('headline');
    const presence = await run(['topics', 'presence', 'acme:news', ...common(), '-o', 'json']);
    expect(JSON.parse(presence.stdout).connections).toEqual([{ connectionId: id }]);
    const history = await run(['topics', 'history', 'acme:news', ...common(), '-o', 'json']);
    expect(history.code).toBe(0);
    expect(JSON.parse(history.stdout).publications).toMatchObject([{ offset: 1, type: 'TEXT', data: Buffer.from('headline').toString('base64') }]);
  });

  it('exits 1 with the API error for an unknown connection, 2 for bad usage, 3 when the endpoint is unreachable', async () => {
    const missing = await run(['connections', 'get', 'nope', ...common()]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('NOT_FOUND (HTTP 404)');
    const both = await run(['connections', 'send', id, ...common(), '--data', 'x', '--file', 'y']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('either --data or --file');
    const badKey = await run(['connections', 'list', '--endpoint', endpoint, '--api-key', 'wrong']);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain('UNAUTHENTICATED');
    const unreachable = await run(['connections', 'list', '--endpoint', 'http://127.0.0.1:1', '--api-key', key]);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain('cannot reach the management API at http://127.0.0.1:1');
  });

  it('disconnects a connection', async () => {
    expect((await run(['connections', 'disconnect', id, ...common()])).code).toBe(0);
    expect((await client.closed).code).toBe(1000);
    await eventually(() => run(['connections', 'list', ...common(), '-o', 'json']), (r) => JSON.parse(r.stdout).connections.length === 0);
  });
});
