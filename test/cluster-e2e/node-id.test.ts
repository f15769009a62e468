/**
 * `switchboard start` with a node id a live node already holds on the backplane: exits with
 * code 2 and a message naming the id and the live node (its listen address and pid), while the
 * first node goes on serving. Real processes on a private redis-server and nats-server.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { startNodeProcess, transpileSources, type NodeProcess, type SourceBuild } from '../support/node-process.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { nodeProcessFiles } from './support.js';

/** Runs `switchboard start …` to its end; the duplicate is expected to exit by itself at once. */
function runToExit(build: SourceBuild, args: string[]): Promise<{ code: number | null; stderr: string }> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('SWITCHBOARD_')) env[name] = value;
  const child = spawn(process.execPath, [build.cli, 'start', ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

const listeners = ['--listen', '127.0.0.1:0', '--management-listen', '127.0.0.1:0'];

describe('a second node with a live node’s id', () => {
  let build: SourceBuild;
  let redis: RedisServer;
  let nats: NatsServer;
  let files: Awaited<ReturnType<typeof nodeProcessFiles>>;
  const flags = (url: string, nodeId: string): string[] => ['--config', files.config, ...listeners, '--backplane', url, '--node-id', nodeId];

  beforeAll(async () => {
    [build, redis, nats, files] = await Promise.all([transpileSources(), startRedisServer(), startNatsServer(), nodeProcessFiles()]);
  });
  afterAll(async () => {
    await Promise.allSettled([build?.remove(), redis?.stop(), nats?.stop(), files?.remove()]);
  });

  for (const kind of ['redis', 'nats'] as const) {
    it(`refuses to start on ${kind}: exit code 2 naming the id and the holder, and the first keeps serving`, async () => {
      const url = kind === 'redis' ? redis.url : nats.url;
      const nodeId = `dup-${kind}`;
      let first: NodeProcess | undefined;
      try {
        first = await startNodeProcess(build, flags(url, nodeId));
        const second = await runToExit(build, flags(url, nodeId));
        expect(second.code).toBe(2);
        expect(second.stderr).toContain('configuration error');
        expect(second.stderr).toContain(`node id "${nodeId}" is held by a live node`);
        expect(second.stderr).toContain(`pid ${first.pid}`);
        expect(second.stderr).toContain('listen 127.0.0.1:0');
        const health = await fetch(`${first.apiUrl}/apigateways/websocket/v1/connections`);
        expect(health.status).toBe(200);
      } finally {
        await first?.close();
      }
    });
  }
});
