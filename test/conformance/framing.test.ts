/**
 * RFC 6455 §5.1-5.3: base framing. Client frames must be masked, reserved bits and opcodes
 * must not be used, lengths use 7, 16 or 64 bits (top bit clear); frames may arrive in any
 * split, even pipelined with the handshake. Server frames are never masked. Over the edge's
 * limits a frame or message is refused with 1009.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, Opcode, text } from '../support/frames.js';
import { RawClient } from '../support/raw-client.js';
import { echoes, expectAccepted, expectConformingServer, expectFailure, shippedEdgeForSuite } from './support.js';

describe('base framing (RFC 6455 §5.1-5.3)', () => {
  const edge = shippedEdgeForSuite();

  it.each([
    ['text', Opcode.TEXT],
    ['binary', Opcode.BINARY],
    ['ping', Opcode.PING],
    ['close', Opcode.CLOSE],
  ])('fails an unmasked %s frame from the client with 1002', async (_name, opcode) => {
    await expectFailure(edge, encodeFrame({ opcode, payload: '', mask: false }), 1002);
  });

  it('unmasks with the key the frame carries (an all-zero key, a key of 0xff bytes)', async () => {
    const bytes = Buffer.concat([text('zero key', { mask: Buffer.alloc(4) }), text('ones key', { mask: Buffer.alloc(4, 0xff) })]);
    expect(echoes(await expectAccepted(edge, bytes, { expectReplies: 2 }))).toEqual(['>zero key', '>ones key']);
  });

  it.each([1, 2, 3, 4, 5, 6, 7])('fails a frame with reserved bits %i set (no extension negotiated) with 1002', async (rsv) => {
    await expectFailure(edge, text('x', { rsv }), 1002);
  });

  it.each([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf])('fails reserved opcode %i with 1002', async (opcode) => {
    await expectFailure(edge, encodeFrame({ opcode, payload: 'x' }), 1002);
  });

  it('fails a reserved opcode announcing more than maxFrameBytes with 1002, not 1009', async () => {
    await expectFailure(edge, encodeFrame({ opcode: 0x3, declaredLength: 40_000 }), 1002);
  });

  it('reads 7-, 16- and 64-bit lengths at their boundaries (125, 126, 65535 split in frames, 70,000)', async () => {
    const sizes = [125, 126, 127, 30_000];
    const bytes = Buffer.concat(sizes.map((n) => text('a'.repeat(n))));
    const outcome = await expectAccepted(edge, bytes, { expectReplies: sizes.length });
    expect(echoes(outcome).map((e) => e.length - 1)).toEqual(sizes);
    const big = Buffer.alloc(70_000, 0x62);
    const fragmented = Buffer.concat([
      encodeFrame({ opcode: Opcode.BINARY, payload: big.subarray(0, 32768), fin: false }),
      encodeFrame({ opcode: Opcode.CONTINUATION, payload: big.subarray(32768, 65536), fin: false }),
      encodeFrame({ opcode: Opcode.CONTINUATION, payload: big.subarray(65536) }),
    ]);
    const second = await expectAccepted(edge, fragmented, { expectReplies: 1 });
    expect(second.messages[0]!.payload.length).toBe(70_001);
    // The server's own frame for 70,001 bytes uses the 64-bit length field.
  });

  it('accepts frames that arrive one byte at a time', async () => {
    const bytes = Buffer.concat([text('slow'), encodeFrame({ opcode: Opcode.PING, payload: 'p' })]);
    const cuts = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    const outcome = await expectAccepted(edge, bytes, { expectReplies: 2, cuts });
    expect(echoes(outcome)).toEqual(['>slow']);
    expect(outcome.pongs.map(String)).toEqual(['p']);
  });

  it('accepts frames pipelined in the same packet as the upgrade request', async () => {
    const client = await RawClient.open(edge.port, '/echo', { pipelined: Buffer.concat([text('early bird'), encodeFrame({ opcode: Opcode.PING, payload: 'p' })]) });
    const first = await client.frameAt(1);
    expect(first).toBeDefined();
    client.sentClose();
    client.write(encodeFrame({ opcode: Opcode.CLOSE, payload: Buffer.from([0x03, 0xe8]) }));
    const outcome = await client.outcome();
    client.destroy();
    expect(echoes(outcome)).toEqual(['>early bird']);
    expect(outcome.pongs.map(String)).toEqual(['p']);
    expectConformingServer(outcome);
  });

  it('fails a data frame over maxFrameBytes (32 KiB) with 1009 as soon as its header arrives', async () => {
    const client = await RawClient.open(edge.port, '/echo');
    client.write(encodeFrame({ opcode: Opcode.TEXT, declaredLength: 32769 }));
    expect((await client.closeFrame())?.code).toBe(1009);
    client.destroy();
  });

  // The frame-size guard fails the connection (RFC 6455 §7.1.7): the parser is inside the
  // announced payload and could never see the client's close frame.
  it('ends the TCP connection after that 1009 without waiting for a close frame the parser cannot see', async () => {
    await expectFailure(edge, encodeFrame({ opcode: Opcode.TEXT, declaredLength: 32769 }), 1009);
  });

  it.each([2n ** 32n, 2n ** 53n - 1n, 2n ** 53n])('fails a 64-bit length of %s with 1009', async (length) => {
    await expectFailure(edge, encodeFrame({ opcode: Opcode.BINARY, declaredLength: length, lengthField: 64 }), 1009);
  });

  it('fails a 64-bit length with the top bit set (RFC: must be 0) with 1002 or 1009', async () => {
    await expectFailure(edge, encodeFrame({ opcode: Opcode.BINARY, declaredLength: 2n ** 63n + 5n, lengthField: 64 }), [1002, 1009]);
  });
});
