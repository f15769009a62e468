import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { switchboardProgram } from '../../src/cli/index.js';
import { connectClient, eventually, type TestClient } from '../support/harness.js';
import { forSuite, suiteNode } from '../support/scoped.js';
import { connectRealtime, startRealtimeNode } from '../realtime-e2e/support.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'switchboard.js');

function run(args: string[], input?: string, env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SWITCHBOARD_')));
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...inherited, ...env } });
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
  let client: TestClient;
  let id: string;
  let endpoint: string;
  const key = 'operator-key';
  const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));

  const node = suiteNode({
    spec: SPEC,
    settings: {
      management: { apiKeys: [{ key, scopes: ['read', 'write', 'broadcast'] }] },
      topics: [{ pattern: 'acme:*', historySize: 10, historyTtlSeconds: 300, presence: true, joinLeave: false }],
    },
  });
  beforeAll(async () => {
    endpoint = node.apiUrl;
    client = await connectClient(node.wsUrl('/ws'));
    id = String(client.upgradeHeaders['x-yc-apigateway-websocket-connection-id']);
  });

  afterAll(async () => {
    await client.close();
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
    // Byte for byte, as the README says: the newline `echo` adds is part of the message.
    expect((await run(['connections', 'send', id, ...common()], 'echoed\n')).code).toBe(0);
    expect((await client.next()).text).toBe('echoed\n');
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
    const missingFile = await run(['connections', 'send', id, ...common(), '--file', '/nonexistent/message.json']);
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr).toContain('cannot read --file /nonexistent/message.json: file not found');
    const directory = await run(['connections', 'send', id, ...common(), '--file', tmpdir()]);
    expect(directory.code).toBe(2);
    expect(directory.stderr).toContain(`cannot read --file ${tmpdir()}: is a directory, not a file`);
    const badKey = await run(['connections', 'list', '--endpoint', endpoint, '--api-key', 'wrong']);
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toContain('UNAUTHENTICATED');
    const unreachable = await run(['connections', 'list', '--endpoint', 'http://127.0.0.1:1', '--api-key', key]);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toContain('cannot reach the management API at http://127.0.0.1:1');
    const closed = createServer();
    await new Promise<void>((ready) => closed.listen(0, '127.0.0.1', ready));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((done) => closed.close(done));
    const refused = await run(['connections', 'list', '--endpoint', `127.0.0.1:${closedPort}`, '--api-key', key]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain(
      `cannot reach the management API at http://127.0.0.1:${closedPort}: connection refused: nothing listens there (is the gateway running? point --endpoint or SWITCHBOARD_ENDPOINT at its management listener)`,
    );
  });

  it('a number flag that is not a whole number in range is bad usage named by the flag (exit 2), before any request', async () => {
    // The unreachable endpoint proves no request was made: that would exit 3.
    const nowhere = ['--endpoint', 'http://127.0.0.1:1'];
    const pageSize = await run(['connections', 'list', ...nowhere, '--page-size', 'abc']);
    expect(pageSize.code).toBe(2);
    expect(pageSize.stderr).toContain("option '--page-size <n>' argument 'abc' is invalid. must be a whole number from 1 to 1000.");
    const limit = await run(['topics', 'history', 'acme:news', ...nowhere, '--limit', '-1']);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain("option '--limit <n>' argument '-1' is invalid. must be a whole number from 1 to 10000.");
    const since = await run(['topics', 'history', 'acme:news', ...nowhere, '--since-offset', '3x']);
    expect(since.code).toBe(2);
    expect(since.stderr).toContain("option '--since-offset <n>' argument '3x' is invalid.");
  });

  it('takes --type in any case, as the API spells it (TEXT, BINARY) or in lower case', async () => {
    expect((await run(['connections', 'send', id, ...common(), '--data', 'upper', '--type', 'TEXT'])).code).toBe(0);
    expect(await client.next()).toMatchObject({ text: 'upper', binary: false });
    expect((await run(['connections', 'send', id, ...common(), '--data', 'bin', '--type', 'Binary'])).code).toBe(0);
    expect((await client.next()).binary).toBe(true);
    const bad = await run(['connections', 'send', id, ...common(), '--data', 'x', '--type', 'json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('must be TEXT or BINARY');
  });

  it('takes --endpoint as HOST:PORT as well as a URL, and names a bad one', async () => {
    const hostPort = endpoint.replace(/^http:\/\//, '');
    const result = await run(['connections', 'list', '--endpoint', hostPort, '--api-key', key, '-o', 'json']);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).connections.map((c: { id: string }) => c.id)).toEqual([id]);
    const bad = await run(['connections', 'list', '--endpoint', 'ftp://x:1', '--api-key', key]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--endpoint ftp://x:1: must be an http:// or https:// URL or HOST:PORT');
  });

  it("reads the key from SWITCHBOARD_API_KEY, else the first of the node's SWITCHBOARD_API_KEYS; a 401 says where to put it", async () => {
    const fromKeys = await run(['connections', 'list', '--endpoint', endpoint, '-o', 'json'], undefined, { SWITCHBOARD_API_KEYS: `${key},another` });
    expect(fromKeys.code, fromKeys.stderr).toBe(0);
    const none = await run(['connections', 'list', '--endpoint', endpoint]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('UNAUTHENTICATED (HTTP 401)');
    expect(none.stderr).toContain('no API key was given: pass --api-key KEY or set SWITCHBOARD_API_KEY');
    const wrong = await run(['connections', 'list', '--endpoint', endpoint], undefined, { SWITCHBOARD_API_KEY: 'wrong' });
    expect(wrong.stderr).toContain('check --api-key or SWITCHBOARD_API_KEY');
  });

  it('refuses an empty message (empty standard input, empty --data) unless --allow-empty', async () => {
    const piped = await run(['connections', 'send', id, ...common()], '');
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain('no message: standard input was empty');
    expect(piped.stderr).toContain('--allow-empty');
    const data = await run(['topics', 'publish', 'acme:news', ...common(), '--data', '']);
    expect(data.code).toBe(2);
    expect(data.stderr).toContain('no message: --data is empty');
    expect((await run(['connections', 'send', id, ...common(), '--allow-empty'], '')).code).toBe(0);
    expect(await client.next()).toMatchObject({ text: '', binary: false });
  });

  it('subscribes and unsubscribes a connection, server-side', async () => {
    const subscribed = await run(['connections', 'subscribe', id, 'acme:alerts', ...common(), '-o', 'json']);
    expect(subscribed.code, subscribed.stderr).toBe(0);
    expect(JSON.parse(subscribed.stdout)).toMatchObject({ topic: 'acme:alerts', offset: 0 });
    const list = await run(['connections', 'list', ...common(), '--topic', 'acme:alerts', '-o', 'json']);
    expect(JSON.parse(list.stdout).connections.map((c: { id: string }) => c.id)).toEqual([id]);
    expect((await run(['connections', 'unsubscribe', id, 'acme:alerts', ...common()])).code).toBe(0);
    const after = await run(['connections', 'list', ...common(), '--topic', 'acme:alerts', '-o', 'json']);
    expect(JSON.parse(after.stdout).connections).toEqual([]);
  });

  it('disconnects a connection', async () => {
    expect((await run(['connections', 'disconnect', id, ...common()])).code).toBe(0);
    expect((await client.closed).code).toBe(1000);
    await eventually(() => run(['connections', 'list', ...common(), '-o', 'json']), (r) => JSON.parse(r.stdout).connections.length === 0);
  });
});

describe('operator commands that reach users and tenants', () => {
  const key = 'broadcast-key';

  const node = forSuite(() => startRealtimeNode({ management: { apiKeys: [{ key, scopes: ['read', 'write', 'broadcast'] }] } }));

  it('users send reaches every connection of a user (optionally of one tenant); tenants broadcast every connection of a tenant', async () => {
    const alice = await connectRealtime(node, 'acme', 'alice');
    const bob = await connectRealtime(node, 'acme', 'bob');
    try {
      const common = ['--endpoint', node.apiUrl, '--api-key', key, '-o', 'json'];
      const sent = await run(['users', 'send', 'alice', '--tenant-id', 'acme', '--data', 'for alice', ...common]);
      expect(sent.code, sent.stderr).toBe(0);
      expect(JSON.parse(sent.stdout)).toEqual({ delivered: 1 });
      expect((await alice.next()).text).toBe('for alice');
      const broadcast = await run(['tenants', 'broadcast', 'acme', '--type', 'text', ...common], 'for everyone');
      expect(broadcast.code, broadcast.stderr).toBe(0);
      expect(JSON.parse(broadcast.stdout)).toEqual({ delivered: 2 });
      expect((await alice.next()).text).toBe('for everyone');
      expect((await bob.next()).text).toBe('for everyone');
      const nobody = await run(['users', 'send', 'nobody', '--data', 'x', ...common]);
      expect(JSON.parse(nobody.stdout)).toEqual({ delivered: 0 });
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});

describe('users disconnect', () => {
  const node = forSuite(() => startRealtimeNode({
    management: { apiKeys: [{ key: 'admin-key', scopes: ['read', 'write'] }, { key: 'acme-key', scopes: ['write'], tenantId: 'acme' }] },
  }));

  it('closes every connection of the user (of one tenant with --tenant-id) with 4001 and prints how many', async () => {
    const acme = [await connectRealtime(node, 'acme', 'alice'), await connectRealtime(node, 'acme', 'alice')];
    const globex = await connectRealtime(node, 'globex', 'alice');
    try {
      const common = ['--endpoint', node.apiUrl, '--api-key', 'admin-key'];
      const scoped = await run(['users', 'disconnect', 'alice', '--tenant-id', 'acme', ...common, '-o', 'json']);
      expect(scoped.code, scoped.stderr).toBe(0);
      expect(JSON.parse(scoped.stdout)).toEqual({ disconnected: 2 });
      for (const client of acme) expect(await client.closed).toEqual({ code: 4001, reason: 'user disconnected' });
      const refused = await run(['users', 'disconnect', 'alice', '--tenant-id', 'globex', '--endpoint', node.apiUrl, '--api-key', 'acme-key']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('this API key reaches only its own tenant');
      expect(await globex.drain()).toEqual([]);
      const all = await run(['users', 'disconnect', 'alice', ...common]);
      expect(all.code, all.stderr).toBe(0);
      expect(JSON.parse(all.stdout)).toEqual({ disconnected: 1 });
      expect((await globex.closed).code).toBe(4001);
    } finally {
      await Promise.all([...acme, globex].map((c) => c.close()));
    }
  });
});

describe('help', () => {
  it('describes every command, argument and option', () => {
    const undescribed: string[] = [];
    const visit = (command: Command, path: string): void => {
      if (command.description() === '') undescribed.push(path);
      for (const argument of command.registeredArguments) if (argument.description === '') undescribed.push(`${path} <${argument.name()}>`);
      for (const option of command.options) if (option.description === '') undescribed.push(`${path} ${option.flags}`);
      for (const sub of command.commands) visit(sub, `${path} ${sub.name()}`);
    };
    const program = switchboardProgram();
    visit(program, 'switchboard');
    expect(undescribed).toEqual([]);
    expect(program.commands.map((c) => c.name())).toEqual(['start', 'connect', 'connections', 'topics', 'users', 'tenants']);
  });

  it('names each variable once: commander adds "(env: NAME)" to an option that reads one', () => {
    const repeated: string[] = [];
    const visit = (command: Command, path: string): void => {
      for (const option of command.options) if (option.envVar !== undefined && option.description.includes(`[env ${option.envVar}`)) repeated.push(`${path} ${option.flags}`);
      for (const sub of command.commands) visit(sub, `${path} ${sub.name()}`);
    };
    visit(switchboardProgram(), 'switchboard');
    expect(repeated).toEqual([]);
  });
});
