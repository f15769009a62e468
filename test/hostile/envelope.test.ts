/**
 * Hostile frames on the realtime protocol: random JSON, wrong types, huge fields, binary
 * frames, and envelopes aimed at another tenant. Every frame gets exactly one answer, an
 * `error` naming what is wrong when it is malformed; the connection stays open; nothing of
 * another tenant ever reaches the attacker, and the other tenant keeps getting its own.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { V1 } from '../support/harness.js';
import { forSuite } from '../support/scoped.js';
import { connectRealtime, expectApi, startRealtimeNode, text, topic, type Envelope, type RealtimeClient } from '../realtime-e2e/support.js';
import { RUNS, timeoutFor } from './runs.js';

const ERROR_CODES = ['BAD_REQUEST', 'UNAUTHORIZED', 'FORBIDDEN_TENANT', 'NOT_FOUND', 'UNKNOWN_TYPE', 'RATE_LIMITED', 'BACKEND_ERROR', 'INTERNAL'];
const ANSWER_TYPES = ['error', 'pong', 'subscribed', 'unsubscribed', 'published', 'presence', 'history'];
const FIELDS = [
  'envelope',
  'requestId',
  'type',
  'tenantId',
  'timestamp',
  'data',
  'data.topic',
  'data.channel',
  'data.data',
  'data.idempotencyKey',
  'data.limit',
  'data.since',
  'data.since.offset',
  'data.since.epoch',
];

const huge = (min: number, max: number): fc.Arbitrary<string> => fc.integer({ min, max }).chain((n) => fc.constantFrom('a', 'é', '💥', ':', ' ').map((c) => c.repeat(n)));
const anyValue: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue(), fc.constant(undefined), huge(200, 5000));

/** Topic names aimed at the other tenant, or simply odd. */
const topicName: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('feed', 'acme:feed', 'globex:secret', 'GLOBEX:secret', ' globex:secret', 'globex:', ':secret', 'acme:', 'acme:globex:secret', 'globex%3Asecret', 'globex\u0000:secret', '*', 'globex:*', '', 'a'.repeat(257)),
  fc.string({ unit: 'binary', maxLength: 40 }),
  huge(257, 20_000),
  anyValue,
);

const since: fc.Arbitrary<unknown> = fc.oneof(
  fc.record({ offset: fc.oneof(fc.integer({ min: -5, max: 1e6 }), fc.double(), fc.string(), fc.constant(2 ** 60)), epoch: fc.oneof(fc.string({ maxLength: 80 }), fc.integer()) }),
  anyValue,
);

const envelope: fc.Arbitrary<Record<string, unknown>> = fc.record(
  {
    type: fc.oneof(fc.constantFrom('subscribe', 'unsubscribe', 'ping', 'publish', 'connected', 'error', 'presence', 'history', '__proto__', 'constructor'), fc.string({ maxLength: 70 }), anyValue),
    data: fc.oneof(fc.record({ topic: topicName, channel: topicName, since, data: anyValue, idempotencyKey: anyValue, limit: anyValue }, { requiredKeys: [] }), anyValue),
    requestId: fc.oneof(fc.string({ maxLength: 20 }), fc.string({ minLength: 129, maxLength: 300 }), anyValue),
    tenantId: fc.oneof(fc.constantFrom('acme', 'globex', 'ACME', '', 'acme:'), anyValue),
    userId: fc.oneof(fc.constantFrom('mallory', 'victim'), anyValue),
    timestamp: fc.oneof(fc.integer({ min: 0 }), fc.constant('2026-11-22T11:40:14.123Z'), anyValue),
    extra: anyValue,
  },
  { requiredKeys: [] },
);

type Attack = { binary: false; text: string; requestId: string | undefined } | { binary: true; bytes: Buffer; requestId: undefined };

const attack: fc.Arbitrary<Attack> = fc.oneof(
  { weight: 6, arbitrary: envelope.map((e) => ({ binary: false as const, text: JSON.stringify(e), requestId: validRequestId(e.requestId) })).filter((a) => Buffer.byteLength(a.text) <= 262_144) },
  { weight: 2, arbitrary: fc.jsonValue().map((v) => ({ binary: false as const, text: JSON.stringify(v) ?? 'null', requestId: undefined })) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((s) => ({ binary: false as const, text: s, requestId: undefined })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => ({ binary: true as const, bytes: Buffer.from(a), requestId: undefined })) },
);

function validRequestId(value: unknown): string | undefined {
  return typeof value === 'string' && value.length <= 128 ? value : undefined;
}

describe('hostile envelopes on the realtime protocol', { timeout: timeoutFor(20_000) }, () => {
  let attacker: RealtimeClient;
  let victim: RealtimeClient;
  let marker = 0;

  const node = forSuite(() => startRealtimeNode({
    topics: [topic('acme:*', { historySize: 10 }), topic('globex:*', { historySize: 10 })],
    // Frames up to 256 KiB reach the protocol, so huge fields meet its own limits (128 KiB an envelope).
    limits: { messagesPerSecond: 1_000_000, maxFrameBytes: 262_144, maxMessageBytes: 262_144 },
  }));
  beforeAll(async () => {
    attacker = await connectRealtime(node, 'acme', 'mallory');
    victim = await connectRealtime(node, 'globex', 'victim');
    const reply = await victim.request({ type: 'subscribe', data: { topic: 'secret' } });
    expect(reply).toMatchObject({ type: 'subscribed', data: { topic: 'globex:secret' } });
  });
  afterAll(async () => {
    await attacker.close();
    await victim.close();
  });

  /**
   * Sends the frame, then a marker request that goes through the same asynchronous path as a
   * subscribe; returns everything the attacker received before the marker's answer.
   */
  async function answersTo(frame: Attack): Promise<Envelope[]> {
    const id = `marker-${++marker}`;
    if (frame.binary) attacker.ws.send(frame.bytes, { binary: true });
    else attacker.ws.send(frame.text);
    attacker.send({ type: 'subscribe', requestId: id, data: { topic: 'marker' } });
    const seen: Envelope[] = [];
    for (;;) {
      const envelope = await attacker.nextEnvelope(3000);
      if (envelope.requestId === id && envelope.type === 'subscribed') return seen;
      seen.push(envelope);
    }
  }

  function expectOwnTenantOnly(envelope: Envelope): void {
    expect(envelope.tenantId, JSON.stringify(envelope)).toBe('acme');
    const named = envelope.data?.topic;
    if (typeof named === 'string') expect(named.startsWith('acme:'), JSON.stringify(envelope)).toBe(true);
  }

  it('answers every frame exactly once, with an error naming the problem when it is malformed, and stays open', async () => {
    const kinds = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(attack, async (frame) => {
        const received = await answersTo(frame);
        // A `publish` to a topic the attacker subscribed to earlier also delivers it a
        // publication: a delivery, not an answer, and of its own tenant like everything else.
        for (const delivery of received.filter((e) => e.type === 'publication')) expectOwnTenantOnly(delivery);
        const answers = received.filter((e) => e.type !== 'publication');
        expect(answers, JSON.stringify(received)).toHaveLength(1);
        const answer = answers[0]!;
        expectOwnTenantOnly(answer);
        expect(ANSWER_TYPES).toContain(answer.type);
        kinds.set(answer.type === 'error' ? String(answer.data.code) : answer.type, (kinds.get(answer.type) ?? 0) + 1);
        if (frame.requestId !== undefined) expect(answer.requestId).toBe(frame.requestId);
        if (answer.type === 'error') {
          expect(ERROR_CODES).toContain(answer.data.code);
          expect(typeof answer.data.message).toBe('string');
          expect(answer.data.code).not.toBe('INTERNAL');
          // A text frame's error names the field at fault.
          if (!frame.binary) expect(FIELDS, JSON.stringify(answer)).toContain(answer.data.field);
        }
        expect(attacker.ws.readyState).toBe(attacker.ws.OPEN);
      }),
      { numRuns: RUNS.envelopes },
    );
    expect(kinds.size, JSON.stringify([...kinds])).toBeGreaterThan(2);
  });

  it('never lets a frame reach another tenant: the victim alone gets its publications, the attacker only its own topics', async () => {
    const aimed = fc.record({
      type: fc.constantFrom('subscribe', 'unsubscribe'),
      data: fc.record({ topic: topicName, since: fc.constant(undefined) }, { requiredKeys: ['topic'] }),
      tenantId: fc.constantFrom(undefined, 'globex', 'acme'),
    });
    let round = 0;
    await fc.assert(
      fc.asyncProperty(aimed, async (request) => {
        const answers = await answersTo({ binary: false, text: JSON.stringify(request), requestId: undefined });
        expect(answers).toHaveLength(1);
        expectOwnTenantOnly(answers[0]!);
        const n = ++round;
        await expectApi(node, 200, 'POST', `${V1}/topics/globex:secret:publish`, text(`secret ${n}`));
        const got = await victim.nextEnvelope(3000);
        expect(got).toMatchObject({ type: 'publication', tenantId: 'globex', data: { topic: 'globex:secret', payload: `secret ${n}` } });
        // Whatever reached the attacker by now comes before the marker's answer.
        const leaked = await answersTo({ binary: false, text: JSON.stringify({ type: 'ping' }), requestId: undefined });
        expect(leaked.map((e) => e.type)).toEqual(['pong']);
      }),
      { numRuns: RUNS.crossTenant },
    );
    const full = await expectApi(node, 200, 'GET', `${V1}/connections/${attacker.connectionId}?view=FULL`);
    for (const subscription of full.subscriptions as string[]) expect(subscription.startsWith('acme:'), subscription).toBe(true);
  });

  it('closes with 1009 a frame over maxFrameBytes and keeps serving the other tenant', async () => {
    const big = await connectRealtime(node, 'acme', 'big');
    big.ws.send(JSON.stringify({ type: 'ping', data: 'x'.repeat(300_000) }));
    expect((await big.closed).code).toBe(1009);
    await expectApi(node, 200, 'POST', `${V1}/topics/globex:secret:publish`, text('after the big one'));
    expect(await victim.nextEnvelope(3000)).toMatchObject({ type: 'publication', data: { payload: 'after the big one' } });
  });
});
