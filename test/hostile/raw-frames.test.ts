/**
 * Hostile WebSocket frames against a real node over raw TCP: generated streams mixing valid
 * messages with every kind of violation RFC 6455 names. Each stream is judged by the
 * reference receiver (verdict.ts); the node must answer exactly that (close code, echoes,
 * pongs, nothing after its close frame), drop the connection from its registry, and keep
 * serving the bystander on the same node.
 */
import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closePayload, encodeFrame, INVALID_UTF8, Opcode, type FrameSpec } from '../support/frames.js';
import { RawClient, type Outcome } from '../support/raw-client.js';
import { guardWouldTrip, judge, type Verdict } from './verdict.js';
import { LIMITS, startEdgeUnderTest, type EdgeUnderTest } from './edge-fixture.js';
import { RUNS, timeoutFor } from './runs.js';


const unicode = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: 'binary', maxLength });
const bytes = (maxLength: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

/** A message split into fragments at arbitrary byte positions (through multibyte characters too), pings between them. */
const fragmented = (opcode: number, payload: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> =>
  fc
    .tuple(payload, fc.array(fc.nat(), { maxLength: 4 }), fc.array(fc.boolean(), { maxLength: 5 }))
    .map(([data, rawCuts, pingsBetween]) => {
      const cuts = [...new Set(rawCuts.map((c) => (data.length === 0 ? 0 : c % data.length)))].filter((c) => c > 0).sort((a, b) => a - b);
      const pieces: Buffer[] = [];
      let start = 0;
      for (const cut of [...cuts, data.length]) {
        pieces.push(data.subarray(start, cut));
        start = cut;
      }
      const frames: Buffer[] = [];
      pieces.forEach((piece, index) => {
        frames.push(encodeFrame({ opcode: index === 0 ? opcode : Opcode.CONTINUATION, payload: piece, fin: index === pieces.length - 1 }));
        if (pingsBetween[index] && index < pieces.length - 1) frames.push(encodeFrame({ opcode: Opcode.PING, payload: `p${index}` }));
      });
      return Buffer.concat(frames);
    });

const invalidUtf8Text = fc
  .tuple(unicode(40), fc.constantFrom(...INVALID_UTF8), unicode(40))
  .map(([before, bad, after]) => Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]));

const frame = (spec: fc.Arbitrary<FrameSpec>): fc.Arbitrary<Buffer> => spec.map(encodeFrame);
const controlOpcode = fc.constantFrom(Opcode.CLOSE, Opcode.PING, Opcode.PONG);

/** One piece of a stream: a valid message or control frame, or one violation. */
const item: fc.Arbitrary<Buffer> = fc.oneof(
  // valid
  { weight: 4, arbitrary: fragmented(Opcode.TEXT, unicode(60).map((s) => Buffer.from(s))) },
  { weight: 2, arbitrary: fragmented(Opcode.BINARY, bytes(200)) },
  { weight: 2, arbitrary: frame(fc.record({ opcode: fc.constantFrom(Opcode.PING, Opcode.PONG), payload: bytes(125) })) },
  { weight: 1, arbitrary: frame(fc.record({ opcode: fc.constant(Opcode.TEXT), payload: unicode(20), lengthField: fc.constantFrom(16 as const, 64 as const) })) },
  // invalid UTF-8, whole or split across fragments
  { weight: 2, arbitrary: fragmented(Opcode.TEXT, invalidUtf8Text) },
  // a bad mask: the server unmasks to bytes the client did not mean
  { weight: 1, arbitrary: frame(fc.record({ opcode: fc.constant(Opcode.TEXT), payload: unicode(30), maskedWith: bytes(4).filter((b) => b.length === 4) })) },
  // reserved opcodes and bits, unmasked frames
  { weight: 1, arbitrary: frame(fc.record({ opcode: fc.constantFrom(3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf), payload: bytes(20), fin: fc.boolean() })) },
  { weight: 1, arbitrary: frame(fc.record({ opcode: fc.constantFrom(3, 7, 0xb, 0xf), declaredLength: fc.constantFrom(BigInt(LIMITS.maxFrameBytes + 1), 2n ** 40n) })) },
  { weight: 1, arbitrary: frame(fc.record({ opcode: fc.constantFrom(Opcode.TEXT, Opcode.BINARY, Opcode.PING), payload: fc.constant('x'), rsv: fc.integer({ min: 1, max: 7 }) })) },
  { weight: 1, arbitrary: frame(fc.record({ opcode: fc.constantFrom(Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.CLOSE), payload: fc.constant(''), mask: fc.constant(false as const) })) },
  // control frames fragmented or over 125 bytes
  { weight: 1, arbitrary: frame(fc.record({ opcode: controlOpcode, payload: bytes(20), fin: fc.constant(false) })) },
  { weight: 1, arbitrary: frame(fc.record({ opcode: controlOpcode, payload: fc.integer({ min: 126, max: 300 }).map((n) => Buffer.alloc(n, 0x61)) })) },
  // lengths over the limits: announced (64-bit fields up to 2^64 - 1) or real
  {
    weight: 1,
    arbitrary: frame(
      fc.record({
        opcode: fc.constantFrom(Opcode.TEXT, Opcode.BINARY),
        declaredLength: fc.constantFrom(2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 62n, 2n ** 63n, 2n ** 64n - 1n, BigInt(LIMITS.maxMessageBytes + 1)),
        lengthField: fc.constant(64 as const),
      }),
    ),
  },
  { weight: 1, arbitrary: frame(fc.record({ opcode: fc.constantFrom(Opcode.TEXT, Opcode.BINARY), payload: fc.integer({ min: LIMITS.maxFrameBytes + 1, max: LIMITS.maxFrameBytes + 600 }).map((n) => Buffer.alloc(n, 0x62)) })) },
  { weight: 1, arbitrary: fc.integer({ min: 5, max: 7 }).map((n) => Buffer.concat(Array.from({ length: n }, (_, i) => encodeFrame({ opcode: i === 0 ? Opcode.BINARY : Opcode.CONTINUATION, payload: Buffer.alloc(1000), fin: i === n - 1 })))) },
  // continuation without a start, a new message inside a fragmented one
  { weight: 1, arbitrary: frame(fc.record({ opcode: fc.constant(Opcode.CONTINUATION), payload: bytes(10), fin: fc.boolean() })) },
  { weight: 1, arbitrary: fc.tuple(unicode(10), unicode(10)).map(([a, b]) => Buffer.concat([encodeFrame({ opcode: Opcode.TEXT, payload: a, fin: false }), encodeFrame({ opcode: Opcode.TEXT, payload: b })])) },
  // close frames: valid, invalid codes, one-byte payloads, bad or long reasons
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.tuple(fc.oneof(fc.integer({ min: 1000, max: 1014 }), fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 3000, max: 4999 })), unicode(30)).map(([code, reason]) =>
        encodeFrame({ opcode: Opcode.CLOSE, payload: closePayload(code, Buffer.from(reason).subarray(0, 123)) }),
      ),
      fc.constant(encodeFrame({ opcode: Opcode.CLOSE, payload: Buffer.from([0x03]) })),
      fc.constant(encodeFrame({ opcode: Opcode.CLOSE })),
      fc.constantFrom(...INVALID_UTF8).map((bad) => encodeFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000, Buffer.from(bad)) })),
      fc.integer({ min: 124, max: 200 }).map((n) => encodeFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000, 'r'.repeat(n)) })),
    ),
  },
);

interface Case {
  stream: Buffer;
  /** Cut the stream here and half-close: a truncated frame. */
  truncateAt: number | undefined;
  /** Write boundaries: the stream arrives in these pieces. */
  cuts: number[];
}

const hostileCase: fc.Arbitrary<Case> = fc
  .record({
    items: fc.array(item, { minLength: 1, maxLength: 6 }),
    truncate: fc.option(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), { freq: 4 }),
    cuts: fc.array(fc.nat(), { maxLength: 3 }),
  })
  .map(({ items, truncate, cuts }) => {
    const stream = Buffer.concat(items);
    const truncateAt = truncate === null ? undefined : Math.floor(truncate * stream.length);
    const length = truncateAt ?? stream.length;
    return { stream, truncateAt, cuts: cuts.map((c) => (length === 0 ? 0 : c % length)) };
  });

/** A stream of each verdict kind: open, closed by the client, failed by the server, cut off. */
const VERDICT_EXAMPLES: Case[] = [
  { stream: encodeFrame({ opcode: Opcode.TEXT, payload: 'hello' }), truncateAt: undefined, cuts: [] },
  { stream: encodeFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000, 'bye') }), truncateAt: undefined, cuts: [] },
  { stream: encodeFrame({ opcode: Opcode.TEXT, payload: 'x', rsv: 1 }), truncateAt: undefined, cuts: [] },
  { stream: encodeFrame({ opcode: Opcode.TEXT, payload: 'hello' }), truncateAt: 3, cuts: [1] },
];

function acceptableCodes(verdict: Verdict, guard: boolean): (number | undefined)[] {
  const codes: (number | undefined)[] = verdict.kind === 'fail' ? [...verdict.codes] : verdict.kind === 'client-close' ? [verdict.code] : [];
  if (guard) codes.push(1009);
  return codes;
}

function expectEchoesPrefix(outcome: Outcome, verdict: Verdict, all: boolean): void {
  const echoes = outcome.messages.map((m) => ({ binary: m.opcode === Opcode.BINARY, payload: m.payload.toString('hex') }));
  const expected = verdict.messages.map((m) => ({ binary: m.binary, payload: Buffer.concat([Buffer.from('>'), m.payload]).toString('hex') }));
  if (all) expect(echoes).toEqual(expected);
  else expect(expected.slice(0, echoes.length)).toEqual(echoes);
  const pongs = outcome.pongs.map((p) => p.toString('hex'));
  const pings = verdict.pings.map((p) => p.toString('hex'));
  if (all) expect(pongs).toEqual(pings);
  else expect(pings.slice(0, pongs.length)).toEqual(pongs);
}

/** RFC 6455 §5.5.1: after its close frame an endpoint sends no more data frames; server frames are never masked. */
function expectWellFormedServer(outcome: Outcome): void {
  expect(outcome.malformed, 'server frames must be unmasked, without reserved bits or opcodes').toEqual([]);
  expect(outcome.afterClose.filter((f) => f.opcode < 0x8).map((f) => f.payload.toString()), 'data frames after the server close frame').toEqual([]);
}

async function waitForEchoes(client: RawClient, verdict: Verdict): Promise<void> {
  const want = verdict.messages.length + verdict.pings.length;
  const deadline = Date.now() + 3000;
  for (;;) {
    const seen = client.frames.filter((f) => f.opcode === Opcode.PONG || f.opcode === Opcode.TEXT || f.opcode === Opcode.BINARY).length;
    if (seen >= want || Date.now() > deadline) return;
    await client.frameAt(client.frames.length, deadline - Date.now());
  }
}

describe('hostile frames against a live node', { timeout: timeoutFor(20_000) }, () => {
  let edge: EdgeUnderTest;
  beforeAll(async () => {
    edge = await startEdgeUnderTest();
  });
  afterAll(async () => {
    await edge.close();
  });

  it('answers every generated stream as RFC 6455 says, and the bystander keeps being served', async () => {
    const seen = { fail: 0, 'client-close': 0, incomplete: 0, open: 0 };
    await fc.assert(
      fc.asyncProperty(hostileCase, async ({ stream, truncateAt, cuts }) => {
        const sent = truncateAt === undefined ? stream : stream.subarray(0, truncateAt);
        const verdict = judge(sent, LIMITS);
        const guard = guardWouldTrip(sent, LIMITS);
        seen[verdict.kind]++;
        const client = await RawClient.open(edge.port, '/echo');
        try {
          await client.writeInPieces(sent, cuts);
          let outcome: Outcome;
          if (verdict.kind === 'open') {
            await waitForEchoes(client, verdict);
            client.write(encodeFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000, 'done') }));
            client.sentClose();
            outcome = await client.outcome();
            expect(outcome.close?.code, 'the server answers a close 1000 with 1000').toBe(1000);
            expectEchoesPrefix(outcome, verdict, !guard);
          } else if (verdict.kind === 'incomplete') {
            // The peer stops inside a frame and half-closes: the server ends the connection.
            client.end();
            outcome = await client.outcome();
            if (outcome.close !== undefined) expect([...(verdict.mayClose ?? []), ...(guard ? [1009] : [])]).toContain(outcome.close.code);
            expectEchoesPrefix(outcome, verdict, false);
          } else {
            if (verdict.kind === 'client-close') client.sentClose();
            outcome = await client.outcome();
            expect(outcome.close, 'a close frame').toBeDefined();
            expect(acceptableCodes(verdict, guard)).toContain(outcome.close!.code);
            expectEchoesPrefix(outcome, verdict, false);
          }
          expect(outcome.ended, 'the server ends the TCP connection').toBe(true);
          expectWellFormedServer(outcome);
        } finally {
          client.destroy();
        }
        await edge.attackersGone();
        await edge.bystanderServed();
      }),
      // One case of each verdict first: whatever the random cases reach, every kind is checked.
      { numRuns: RUNS.frames, examples: VERDICT_EXAMPLES.map((example) => [example]) },
    );
    // The generator must reach every kind of verdict, or the property proves less than it says.
    expect(seen.fail).toBeGreaterThan(0);
    expect(seen['client-close']).toBeGreaterThan(0);
    expect(seen.incomplete).toBeGreaterThan(0);
    expect(seen.open).toBeGreaterThan(0);
  });

  it('answers garbage sent instead of a handshake with a 4xx or by closing, never a 5xx, and keeps serving', async () => {
    const request = (path: string): string =>
      `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const garbage = fc.oneof(
      bytes(2000),
      // Empty lines before a request line are allowed (RFC 9112 §2.2): the junk holds something else.
      fc.tuple(bytes(200).filter((junk) => junk.some((b) => b !== 0x0d && b !== 0x0a)), fc.constantFrom('/echo', '/dummy')).map(([junk, path]) => Buffer.concat([junk, Buffer.from(request(path))])),
      fc
        .tuple(fc.constantFrom('GET', 'POST', 'PUT', 'G\0T', 'get', 'CONNECT'), fc.string({ maxLength: 80 }), fc.array(fc.tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 60 })), { maxLength: 6 }))
        .map(([method, target, headers]) =>
          Buffer.from(`${method} /x${target} HTTP/1.1\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}Upgrade: websocket\r\n\r\n`, 'utf8'),
        ),
    );
    await fc.assert(
      fc.asyncProperty(garbage, async (junk) => {
        const answer = await new Promise<string>((resolve, reject) => {
          const socket = connect(edge.port, '127.0.0.1');
          const chunks: Buffer[] = [];
          const timer = setTimeout(() => {
            socket.destroy();
            reject(new Error('the node neither answered nor closed within 3 s'));
          }, 3000);
          socket.on('data', (chunk: Buffer) => chunks.push(chunk));
          socket.on('error', () => undefined);
          socket.on('close', () => {
            clearTimeout(timer);
            resolve(Buffer.concat(chunks).toString('latin1'));
          });
          socket.on('connect', () => socket.end(junk));
        });
        if (answer.length > 0) expect(answer).toMatch(/^HTTP\/1\.1 4\d\d /);
        await edge.attackersGone();
        await edge.bystanderServed();
      }),
      { numRuns: RUNS.garbage },
    );
  });

  it('survives clients that vanish mid-frame (reset without a close) at any byte', async () => {
    await fc.assert(
      fc.asyncProperty(hostileCase, fc.double({ min: 0, max: 1, noNaN: true }), async ({ stream }, where) => {
        const client = await RawClient.open(edge.port, '/echo');
        client.write(stream.subarray(0, Math.floor(where * stream.length)));
        client.socket.resetAndDestroy();
        await edge.attackersGone();
        await edge.bystanderServed();
      }),
      { numRuns: RUNS.resets },
    );
  });
});
