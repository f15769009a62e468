import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsConnectionsApi } from '../../src/api/aws-connections.js';
import { amzDateOf, sign } from '../../src/api/sigv4.js';
import type { ConnectionView, Hub, Payload } from '../../src/cluster/index.js';
import { Internal, InvalidArgument, NotFound, PermissionDenied, ResourceExhausted, Unavailable, type SwitchboardError } from '../../src/errors/index.js';
import { createLogger } from '../../src/observability/index.js';

const KEY = { accessKeyId: 'AKIDERRORS', secretAccessKey: 'errors-secret' };
const NOW = Date.UTC(2026, 10, 22, 11, 40, 14);

/** A Hub whose answer depends on the id: `throw-<kind>` raises that error. */
const ERRORS: Record<string, () => SwitchboardError> = {
  'throw-notfound': () => new NotFound('connection throw-notfound not found'),
  'throw-invalid': () => new InvalidArgument('bad id'),
  'throw-denied': () => new PermissionDenied('not yours'),
  'throw-exhausted': () => new ResourceExhausted('slow down'),
  'throw-unavailable': () => new Unavailable('backplane down'),
  'throw-internal': () => new Internal('boom'),
};
const sent: { id: string; payload: Payload }[] = [];
const hub = {
  nodeId: 'stub',
  async get(id: string): Promise<ConnectionView> {
    const make = ERRORS[id];
    if (make) throw make();
    return {
      id,
      gatewayId: 'g',
      identity: { sourceIp: '192.0.2.1', userAgent: 'ua' },
      connectedAt: '2026-11-22T11:40:14.123456789Z',
      lastActiveAt: '2026-11-22T11:40:15Z',
      lastPing: '2026-11-22T11:40:14.123456789Z',
      subscriptions: [],
      isAlive: true,
    };
  },
  async send(id: string, payload: Payload): Promise<void> {
    const make = ERRORS[id];
    if (make) throw make();
    sent.push({ id, payload });
  },
  async disconnect(id: string): Promise<void> {
    const make = ERRORS[id];
    if (make) throw make();
  },
} as unknown as Hub;

describe('@connections error mapping (Hub errors → AWS exceptions)', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify({ logger: false });
    await app.register(awsConnectionsApi, { hub, awsAccessKeys: [KEY], log: createLogger('silent'), now: () => NOW });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
  });

  async function call(method: 'GET' | 'POST' | 'DELETE', id: string, body?: string) {
    const path = `/@connections/${encodeURIComponent(id)}`;
    const amzDate = amzDateOf(NOW);
    const headers: Record<string, string> = { host: 'localhost:80', 'x-amz-date': amzDate, ...(body !== undefined ? { 'content-type': 'application/octet-stream' } : {}) };
    const { authorization } = sign({ method, path, query: '', headers }, { ...KEY, region: 'ap-south-1', service: 'execute-api', amzDate, ...(body !== undefined ? { body } : {}) });
    return app.inject({ method, url: path, headers: { ...headers, authorization }, ...(body !== undefined ? { payload: body } : {}) });
  }

  it.each([
    ['throw-notfound', 410, 'GoneException'],
    ['throw-invalid', 400, 'BadRequestException'],
    ['throw-denied', 403, 'ForbiddenException'],
    ['throw-exhausted', 429, 'LimitExceededException'],
    ['throw-unavailable', 500, 'InternalServerErrorException'],
    ['throw-internal', 500, 'InternalServerErrorException'],
  ])('%s → %i %s on every call', async (id, status, type) => {
    for (const response of [await call('GET', id), await call('POST', id, 'x'), await call('DELETE', id)]) {
      expect(response.statusCode).toBe(status);
      expect(response.headers['x-amzn-errortype']).toBe(type);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(Object.keys(response.json() as object)).toEqual(['message']);
    }
  });

  it('GetConnection normalises timestamps to ISO 8601 with milliseconds', async () => {
    const response = await call('GET', 'node-a.x');
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({
      connectedAt: '2026-11-22T11:40:14.123Z',
      identity: { sourceIp: '192.0.2.1', userAgent: 'ua' },
      lastActiveAt: '2026-11-22T11:40:15.000Z',
    });
  });

  it('an id with "=" (percent-encoded on the wire, double-encoded when signed) reaches the Hub decoded', async () => {
    sent.length = 0;
    const response = await call('POST', 'L0SM9cOFvHcCIhw=', 'hi');
    expect(response.statusCode, response.body).toBe(200);
    expect(response.body).toBe('');
    expect(sent).toEqual([{ id: 'L0SM9cOFvHcCIhw=', payload: { data: Buffer.from('hi'), binary: false } }]);
  });
});
