/**
 * RFC 6455 §5.5.2-3: a ping is answered with a pong carrying the same payload, as soon as
 * possible and in order; control payloads are at most 125 bytes; unsolicited pongs are
 * ignored.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, Opcode, text } from '../support/frames.js';
import { echoes, expectAccepted, expectFailure, shippedEdgeForSuite } from './support.js';

describe('ping and pong (RFC 6455 §5.5.2, §5.5.3)', () => {
  const edge = shippedEdgeForSuite();

  it.each([0, 1, 10, 125])('answers a ping of %i bytes with a pong carrying the same payload', async (size) => {
    const payload = Buffer.alloc(size);
    for (let i = 0; i < size; i++) payload[i] = (i * 7 + 3) & 0xff;
    const outcome = await expectAccepted(edge, encodeFrame({ opcode: Opcode.PING, payload }), { expectReplies: 1 });
    expect(outcome.pongs).toHaveLength(1);
    expect(outcome.pongs[0]!.equals(payload)).toBe(true);
  });

  it('answers ten pings in one write with ten pongs, in order', async () => {
    const bytes = Buffer.concat(Array.from({ length: 10 }, (_, i) => encodeFrame({ opcode: Opcode.PING, payload: `n${i}` })));
    const outcome = await expectAccepted(edge, bytes, { expectReplies: 10 });
    expect(outcome.pongs.map(String)).toEqual(Array.from({ length: 10 }, (_, i) => `n${i}`));
  });

  it('answers a ping between two messages before the second message is answered', async () => {
    const bytes = Buffer.concat([text('a'), encodeFrame({ opcode: Opcode.PING, payload: 'between' }), text('b')]);
    const outcome = await expectAccepted(edge, bytes, { expectReplies: 3 });
    expect(outcome.pongs.map(String)).toEqual(['between']);
    expect(echoes(outcome)).toEqual(['>a', '>b']);
  });

  it('ignores an unsolicited pong and keeps the connection', async () => {
    const bytes = Buffer.concat([encodeFrame({ opcode: Opcode.PONG, payload: 'nobody asked' }), text('still here')]);
    const outcome = await expectAccepted(edge, bytes, { expectReplies: 1 });
    expect(outcome.pongs).toEqual([]);
    expect(echoes(outcome)).toEqual(['>still here']);
  });

  it.each([
    ['ping', Opcode.PING],
    ['pong', Opcode.PONG],
  ])('fails a %s of 126 bytes (control payload over 125) with 1002', async (_name, opcode) => {
    await expectFailure(edge, encodeFrame({ opcode, payload: Buffer.alloc(126, 0x61) }), 1002);
  });

  it('fails a ping announced with a 64-bit length field of 200 bytes with 1002', async () => {
    await expectFailure(edge, encodeFrame({ opcode: Opcode.PING, payload: Buffer.alloc(200, 0x61), lengthField: 64 }), 1002);
  });
});
