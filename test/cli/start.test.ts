import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, startBackend, type TestBackend } from '../support/harness.js';
import { dummy, http, specYaml } from '../support/fixtures.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin', 'switchboard.js');

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The test's environment without SWITCHBOARD_* variables, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('SWITCHBOARD_')) env[name] = value;
  return { ...env, ...extra };
}

function run(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Run {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Resolves with the first JSON log line whose msg matches. */
async function logLine(r: Run, msg: string, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of r.stdout().split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === msg) return entry;
    }
    if (r.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`no "${msg}" log line; stdout: ${r.stdout()} stderr: ${r.stderr()}`);
    }
    await new Promise((res) => setTimeout(res, 25));
  }
}

describe('the switchboard CLI', () => {
  let dir: string;
  let backend: TestBackend | undefined;
  const runs: Run[] = [];

  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'src', 'cli', 'index.js'))) {
      throw new Error('dist/ is missing: run `npm run build` (npm test builds before it runs vitest)');
    }
  });

  afterEach(async () => {
    for (const r of runs.splice(0)) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        r.child.kill('SIGKILL');
        await r.exit;
      }
    }
    await backend?.close();
    backend = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function tempFile(name: string, text: string): string {
    dir ??= mkdtempSync(join(tmpdir(), 'switchboard-cli-'));
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  it('start serves a spec, and SIGTERM closes clients with 1001, calls the disconnect backend and exits 0', async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-cli-'));
    backend = await startBackend();
    const spec = tempFile('gateway.yaml', specYaml({ '/ws': { message: dummy('pong'), disconnect: http(`${backend.url}/disconnect`) } }));
    const r = run(['start', '--listen', '127.0.0.1:0', '--management-listen', '127.0.0.1:0', '--spec', spec, '--log-level', 'info']);
    runs.push(r);
    const started = await logLine(r, 'switchboard node started');
    expect(started.gateways).toEqual(['test-gw']);
    const port = Number(String(started.client).split(':').pop());
    const client = await connectClient(`ws://127.0.0.1:${port}/ws`);
    client.ws.send('ping');
    expect((await client.next()).text).toBe('pong');
    const id = client.upgradeHeaders['x-yc-apigateway-websocket-connection-id'];

    r.child.kill('SIGTERM');
    expect((await client.closed).code).toBe(1001);
    const exit = await r.exit;
    expect(exit, r.stderr()).toEqual({ code: 0, signal: null });
    const call = backend.requests.find((req) => req.url === '/disconnect');
    expect(call?.headers['x-yc-apigateway-websocket-connection-id']).toBe(id);
    expect(call?.headers['x-yc-apigateway-websocket-disconnect-status-code']).toBe('1001');
  });

  it('exits non-zero on a bad spec, naming the file, the JSON path and the problem', async () => {
    dir = mkdtempSync(join(tmpdir(), 'switchboard-cli-'));
    const bad = specYaml({ '/ws': { message: { type: 'http', method: 'POST' } } });
    const spec = tempFile('broken-gateway.yaml', bad);
    const r = run(['start', '--listen', '127.0.0.1:0', '--management-listen', '127.0.0.1:0', '--spec', spec]);
    runs.push(r);
    const exit = await r.exit;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    const stderr = r.stderr();
    expect(stderr).toContain(spec);
    expect(stderr).toContain('paths./ws.x-yc-apigateway-websocket-message.x-yc-apigateway-integration.url');
    expect(stderr).toMatch(/is required/);
  });

  it('start --help lists every flag', async () => {
    const r = run(['start', '--help']);
    runs.push(r);
    const exit = await r.exit;
    expect(exit.code).toBe(0);
    const help = r.stdout();
    for (const flag of ['--config', '--spec', '--listen', '--management-listen', '--api-key', '--backplane', '--node-id', '--grpc-listen', '--log-level', '--help']) {
      expect(help, flag).toContain(flag);
    }
  });

  it('exits non-zero on a bad flag value, naming the flag', async () => {
    const r = run(['start', '--listen', 'nonsense', '--management-listen', '127.0.0.1:0']);
    runs.push(r);
    const exit = await r.exit;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(r.stderr()).toContain('--listen');
    expect(r.stderr()).toContain('nonsense');
  });

  it('exits non-zero on an unknown flag and on a log level it does not know', async () => {
    const unknown = run(['start', '--frobnicate']);
    runs.push(unknown);
    expect((await unknown.exit).code).not.toBe(0);
    expect(unknown.stderr()).toContain('--frobnicate');
    const level = run(['start', '--log-level', 'loud']);
    runs.push(level);
    expect((await level.exit).code).not.toBe(0);
    expect(level.stderr()).toContain('--log-level');
  });

  it('treats an empty SWITCHBOARD_CONFIG as unset', async () => {
    const r = run(['start', '--listen', '127.0.0.1:0', '--management-listen', '127.0.0.1:0', '--log-level', 'info'], cleanEnv({ SWITCHBOARD_CONFIG: '' }));
    runs.push(r);
    const started = await logLine(r, 'switchboard node started');
    expect(started.gateways).toEqual(['demo']);
    r.child.kill('SIGTERM');
    expect((await r.exit).code).toBe(0);
  });
});
