/**
 * What the conformance cases share: one exchange with the edge over a raw socket, and the
 * checks every exchange must pass whatever it tested (server frames unmasked, no reserved
 * bits, nothing after the server's close frame, the TCP connection ended by the server).
 */
import { afterAll, beforeAll, expect } from 'vitest';
import { close, Opcode, type Frame } from '../support/frames.js';
import { RawClient, type Outcome } from '../support/raw-client.js';
import { startEdgeUnderTest, type EdgeUnderTest } from '../hostile/edge-fixture.js';

/**
 * The edge with the shipped limits (frame 32 KiB, message 128 KiB) for the calling suite:
 * started before its cases, checked to still serve its bystander and stopped after them.
 * Filled in by beforeAll, so read it inside cases only.
 */
export function shippedEdgeForSuite(): EdgeUnderTest {
  const edge = {} as EdgeUnderTest;
  beforeAll(async () => {
    Object.assign(edge, await startEdgeUnderTest({ maxFrameBytes: 32768, maxMessageBytes: 131072 }));
  });
  afterAll(async () => {
    await edge.bystanderServed();
    await edge.close();
  });
  return edge;
}

export interface ExchangeOptions {
  path?: string;
  /** Data frames and pongs to wait for before this side closes with 1000. */
  expectReplies?: number;
  /** Write the bytes in pieces cut at these offsets, a loop turn apart. */
  cuts?: number[];
}

/** The edge must fail the connection: its close frame carries one of `codes`. */
export async function expectFailure(edge: EdgeUnderTest, bytes: Buffer, codes: number | number[], options: ExchangeOptions = {}): Promise<Outcome> {
  const client = await RawClient.open(edge.port, options.path ?? '/echo');
  try {
    await client.writeInPieces(bytes, options.cuts ?? []);
    const outcome = await client.outcome();
    expect(outcome.close, 'the server sends a close frame').toBeDefined();
    expect([codes].flat()).toContain(outcome.close!.code);
    expectConformingServer(outcome);
    return outcome;
  } finally {
    client.destroy();
  }
}

/**
 * The edge must accept the bytes: `expectReplies` data frames or pongs come back, then this
 * side closes with 1000 and the server answers 1000 and ends the connection.
 */
export async function expectAccepted(edge: EdgeUnderTest, bytes: Buffer, options: ExchangeOptions = {}): Promise<Outcome> {
  const client = await RawClient.open(edge.port, options.path ?? '/echo');
  try {
    await client.writeInPieces(bytes, options.cuts ?? []);
    const want = options.expectReplies ?? 0;
    const deadline = Date.now() + 3000;
    while (replies(client.frames) < want && Date.now() < deadline && !client.ended) {
      await client.frameAt(client.frames.length, deadline - Date.now());
    }
    client.sentClose();
    client.write(close(1000, 'done'));
    const outcome = await client.outcome();
    expect(outcome.close?.code, 'the connection stayed open until this side closed it with 1000').toBe(1000);
    expectConformingServer(outcome);
    return outcome;
  } finally {
    client.destroy();
  }
}

function replies(frames: Frame[]): number {
  return frames.filter((f) => f.opcode === Opcode.TEXT || f.opcode === Opcode.BINARY || f.opcode === Opcode.PONG).length;
}

export function expectConformingServer(outcome: Outcome): void {
  expect(outcome.malformed, 'server frames are unmasked, without reserved bits or opcodes').toEqual([]);
  expect(
    outcome.afterClose.filter((f) => f.opcode < 0x8).map((f) => f.payload.toString()),
    'no data frame after the server close frame (RFC 6455 §5.5.1)',
  ).toEqual([]);
  expect(outcome.ended, 'the server ends the TCP connection').toBe(true);
}

/** Text payloads of the echoes (`>` + message), in order. */
export function echoes(outcome: Outcome): string[] {
  return outcome.messages.map((m) => m.payload.toString('utf8'));
}
