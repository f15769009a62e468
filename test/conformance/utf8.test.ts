/**
 * RFC 6455 §5.6 and §8.1: a text message is UTF-8 as a whole (RFC 3629): a character may be
 * split across fragments; overlong forms, surrogates, code points past U+10FFFF, stray
 * continuation bytes and cut sequences fail the connection with 1007.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, INVALID_UTF8, Opcode, text } from '../support/frames.js';
import { echoes, expectAccepted, expectFailure, shippedEdgeForSuite } from './support.js';

const VALID = 'κόσμε — 世界 — 𝄞 — 🎉 — \u{10FFFF} \uFFFF \uFEFF';

function splitAt(bytes: Buffer, cuts: number[]): Buffer {
  const points = [0, ...cuts, bytes.length];
  const frames: Buffer[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    frames.push(encodeFrame({ opcode: i === 0 ? Opcode.TEXT : Opcode.CONTINUATION, payload: bytes.subarray(points[i], points[i + 1]), fin: i + 2 === points.length }));
  }
  return Buffer.concat(frames);
}

const hex = (bytes: readonly number[]): string => Buffer.from(bytes).toString('hex');

describe('UTF-8 rules for text (RFC 6455 §5.6, §8.1)', () => {
  const edge = shippedEdgeForSuite();

  it('accepts 1- to 4-byte characters, U+10FFFF and noncharacters in one frame', async () => {
    expect(echoes(await expectAccepted(edge, text(VALID), { expectReplies: 1 }))).toEqual([`>${VALID}`]);
  });

  it('accepts the same text split into fragments at every byte, through the middle of characters', async () => {
    const bytes = Buffer.from(VALID);
    const everyByte = Array.from({ length: bytes.length - 1 }, (_, i) => i + 1);
    expect(echoes(await expectAccepted(edge, splitAt(bytes, everyByte), { expectReplies: 1 }))).toEqual([`>${VALID}`]);
  });

  it('accepts a 4-byte character split 1+3, 2+2 and 3+1 across two fragments', async () => {
    const clef = Buffer.from('𝄞');
    for (const cut of [1, 2, 3]) {
      expect(echoes(await expectAccepted(edge, splitAt(clef, [cut]), { expectReplies: 1 }))).toEqual(['>𝄞']);
    }
  });

  it.each(INVALID_UTF8.map((bytes) => [hex(bytes), bytes] as const))('fails a text frame holding %s with 1007', async (_hex, bad) => {
    await expectFailure(edge, text(Buffer.concat([Buffer.from('ok so far '), Buffer.from(bad), Buffer.from(' and after')])), 1007);
  });

  it.each(INVALID_UTF8.map((bytes) => [hex(bytes), bytes] as const))('fails %s split across fragments with 1007', async (_hex, bad) => {
    const bytes = Buffer.concat([Buffer.from('ab'), Buffer.from(bad), Buffer.from('cd')]);
    await expectFailure(edge, splitAt(bytes, [1, 3]), 1007);
  });

  it('fails a message whose first fragment is invalid even when the rest is valid, with 1007', async () => {
    await expectFailure(edge, Buffer.concat([encodeFrame({ opcode: Opcode.TEXT, payload: Buffer.from([0xc0, 0xaf]), fin: false }), encodeFrame({ opcode: Opcode.CONTINUATION, payload: 'fine' })]), 1007);
  });

  it('fails a message that ends in the middle of a character (last fragment cut short) with 1007', async () => {
    const euro = Buffer.from('€');
    await expectFailure(edge, splitAt(Buffer.concat([Buffer.from('price: '), euro.subarray(0, 2)]), [8]), 1007);
  });

  it('lets invalid UTF-8 through in binary messages (no text rules apply)', async () => {
    const outcome = await expectAccepted(edge, encodeFrame({ opcode: Opcode.BINARY, payload: Buffer.from([0xff, 0xc0, 0x80]) }), { expectReplies: 1 });
    expect(outcome.messages[0]!.opcode).toBe(Opcode.BINARY);
    expect(outcome.messages[0]!.payload.equals(Buffer.from([0x3e, 0xff, 0xc0, 0x80]))).toBe(true);
  });
});
