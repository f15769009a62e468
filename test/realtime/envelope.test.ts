import { scopeTopic, tenantOfTopic } from '../../src/connections/index.js';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ERROR_CODES,
  InvalidEnvelope,
  encodeEnvelope,
  encodePublicationEnvelope,
  errorCodeOf,
  parseEnvelope,
  parseSubscribeData,
  parseUnsubscribeData,
} from '../../src/realtime/envelope.js';
import { FailedPrecondition, InvalidArgument, LimitExceeded, NotFound, PermissionDenied, Unauthenticated, errorOfKind } from '../../src/errors/index.js';
import { TopicForbidden } from '../../src/realtime/index.js';

/** The error a call throws, asserted to be an InvalidArgument naming `field`. */
function invalidField(call: () => unknown, field: string): InvalidArgument {
  let thrown: unknown;
  try {
    call();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(InvalidArgument);
  const err = thrown as InvalidArgument;
  expect(err.field).toBe(field);
  return err;
}

describe('parseEnvelope', () => {
  it('reads type, data, requestId and tenantId', () => {
    expect(parseEnvelope('{"type":"subscribe","data":{"topic":"chat"},"requestId":"r1","tenantId":"acme"}')).toEqual({
      type: 'subscribe',
      data: { topic: 'chat' },
      requestId: 'r1',
      tenantId: 'acme',
    });
  });

  it('leaves absent optional fields out and ignores unknown ones', () => {
    const envelope = parseEnvelope('{"type":"ping","extra":1}');
    expect(envelope).toEqual({ type: 'ping', data: undefined });
    expect('requestId' in envelope).toBe(false);
  });

  it('names "envelope" for invalid JSON, a non-object and text over the size limit', () => {
    invalidField(() => parseEnvelope('{"type":'), 'envelope');
    invalidField(() => parseEnvelope('[1,2]'), 'envelope');
    invalidField(() => parseEnvelope('"ping"'), 'envelope');
    invalidField(() => parseEnvelope('null'), 'envelope');
    invalidField(() => parseEnvelope(`{"type":"ping","data":"${'x'.repeat(200)}"}`, 100), 'envelope');
  });

  it('counts the size limit in UTF-8 bytes, not characters', () => {
    const text = `{"type":"ping","data":"${'é'.repeat(40)}"}`; // 65 characters, 105 bytes
    expect(Buffer.byteLength(text)).toBe(105);
    invalidField(() => parseEnvelope(text, 104), 'envelope');
    expect(parseEnvelope(text, 105).type).toBe('ping');
  });

  it('names "type" when it is missing, empty, not a string or longer than 64', () => {
    invalidField(() => parseEnvelope('{"data":{}}'), 'type');
    invalidField(() => parseEnvelope('{"type":""}'), 'type');
    invalidField(() => parseEnvelope('{"type":7}'), 'type');
    invalidField(() => parseEnvelope(JSON.stringify({ type: 'x'.repeat(65) })), 'type');
    expect(parseEnvelope(JSON.stringify({ type: 'x'.repeat(64) })).type).toHaveLength(64);
  });

  it('names "requestId" when it is not a string or longer than 128', () => {
    invalidField(() => parseEnvelope('{"type":"ping","requestId":5}'), 'requestId');
    invalidField(() => parseEnvelope('{"type":"ping","requestId":null}'), 'requestId');
    invalidField(() => parseEnvelope(JSON.stringify({ type: 'ping', requestId: 'r'.repeat(129) })), 'requestId');
  });

  it('names "tenantId" when it is not a string', () => {
    invalidField(() => parseEnvelope('{"type":"ping","tenantId":{}}'), 'tenantId');
  });

  it('keeps a readable requestId on a later error so the reply can be correlated', () => {
    const err = invalidField(() => parseEnvelope('{"type":"","requestId":"r-42"}'), 'type');
    expect(err).toBeInstanceOf(InvalidEnvelope);
    expect((err as InvalidEnvelope).requestId).toBe('r-42');
  });
});

describe('parseSubscribeData and parseUnsubscribeData', () => {
  it('read a topic and an optional since position', () => {
    expect(parseSubscribeData({ topic: 'chat.room1' })).toEqual({ topic: 'chat.room1', field: 'data.topic' });
    expect(parseSubscribeData({ topic: 'acme:chat.room1', since: { offset: 12, epoch: 'e1' } })).toEqual({
      topic: 'acme:chat.room1',
      field: 'data.topic',
      since: { offset: 12, epoch: 'e1' },
    });
    expect(parseSubscribeData({ topic: 'chat', since: null })).toEqual({ topic: 'chat', field: 'data.topic' });
    expect(parseUnsubscribeData({ topic: 'chat' })).toEqual({ topic: 'chat', field: 'data.topic' });
  });

  it("take the seed manager's channel for topic, and refuse a channel that disagrees with topic", () => {
    expect(parseSubscribeData({ channel: 'acme:orders' })).toEqual({ topic: 'acme:orders', field: 'data.channel' });
    expect(parseUnsubscribeData({ channel: 'acme:orders' })).toEqual({ topic: 'acme:orders', field: 'data.channel' });
    expect(parseSubscribeData({ topic: 'acme:orders', channel: 'acme:orders' })).toEqual({ topic: 'acme:orders', field: 'data.topic' });
    invalidField(() => parseSubscribeData({ topic: 'acme:a', channel: 'acme:b' }), 'data.channel');
    invalidField(() => parseSubscribeData({ channel: 42 }), 'data.channel');
  });

  it('accept a timestamp in epoch milliseconds or RFC 3339, and nothing else', () => {
    expect(parseEnvelope('{"type":"ping","timestamp":1732275614123}').type).toBe('ping');
    expect(parseEnvelope('{"type":"ping","timestamp":"2026-11-22T11:40:14.123456789Z"}').type).toBe('ping');
    invalidField(() => parseEnvelope('{"type":"ping","timestamp":"yesterday"}'), 'timestamp');
    invalidField(() => parseEnvelope('{"type":"ping","timestamp":{}}'), 'timestamp');
    invalidField(() => parseEnvelope('{"type":"ping","timestamp":-1}'), 'timestamp');
  });

  it('name "data" when data is not an object', () => {
    invalidField(() => parseSubscribeData(undefined), 'data');
    invalidField(() => parseSubscribeData('chat'), 'data');
    invalidField(() => parseUnsubscribeData([]), 'data');
  });

  it('name "data.topic" for a missing, empty, long, spaced or non-ASCII topic', () => {
    for (const topic of [undefined, '', 'x'.repeat(257), 'chat room', 'chat\n', 'café', 7]) {
      invalidField(() => parseSubscribeData({ topic }), 'data.topic');
      invalidField(() => parseUnsubscribeData({ topic }), 'data.topic');
    }
    expect(parseSubscribeData({ topic: 'x'.repeat(256) }).topic).toHaveLength(256);
  });

  it('name "data.since", "data.since.offset" and "data.since.epoch"', () => {
    invalidField(() => parseSubscribeData({ topic: 't', since: 5 }), 'data.since');
    for (const offset of [-1, 1.5, '3', Number.MAX_SAFE_INTEGER + 1, undefined]) {
      invalidField(() => parseSubscribeData({ topic: 't', since: { offset, epoch: 'e' } }), 'data.since.offset');
    }
    for (const epoch of [undefined, '', 'e'.repeat(65), 9]) {
      invalidField(() => parseSubscribeData({ topic: 't', since: { offset: 0, epoch } }), 'data.since.epoch');
    }
  });
});

describe('encodeEnvelope', () => {
  it('writes keys in the order type, data, tenantId, userId, timestamp, requestId', () => {
    const text = encodeEnvelope('subscribed', { topic: 'acme:chat' }, 'acme', 'alice', '2026-11-22T11:40:14.123Z', 'r1');
    expect(text).toBe(
      '{"type":"subscribed","data":{"topic":"acme:chat"},"tenantId":"acme","userId":"alice","timestamp":"2026-11-22T11:40:14.123Z","requestId":"r1"}',
    );
    expect(Object.keys(JSON.parse(text) as object)).toEqual(['type', 'data', 'tenantId', 'userId', 'timestamp', 'requestId']);
  });

  it('leaves out what is undefined', () => {
    expect(encodeEnvelope('pong', {}, 'acme', undefined, '2026-11-22T11:40:14.123Z')).toBe(
      '{"type":"pong","data":{},"tenantId":"acme","timestamp":"2026-11-22T11:40:14.123Z"}',
    );
    expect(encodeEnvelope('pong', {}, undefined, undefined, 't')).toBe('{"type":"pong","data":{},"timestamp":"t"}');
  });
});

describe('encodePublicationEnvelope', () => {
  const at = '2026-11-22T11:40:14.123Z';
  const publication = (text: string | Buffer, binary = false) => ({
    offset: 7,
    data: typeof text === 'string' ? Buffer.from(text) : text,
    binary,
    publishedAt: 0,
  });

  it('splices a JSON text publication in as a JSON value', () => {
    const text = encodePublicationEnvelope('acme:chat', publication('{"msg":"hi","n":[1,2]}'), 'ep1', 'acme', at);
    expect(text).toBe(
      '{"type":"publication","data":{"topic":"acme:chat","offset":7,"epoch":"ep1","payload":{"msg":"hi","n":[1,2]}},"tenantId":"acme","timestamp":"2026-11-22T11:40:14.123Z"}',
    );
    expect(JSON.parse(text)).toEqual({
      type: 'publication',
      data: { topic: 'acme:chat', offset: 7, epoch: 'ep1', payload: { msg: 'hi', n: [1, 2] } },
      tenantId: 'acme',
      timestamp: at,
    });
  });

  it('keeps JSON scalars as values and the digits of large numbers', () => {
    const parsed = (body: string) => (JSON.parse(encodePublicationEnvelope('t:x', publication(body), 'e', 't', at)) as { data: { payload: unknown } }).data.payload;
    expect(parsed('42')).toBe(42);
    expect(parsed('true')).toBe(true);
    expect(parsed('"quoted"')).toBe('quoted');
    expect(encodePublicationEnvelope('t:x', publication('12345678901234567890123'), 'e', 't', at)).toContain('"payload":12345678901234567890123}');
  });

  it('sends plain text, and text that only looks like JSON, as a JSON string', () => {
    for (const body of ['hello "world"\n', 'true story', '{not json', '']) {
      const envelope = JSON.parse(encodePublicationEnvelope('acme:chat', publication(body), 'ep1', 'acme', at)) as {
        data: { payload: unknown; encoding?: string };
      };
      expect(envelope.data.payload).toBe(body);
      expect(envelope.data.encoding).toBeUndefined();
    }
  });

  it('sends binary as base64 with "encoding":"base64"', () => {
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const text = encodePublicationEnvelope('acme:bin', publication(bytes, true), 'ep1', 'acme', at);
    const envelope = JSON.parse(text) as { data: { payload: string; encoding: string } };
    expect(envelope.data.encoding).toBe('base64');
    expect(Buffer.from(envelope.data.payload, 'base64')).toEqual(bytes);
    expect(Object.keys(envelope.data)).toEqual(['topic', 'offset', 'epoch', 'payload', 'encoding']);
  });

  it('is valid JSON for any text or bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.uint8Array(), fc.string(), (text, bytes, topic) => {
        const fromText = JSON.parse(encodePublicationEnvelope(topic, publication(text), 'e', 'acme', at)) as { data: { topic: string } };
        expect(fromText.data.topic).toBe(topic);
        JSON.parse(encodePublicationEnvelope(topic, publication(Buffer.from(bytes), true), 'e', undefined, at));
      }),
    );
  });
});

describe('scopeTopic and tenantOfTopic (connections/topic-names.ts, the one topic-tenant rule)', () => {
  it('prefixes a bare topic with the tenant', () => {
    expect(scopeTopic('acme', 'chat.room1')).toBe('acme:chat.room1');
  });

  it('keeps a topic the tenant already qualified, tenant up to the first ":"', () => {
    expect(scopeTopic('acme', 'acme:chat.room1')).toBe('acme:chat.room1');
    expect(scopeTopic('acme', 'acme:a:b')).toBe('acme:a:b');
  });

  it("refuses another tenant's topic with PermissionDenied", () => {
    expect(() => scopeTopic('acme', 'globex:chat.room1')).toThrow(PermissionDenied);
    expect(() => scopeTopic('acme', 'globex:chat.room1')).toThrow('topic belongs to another tenant');
    expect(() => scopeTopic('acme', ':chat')).toThrow(PermissionDenied);
    expect(() => scopeTopic('acme', 'acmeX:chat')).toThrow(PermissionDenied);
  });

  it('refuses a tenant id that could forge a prefix, and an empty name', () => {
    invalidField(() => scopeTopic('acme:globex', 'chat'), 'tenantId');
    invalidField(() => scopeTopic('', 'chat'), 'tenantId');
    invalidField(() => scopeTopic('acme', 'acme:'), 'data.topic');
  });

  it('tenantOfTopic reads the part before the first ":"', () => {
    expect(tenantOfTopic('acme:chat:x')).toBe('acme');
    expect(tenantOfTopic('chat')).toBeUndefined();
    expect(tenantOfTopic(':chat')).toBeUndefined();
  });

  it('never returns a topic of another tenant', () => {
    const piece = fc.string({ maxLength: 12 });
    const withColons = fc.array(fc.oneof(piece, fc.constant(':')), { maxLength: 5 }).map((parts) => parts.join(''));
    fc.assert(
      fc.property(withColons, withColons, (tenantId, topic) => {
        let scoped: string;
        try {
          scoped = scopeTopic(tenantId, topic);
        } catch (err) {
          expect(err instanceof PermissionDenied || err instanceof InvalidArgument).toBe(true);
          return;
        }
        expect(tenantOfTopic(scoped)).toBe(tenantId);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('error codes', () => {
  it('map each error kind to one envelope code', () => {
    expect(errorCodeOf(new InvalidArgument('x', 'type'))).toBe(ERROR_CODES.BAD_REQUEST);
    expect(errorCodeOf(new Unauthenticated('token expired'))).toBe(ERROR_CODES.UNAUTHORIZED);
    expect(errorCodeOf(new PermissionDenied('topic belongs to another tenant'))).toBe(ERROR_CODES.FORBIDDEN_TENANT);
    expect(errorCodeOf(new NotFound('x'))).toBe(ERROR_CODES.NOT_FOUND);
    expect(errorCodeOf(new LimitExceeded('too many', 'limits.maxSubscriptionsPerConnection'))).toBe(ERROR_CODES.LIMIT_EXCEEDED);
    // Rebuilt from its kind and field on another node, it is still a limit.
    expect(errorCodeOf(errorOfKind('FAILED_PRECONDITION', 'too many', 'limits.maxSubscriptionsPerConnection'))).toBe(ERROR_CODES.LIMIT_EXCEEDED);
    expect(errorCodeOf(new FailedPrecondition('no presence'))).toBe(ERROR_CODES.BAD_REQUEST);
    expect(errorCodeOf(new TopicForbidden('token does not grant subscribe'))).toBe(ERROR_CODES.FORBIDDEN);
    expect(Object.values(ERROR_CODES)).toEqual([
      'BAD_REQUEST',
      'UNAUTHORIZED',
      'FORBIDDEN_TENANT',
      'FORBIDDEN',
      'NOT_FOUND',
      'UNKNOWN_TYPE',
      'RATE_LIMITED',
      'LIMIT_EXCEEDED',
      'BACKEND_ERROR',
      'INTERNAL',
    ]);
  });
});
