/**
 * Hostile calls to every management API method: random bodies (JSON of any shape, wrong
 * types, huge values, broken JSON, other content types), random path parameters and query
 * strings. Every answer is 200, a 400 google.rpc.Status naming the field at fault, or a 404
 * NOT_FOUND: never a 5xx, and the node keeps serving its clients.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, connectClient, type TestClient, V1 } from '../support/harness.js';
import { suiteNode } from '../support/scoped.js';
import { dummy, specYaml } from '../support/fixtures.js';
import { RUNS, timeoutFor } from './runs.js';

/** Fields an error may name besides the keys of the body and the query that provoked it. */
const KNOWN_FIELDS = ['body', 'path', 'data', 'type', 'topic', 'idempotencyKey', 'tenantId', 'view', 'pageSize', 'pageToken', 'sinceOffset', 'limit', 'epoch', 'connectionId', 'userId'];

interface Call {
  method: string;
  path: string;
  query: [string, string][];
  body: { kind: 'json'; value: unknown } | { kind: 'raw'; text: string; contentType: string | undefined } | undefined;
}

const huge = fc.integer({ min: 300, max: 20_000 }).map((n) => 'x'.repeat(n));
const oddText = fc.oneof(
  fc.string({ maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', ' ', ':', '::', ':send', 'a:b:c', '..', '%', '%zz', '%00', '%2F', 'acme:chat.room', 'TEXT', 'null', '0', '-1', '1e3', '__proto__', 'constructor'),
  huge,
);

/** A path segment: usually percent-encoded, sometimes raw with characters that need it. */
const segment = fc.oneof({ weight: 4, arbitrary: oddText.map(encodeURIComponent) }, { weight: 1, arbitrary: fc.constantFrom('%zz', '%', '%00', 'a%2', '%E0%A4%A', ';', '.', '%2e%2e') });

const base64ish = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a).toString('base64')),
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s).toString('base64url')),
  fc.constantFrom('', '=', '====', 'YQ', 'YQ=', 'Y', '!!!!', 'gA==', '/w==', '-_-_'),
  fc.constant(Buffer.alloc(131_073).toString('base64')),
  oddText,
);
const anyJson: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue(), huge, fc.constant(null));

const body: fc.Arbitrary<Call['body']> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record(
        {
          data: fc.oneof(base64ish, anyJson),
          type: fc.oneof(fc.constantFrom('TEXT', 'BINARY', 'TYPE_UNSPECIFIED', 'text', ['TEXT'], 1), anyJson),
          topic: fc.oneof(oddText, anyJson),
          idempotencyKey: fc.oneof(oddText, anyJson),
          tenantId: fc.oneof(oddText, anyJson),
          extra: anyJson,
        },
        { requiredKeys: [] },
      )
      .map((value) => ({ kind: 'json' as const, value })),
  },
  { weight: 2, arbitrary: anyJson.map((value) => ({ kind: 'json' as const, value })) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.oneof(fc.string({ maxLength: 60 }), fc.constantFrom('{', '{"data":', '[1,', '{"data":"YQ==","type":"TEXT"', 'nul', '\u0000')), fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', undefined, 'application/json; charset=latin1'))
      .map(([text, contentType]) => ({ kind: 'raw' as const, text, contentType })),
  },
  { weight: 1, arbitrary: fc.constant(undefined) },
);

const query = fc.array(fc.tuple(fc.oneof(fc.constantFrom('view', 'pageSize', 'pageToken', 'sinceOffset', 'limit', 'epoch', 'gatewayId', 'tenantId', 'userId', 'topic'), fc.string({ maxLength: 10 })), fc.oneof(oddText, fc.constantFrom('FULL', 'BASIC', '1', '0', '1000', '1001', '99999999999999999999', 'c2VxOjE', 'c2VxOi0x'))), { maxLength: 4 });

function call(target: () => fc.Arbitrary<string>): fc.Arbitrary<Call> {
  return fc.oneof(
    fc.record({ method: fc.constant('GET'), path: target().map((id) => `${V1}/connections/${id}`), query, body: fc.constant(undefined) }),
    fc.record({ method: fc.constant('DELETE'), path: segment.map((id) => `${V1}/connections/${id}`), query, body: fc.constant(undefined) }),
    fc.record({ method: fc.constant('POST'), path: fc.tuple(target(), fc.oneof(fc.constantFrom('send', 'subscribe', 'unsubscribe'), segment)).map(([id, verb]) => `${V1}/connections/${id}:${verb}`), query, body }),
    fc.record({ method: fc.constant('GET'), path: fc.constant(`${V1}/connections`), query, body: fc.constant(undefined) }),
    fc.record({ method: fc.constant('POST'), path: fc.tuple(segment, fc.oneof(fc.constant('publish'), segment)).map(([topic, verb]) => `${V1}/topics/${topic}:${verb}`), query, body }),
    fc.record({ method: fc.constant('GET'), path: segment.map((topic) => `${V1}/topics/${topic}/presence`), query, body: fc.constant(undefined) }),
    fc.record({ method: fc.constant('GET'), path: segment.map((topic) => `${V1}/topics/${topic}/history`), query, body: fc.constant(undefined) }),
    fc.record({ method: fc.constant('POST'), path: fc.tuple(segment, fc.oneof(fc.constant('send'), segment)).map(([user, verb]) => `${V1}/users/${user}:${verb}`), query, body }),
    fc.record({ method: fc.constant('POST'), path: fc.tuple(segment, fc.oneof(fc.constant('broadcast'), segment)).map(([tenant, verb]) => `${V1}/tenants/${tenant}:${verb}`), query, body }),
    fc.record({ method: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'), path: fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `${V1}/${parts.join('/')}`), query, body }),
  );
}

interface Answer {
  status: number;
  json: { code?: number; message?: string; details?: { fieldViolations?: { field?: string }[] }[] } | undefined;
  text: string;
}

async function send(base: string, c: Call): Promise<Answer> {
  const search = c.query.length === 0 ? '' : `?${c.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')}`;
  const init: RequestInit = { method: c.method, headers: {} };
  if (c.body !== undefined && c.method !== 'GET') {
    if (c.body.kind === 'json') {
      init.body = JSON.stringify(c.body.value) ?? 'null';
      (init.headers as Record<string, string>)['content-type'] = 'application/json';
    } else {
      init.body = c.body.text;
      if (c.body.contentType !== undefined) (init.headers as Record<string, string>)['content-type'] = c.body.contentType;
    }
  }
  const response = await fetch(`${base}${c.path}${search}`, init);
  const text = await response.text();
  let json: Answer['json'];
  try {
    json = JSON.parse(text) as Answer['json'];
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

describe('hostile management API calls', { timeout: timeoutFor(30_000) }, () => {
  let target: TestClient;
  let targetId: string;

  const node = suiteNode(() => ({ spec: specYaml({ '/ws': { message: dummy('ok') } }) }));
  beforeAll(async () => {
    target = await connectClient(node.wsUrl('/ws'));
    targetId = target.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string;
  });
  afterAll(async () => {
    await target.close();
  });

  it('answers every call 200, 400 naming the field, or 404 NOT_FOUND, never 5xx, and keeps serving', async () => {
    const statuses = new Map<number, number>();
    // Live connection ids make the calls reach the hub; DELETE only ever gets random ids.
    const targets = (): fc.Arbitrary<string> => fc.oneof({ weight: 3, arbitrary: segment }, { weight: 1, arbitrary: fc.constant(targetId) });
    await fc.assert(
      fc.asyncProperty(call(targets), async (c) => {
        const answer = await send(node.apiUrl, c);
        statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
        const what = `${c.method} ${c.path} ${JSON.stringify(c.query)} ${JSON.stringify(c.body)?.slice(0, 300)} → ${answer.status} ${answer.text.slice(0, 300)}`;
        // Node's own limit on the request head (16 KiB) answers 431 before any route runs.
        const headTooLarge = c.path.length + JSON.stringify(c.query).length > 16_000;
        expect(headTooLarge ? [200, 400, 404, 431] : [200, 400, 404], what).toContain(answer.status);
        // FAILED_PRECONDITION (code 9, also HTTP 400): a well-formed call the topic's settings do not allow.
        if (answer.status === 400 && answer.json?.code === 9) {
          expect(answer.json.message, what).toMatch(/presence/);
        } else if (answer.status === 400) {
          expect(answer.json?.code, what).toBe(3);
          expect(typeof answer.json?.message, what).toBe('string');
          const field = answer.json?.details?.[0]?.fieldViolations?.[0]?.field;
          const bodyKeys = c.body?.kind === 'json' && typeof c.body.value === 'object' && c.body.value !== null ? Object.keys(c.body.value) : [];
          expect([...KNOWN_FIELDS, ...bodyKeys, ...c.query.map(([k]) => k)], what).toContain(field);
        }
        if (answer.status === 404) expect(answer.json?.code, what).toBe(5);
      }),
      { numRuns: RUNS.api },
    );
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(404) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
    // The node still serves: the target connection answers, the API sends to it.
    expect((await fetch(`${node.apiUrl}/healthz`)).status).toBe(200);
    target.ws.send('still there?');
    for (;;) {
      const message = await target.next(3000);
      if (message.text === 'ok') break;
    }
    const sent = await fetch(`${node.apiUrl}${V1}/connections/${targetId}:send`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ data: b64('from the API'), type: 'TEXT' }) });
    expect(sent.status).toBe(200);
    for (;;) {
      const message = await target.next(3000);
      if (message.text === 'from the API') break;
    }
  });

  it('answers a malformed %-escape or an over-long path parameter with a google.rpc.Status 400 naming the path (found by this fuzzer)', async () => {
    for (const target of [`${V1}/connections/%zz`, `${V1}/connections/${'x'.repeat(600)}`]) {
      const answer = await send(node.apiUrl, { method: 'GET', path: target, query: [], body: undefined });
      expect(answer.status).toBe(400);
      expect(answer.json).toMatchObject({ code: 3, details: [{ fieldViolations: [{ field: 'path' }] }] });
    }
  });

  it('answers unsigned calls to the @connections surface 403, never 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('GET', 'POST', 'DELETE'), segment, body, async (method, id, payload) => {
        const answer = await send(node.apiUrl, { method, path: `/@connections/${id}`, query: [], body: payload });
        expect(id.length > 16_000 ? [400, 403, 404, 431] : [400, 403, 404], `${method} ${id.slice(0, 80)} → ${answer.status} ${answer.text.slice(0, 200)}`).toContain(answer.status);
      }),
      { numRuns: Math.round(RUNS.api / 5) },
    );
  });
});
