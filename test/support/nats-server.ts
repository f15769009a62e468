/**
 * A private nats-server with JetStream for one test file: loopback only, a free port and a
 * fresh store directory, never the shared server on 4222. `halt()` and `restart()` play an
 * outage (the store survives, as on a real restart); `stop()` ends it for good and removes
 * the store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsServer {
  /** `nats://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** Kills the server (SIGTERM, then SIGKILL) and removes its store. */
  stop(): Promise<void>;
  /** Kills the server but keeps its port and store for restart(). */
  halt(): Promise<void>;
  /** Starts the server again on the same port and store (halting it first if it runs). */
  restart(): Promise<void>;
}

const READY_TIMEOUT_MS = 10_000;
const TERM_GRACE_MS = 3_000;

export async function startNatsServer(): Promise<NatsServer> {
  const storeDir = await mkdtemp(join(tmpdir(), 'switchboard-nats-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  try {
    child = await launch(port, storeDir);
  } catch (err) {
    await rm(storeDir, { recursive: true, force: true });
    throw err;
  }
  const halt = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running !== undefined) await kill(running);
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    halt,
    async restart() {
      await halt();
      child = await launch(port, storeDir);
    },
    async stop() {
      await halt();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}

/** Binds port 0 on loopback, reads the port the kernel chose, lets it go. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

async function launch(port: number, storeDir: string): Promise<ChildProcess> {
  const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    if (output.length < 64 * 1024) output += chunk;
  });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`nats-server exited (${code ?? signal}) before it was ready:\n${output}`)));
  });
  exited.catch(() => undefined);
  try {
    await Promise.race([waitReady(port, () => output.includes('Server is ready')), exited]);
  } catch (err) {
    await kill(child);
    throw err;
  }
  return child;
}

/** Ready once the log says so (JetStream has loaded its store) and the port accepts a connection. */
async function waitReady(port: number, logged: () => boolean): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (logged() && (await accepts(port))) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nats-server on 127.0.0.1:${port} not ready within ${READY_TIMEOUT_MS} ms`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const graceOver = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), TERM_GRACE_MS);
  });
  if ((await Promise.race([exited, graceOver])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}
