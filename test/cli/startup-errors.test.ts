import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { suiteBackend } from '../support/scoped.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin', 'switchboard.js');

/** The test's environment without SWITCHBOARD_* variables, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('SWITCHBOARD_')) env[name] = value;
  return { ...env, ...extra };
}

/** Runs the CLI to its end (start-up failures end it); a start that succeeds is killed after `timeoutMs`. */
function run(args: string[], env = cleanEnv(), bin = BIN, timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

const FREE = ['--listen', '127.0.0.1:0', '--management-listen', '127.0.0.1:0'];

describe('start-up errors name the listener, the setting and the fix, and exit 2', { timeout: 30_000 }, () => {
  /** Only its port matters: a port something listens on. */
  const busy = suiteBackend();
  let busyPort: number;
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-startup-'));
    busyPort = Number(new URL(busy.url).port);
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a client port in use names --listen, the address and how to choose another', async () => {
    const r = await run(['start', '--listen', `127.0.0.1:${busyPort}`, '--management-listen', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `switchboard: --listen 127.0.0.1:${busyPort}: address already in use: another process listens there; choose another port with --listen or SWITCHBOARD_LISTEN`,
    );
    expect(r.stderr).not.toContain('EADDRINUSE');
  });

  it('a management port in use, set by a variable, names the variable', async () => {
    const r = await run(['start', '--listen', '127.0.0.1:0'], cleanEnv({ SWITCHBOARD_MANAGEMENT_LISTEN: `127.0.0.1:${busyPort}` }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`switchboard: SWITCHBOARD_MANAGEMENT_LISTEN=127.0.0.1:${busyPort}: address already in use`);
    expect(r.stderr).toContain('choose another port with --management-listen or SWITCHBOARD_MANAGEMENT_LISTEN');
  });

  it('a gRPC port in use, set in the config file, names the file and its key', async () => {
    const file = join(dir, 'grpc.yaml');
    writeFileSync(file, `grpc:\n  listen: 127.0.0.1:${busyPort}\n`);
    const r = await run(['start', '--config', file, ...FREE]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`switchboard: ${file}: grpc.listen 127.0.0.1:${busyPort}: address already in use`);
    expect(r.stderr).toContain(`with --grpc-listen or SWITCHBOARD_GRPC_LISTEN, or the key grpc.listen in ${file}`);
  });

  it('a listen host that does not resolve is named as such', async () => {
    const r = await run(['start', '--listen', 'no-such-host.invalid:0', '--management-listen', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('switchboard: --listen no-such-host.invalid:0: host not found');
  });

  it('a non-loopback management listener without API keys is a configuration error: exit 2, naming the flag', async () => {
    const r = await run(['start', '--listen', '127.0.0.1:0', '--management-listen', '0.0.0.0:0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('switchboard: --management-listen 0.0.0.0:0 is not a loopback address and no API key is configured: add --api-key');
  });

  it('a backplane host that does not resolve names --backplane and the host', async () => {
    const r = await run(['start', ...FREE, '--backplane', 'nats://999.1.1.1:4222']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('switchboard: --backplane nats://999.1.1.1:4222: host not found: 999.1.1.1 does not resolve; check the host in --backplane or SWITCHBOARD_BACKPLANE');
  });

  it('a backplane that refuses names the setting and hides the password in its URL', async () => {
    const closed = createServer();
    await new Promise<void>((ready) => closed.listen(0, '127.0.0.1', ready));
    const refusingPort = (closed.address() as { port: number }).port;
    await new Promise<void>((done) => closed.close(() => done()));
    const r = await run(['start', ...FREE], cleanEnv({ SWITCHBOARD_BACKPLANE: `nats://user:hunter2@127.0.0.1:${refusingPort}` }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`switchboard: SWITCHBOARD_BACKPLANE=nats://***@127.0.0.1:${refusingPort}: not reachable`);
    expect(r.stderr + r.stdout).not.toContain('hunter2');
  });

  it('a NATS URL pointing at something that is not NATS (it accepts, never speaks) still ends the start with 2', async () => {
    // e.g. --backplane nats://127.0.0.1:6379, a Redis: nats.js times out waiting for the
    // server's INFO and keeps that socket open, which used to hold the process forever.
    const held = new Set<Socket>();
    const silent = createServer((socket) => held.add(socket));
    await new Promise<void>((ready) => silent.listen(0, '127.0.0.1', ready));
    const silentPort = (silent.address() as { port: number }).port;
    try {
      const r = await run(['start', ...FREE, '--backplane', `nats://127.0.0.1:${silentPort}`], cleanEnv(), BIN, 12_000);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`switchboard: --backplane nats://127.0.0.1:${silentPort}: not reachable: no NATS server answered there`);
    } finally {
      for (const socket of held) socket.destroy();
      silent.close();
    }
  });

  it('a misspelt SWITCHBOARD_* variable is warned about, with the one it is close to', async () => {
    const r = await run(['start', '--listen', 'nonsense', '--management-listen', '127.0.0.1:0'], cleanEnv({ SWITCHBOARD_LISTN: '127.0.0.1:0', SWITCHBOARD_ENDPOINT: '127.0.0.1:1' }));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('switchboard: warning: SWITCHBOARD_LISTN is not a variable switchboard reads (did you mean SWITCHBOARD_LISTEN?); it is ignored');
    // The operator commands' own variable is one switchboard reads: one shell serves both.
    expect(r.stderr).not.toContain('SWITCHBOARD_ENDPOINT is not');
  });

  it('a configuration error (a bad flag value) exits 2 as well', async () => {
    const r = await run(['start', '--listen', 'nonsense', '--management-listen', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--listen');
  });

  it('a checkout without a build says so instead of a module-not-found stack, and exits 2', async () => {
    const checkout = join(dir, 'unbuilt');
    mkdirSync(join(checkout, 'bin'), { recursive: true });
    copyFileSync(BIN, join(checkout, 'bin', 'switchboard.js'));
    const r = await run(['--help'], cleanEnv(), join(checkout, 'bin', 'switchboard.js'));
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('switchboard: not built yet: run npm run build\n');
  });
});
