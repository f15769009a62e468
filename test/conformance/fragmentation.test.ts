/**
 * RFC 6455 §5.4: fragmentation. A message may arrive in any number of fragments (empty ones
 * too), with control frames between them; a continuation without a start, a new data frame
 * inside a fragmented message and a fragmented control frame fail the connection with 1002.
 */
import { describe, expect, it } from 'vitest';
import { closePayload, encodeFrame, Opcode } from '../support/frames.js';
import { echoes, expectAccepted, expectFailure, shippedEdgeForSuite } from './support.js';

/** `data` as a message of `opcode` cut into fragments of `size` bytes (at least one, maybe empty). */
function fragments(opcode: number, data: Buffer, size: number, between: (index: number) => Buffer[] = () => []): Buffer {
  const frames: Buffer[] = [];
  const count = Math.max(1, Math.ceil(data.length / size));
  for (let i = 0; i < count; i++) {
    frames.push(encodeFrame({ opcode: i === 0 ? opcode : Opcode.CONTINUATION, payload: data.subarray(i * size, (i + 1) * size), fin: i === count - 1 }));
    if (i < count - 1) frames.push(...between(i));
  }
  return Buffer.concat(frames);
}

describe('fragmentation (RFC 6455 §5.4)', () => {
  const edge = shippedEdgeForSuite();

  it.each([1, 2, 7, 64])('reassembles a text message sent in fragments of %i bytes', async (size) => {
    const message = 'Hello, fragmented world! '.repeat(4);
    const outcome = await expectAccepted(edge, fragments(Opcode.TEXT, Buffer.from(message), size), { expectReplies: 1 });
    expect(echoes(outcome)).toEqual([`>${message}`]);
  });

  it('reassembles a binary message of 100,000 bytes sent in 32 KiB fragments', async () => {
    const data = Buffer.alloc(100_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const outcome = await expectAccepted(edge, fragments(Opcode.BINARY, data, 32768), { expectReplies: 1 });
    expect(outcome.messages).toHaveLength(1);
    expect(outcome.messages[0]!.opcode).toBe(Opcode.BINARY);
    expect(outcome.messages[0]!.payload.equals(Buffer.concat([Buffer.from('>'), data]))).toBe(true);
  });

  it('accepts empty fragments: an empty start, empty continuations and an empty final fragment', async () => {
    const bytes = Buffer.concat([
      encodeFrame({ opcode: Opcode.TEXT, payload: '', fin: false }),
      encodeFrame({ opcode: Opcode.CONTINUATION, payload: 'ab', fin: false }),
      encodeFrame({ opcode: Opcode.CONTINUATION, payload: '', fin: false }),
      encodeFrame({ opcode: Opcode.CONTINUATION, payload: 'c', fin: false }),
      encodeFrame({ opcode: Opcode.CONTINUATION, payload: '', fin: true }),
    ]);
    expect(echoes(await expectAccepted(edge, bytes, { expectReplies: 1 }))).toEqual(['>abc']);
  });

  it('answers pings sent between fragments at once, and delivers the message whole', async () => {
    const bytes = fragments(Opcode.TEXT, Buffer.from('one two three'), 4, (i) => [encodeFrame({ opcode: Opcode.PING, payload: `ping ${i}` })]);
    const outcome = await expectAccepted(edge, bytes, { expectReplies: 4 });
    expect(outcome.pongs.map(String)).toEqual(['ping 0', 'ping 1', 'ping 2']);
    expect(echoes(outcome)).toEqual(['>one two three']);
  });

  it('ignores unsolicited pongs between fragments', async () => {
    const bytes = fragments(Opcode.TEXT, Buffer.from('abcdef'), 2, () => [encodeFrame({ opcode: Opcode.PONG, payload: 'unasked' })]);
    const outcome = await expectAccepted(edge, bytes, { expectReplies: 1 });
    expect(echoes(outcome)).toEqual(['>abcdef']);
    expect(outcome.pongs).toEqual([]);
  });

  it('keeps two fragmented messages apart when sent back to back', async () => {
    const bytes = Buffer.concat([fragments(Opcode.TEXT, Buffer.from('first message'), 3), fragments(Opcode.TEXT, Buffer.from('second'), 2)]);
    expect(echoes(await expectAccepted(edge, bytes, { expectReplies: 2 }))).toEqual(['>first message', '>second']);
  });

  it('answers a close sent in the middle of a fragmented message', async () => {
    const bytes = Buffer.concat([encodeFrame({ opcode: Opcode.TEXT, payload: 'half', fin: false }), encodeFrame({ opcode: Opcode.CLOSE, payload: closePayload(1000) })]);
    await expectFailure(edge, bytes, 1000);
  });

  it('fails a continuation frame without a started message with 1002', async () => {
    await expectFailure(edge, encodeFrame({ opcode: Opcode.CONTINUATION, payload: 'orphan' }), 1002);
  });

  it('fails a continuation after the final fragment with 1002', async () => {
    const bytes = Buffer.concat([fragments(Opcode.TEXT, Buffer.from('done'), 2), encodeFrame({ opcode: Opcode.CONTINUATION, payload: 'more' })]);
    await expectFailure(edge, bytes, 1002);
  });

  it.each([
    ['text', Opcode.TEXT],
    ['binary', Opcode.BINARY],
  ])('fails a new %s frame inside a fragmented message with 1002', async (_name, opcode) => {
    const bytes = Buffer.concat([encodeFrame({ opcode: Opcode.TEXT, payload: 'start', fin: false }), encodeFrame({ opcode, payload: 'intruder' })]);
    await expectFailure(edge, bytes, 1002);
  });

  it.each([
    ['ping', Opcode.PING],
    ['pong', Opcode.PONG],
    ['close', Opcode.CLOSE],
  ])('fails a fragmented %s frame (control frames are never fragmented) with 1002', async (_name, opcode) => {
    const bytes = Buffer.concat([encodeFrame({ opcode, payload: opcode === Opcode.CLOSE ? closePayload(1000) : 'x', fin: false })]);
    await expectFailure(edge, bytes, 1002);
  });

  it('fails with 1009 a message whose fragments each fit maxFrameBytes but whose total exceeds maxMessageBytes', async () => {
    await expectFailure(edge, fragments(Opcode.BINARY, Buffer.alloc(131073), 32768), 1009);
  });
});
