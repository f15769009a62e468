/**
 * Nodes, backends and clients that stop themselves. `use*` is called inside a test (or a
 * beforeEach) and stops what it started when that test finishes; `suite*` is called in a
 * describe block, starts before the block's tests and stops after them. Teardown runs in the
 * reverse order of starting, so a client closes before its node and a node before its backend.
 */
import { afterAll, beforeAll, onTestFinished } from 'vitest';
import type WebSocket from 'ws';
import {
  connectClient,
  startBackend,
  startTestNode,
  type BackendHandler,
  type TestBackend,
  type TestClient,
  type TestNode,
} from './harness.js';
import { startRedisServer } from './redis-server.js';

export type NodeOptions = Parameters<typeof startTestNode>[0];

interface Stoppable {
  close(): Promise<void> | void;
}

/** Awaits `starting` and registers its close() to run when the current test finishes. */
export async function useStarted<T extends Stoppable>(starting: T | Promise<T>): Promise<T> {
  const started = await starting;
  onTestFinished(async () => {
    await started.close();
  });
  return started;
}

/**
 * Registers `start` to run before the describe block's tests and close() after them; returns
 * a stand-in that reads through to what started, so it is read inside tests only.
 */
export function forSuite<T extends Stoppable>(start: () => Promise<T>): T {
  let started: T | undefined;
  beforeAll(async () => {
    started = await start();
  });
  afterAll(async () => {
    await started?.close();
    started = undefined;
  });
  const current = (): T => {
    if (started === undefined) throw new Error('read outside the tests of the suite that starts it (before beforeAll or after afterAll)');
    return started;
  };
  return new Proxy({} as T, {
    get: (_target, key) => Reflect.get(current(), key),
    has: (_target, key) => Reflect.has(current(), key),
  });
}

/** A test node on free loopback ports, stopped when the test finishes. */
export function useNode(options?: NodeOptions): Promise<TestNode> {
  return useStarted(startTestNode(options));
}

/** A real node:http backend on 127.0.0.1 (`port`, or a free one), stopped when the test finishes. */
export function useBackend(handler?: BackendHandler, port?: number): Promise<TestBackend> {
  return useStarted(startBackend(handler, port));
}

/** A WebSocket client, closed when the test finishes. */
export function useClient(url: string, options?: WebSocket.ClientOptions): Promise<TestClient> {
  return useStarted(connectClient(url, options));
}

/** One node for the describe block's tests; `options` may read suite backends (it runs in beforeAll). */
export function suiteNode(options?: NodeOptions | (() => NodeOptions)): TestNode {
  return forSuite(() => startTestNode(typeof options === 'function' ? options() : options));
}

/** One backend for the describe block's tests. */
export function suiteBackend(handler?: BackendHandler): TestBackend {
  return forSuite(() => startBackend(handler));
}

/** A private redis-server for the describe block's tests (`url` is `redis://127.0.0.1:PORT`). */
export function suiteRedis(): { url: string } {
  return forSuite(async () => {
    const server = await startRedisServer();
    return { url: server.url, close: () => server.stop() };
  });
}
