/**
 * The shipped settings files: examples/switchboard.yaml is the defaults written out (every
 * key present, every value the built-in default, so the file cannot drift from the code) and
 * starts a node as it is; examples/cluster.yaml loads with its one variable set.
 */
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { defaultSettings, formatHostPort, loadSettings, type Settings } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';
import { connectClient, eventually } from '../support/harness.js';

const root = path.resolve(import.meta.dirname, '../..');
const EXAMPLE = path.join(root, 'examples/switchboard.yaml');
const CLUSTER = path.join(root, 'examples/cluster.yaml');

/** The defaults in the file's own shape: HOST:PORT strings, `spec` for specs, no empty `auth`. */
function defaultsAsWritten(settings: Settings): Record<string, unknown> {
  const { listen, specs, management, auth, ...rest } = settings;
  return {
    ...rest,
    listen: formatHostPort(listen),
    spec: specs,
    management: { ...management, listen: formatHostPort(management.listen) },
    ...(Object.keys(auth).length > 0 ? { auth } : {}),
  };
}

describe('examples/switchboard.yaml', () => {
  it('writes out every setting with its built-in default (the parsed file equals the defaults)', () => {
    const written = parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
    expect(written).toEqual(defaultsAsWritten(defaultSettings()));
  });

  it('loads, with no environment variable set, to exactly the defaults', () => {
    expect(loadSettings({ configFile: EXAMPLE, flags: {}, env: {} })).toEqual(defaultSettings());
  });
});

describe('examples/cluster.yaml', () => {
  it('loads with SWITCHBOARD_API_KEY set: the demo spec, one key with every scope, news history', () => {
    const settings = loadSettings({ configFile: CLUSTER, flags: {}, env: { SWITCHBOARD_API_KEY: 'k'.repeat(32) } });
    expect(settings.specs).toEqual([path.join(root, 'examples/demo-gateway.yaml')]);
    expect(settings.management.apiKeys).toEqual([{ key: 'k'.repeat(32), scopes: ['read', 'write', 'broadcast'] }]);
    expect(settings.topics.map((topic) => topic.pattern)).toEqual(['*:news']);
  });

  it('without it, the error names the variable and the key', () => {
    expect(() => loadSettings({ configFile: CLUSTER, flags: {}, env: {} })).toThrow(ConfigError);
    expect(() => loadSettings({ configFile: CLUSTER, flags: {}, env: {} })).toThrow(
      'management.apiKeys[0].key: environment variable SWITCHBOARD_API_KEY is not set',
    );
  });
});

describe('node bin/switchboard.js start --config examples/switchboard.yaml (needs npm run build)', () => {
  it('starts as shipped and serves the demo', async () => {
    // Only the ports are overridden: the file's own 8080/8081 may be taken on a test machine.
    const [clientPort, managementPort] = [await freePort(), await freePort()];
    const child = spawn(
      process.execPath,
      [path.join(root, 'bin/switchboard.js'), 'start', '--config', EXAMPLE, '--listen', `127.0.0.1:${clientPort}`, '--management-listen', `127.0.0.1:${managementPort}`],
      { cwd: root, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await eventually(
        () => fetch(`http://127.0.0.1:${managementPort}/healthz`).then((r) => r.status, () => (child.exitCode !== null ? -1 : 0)),
        (status) => status === 200 || status === -1,
        10_000,
      );
      expect(child.exitCode, output).toBeNull();
      const client = await connectClient(`ws://127.0.0.1:${clientPort}/demo`);
      try {
        expect(JSON.parse((await client.next()).text)).toEqual({ type: 'welcome', message: 'connected to the Switchboard demo' });
      } finally {
        await client.close();
      }
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    }
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
