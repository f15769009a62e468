import { describe, expect, it } from 'vitest';
import { FrameSizeGuard } from '../../src/edge/frames.js';

/** A client frame header (masked) announcing `length` bytes, with the 7-, 16- or 64-bit form chosen by size. */
function header(opcode: number, length: number, form: 7 | 16 | 64 = length < 126 ? 7 : length < 65536 ? 16 : 64): Buffer {
  const extended = form === 7 ? 0 : form === 16 ? 2 : 8;
  const out = Buffer.alloc(2 + extended + 4);
  out[0] = 0x80 | opcode;
  if (form === 7) out[1] = 0x80 | length;
  else if (form === 16) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(length), 2);
  }
  out.fill(0xa5, 2 + extended);
  return out;
}

function frame(opcode: number, length: number, form?: 7 | 16 | 64): Buffer {
  return Buffer.concat([header(opcode, length, form), Buffer.alloc(length, 0x61)]);
}

/** Feeds `bytes` in pieces cut at pseudo-random positions; false once the guard trips. */
function feed(guard: FrameSizeGuard, bytes: Buffer, seed: number): boolean {
  let state = seed;
  let i = 0;
  while (i < bytes.length) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    const n = 1 + (state % 23);
    if (!guard.accept(bytes.subarray(i, i + n))) return false;
    i += n;
  }
  return true;
}

describe('frame-size guard', () => {
  const LIMIT = 1000;

  it('lets frames up to the limit through in every length form, however the bytes are cut', () => {
    const stream = Buffer.concat([frame(1, 10), frame(2, 125), frame(0, 126), frame(1, LIMIT), frame(2, 300, 64), frame(1, 5, 16), frame(9, 4), frame(10, 0)]);
    for (let seed = 1; seed <= 200; seed++) expect(feed(new FrameSizeGuard(LIMIT), stream, seed)).toBe(true);
    expect(new FrameSizeGuard(LIMIT).accept(stream)).toBe(true);
  });

  it('trips on the first data frame over the limit, in each length form, wherever the header is cut', () => {
    for (const [opcode, form] of [
      [1, 16],
      [2, 64],
      [0, 16],
    ] as const) {
      const stream = Buffer.concat([frame(1, 50), header(opcode, LIMIT + 1, form)]);
      for (let seed = 1; seed <= 200; seed++) expect(feed(new FrameSizeGuard(LIMIT), stream, seed)).toBe(false);
    }
  });

  it('judges the header only once it is whole, masking key included', () => {
    const head = header(2, LIMIT + 1, 64);
    const guard = new FrameSizeGuard(LIMIT);
    expect(guard.accept(head.subarray(0, head.length - 1))).toBe(true);
    expect(guard.accept(head.subarray(head.length - 1))).toBe(false);
  });

  it('reads a 64-bit length beyond 2^32 as too big', () => {
    expect(new FrameSizeGuard(LIMIT).accept(header(1, 2 ** 40, 64))).toBe(false);
  });

  it('leaves control frames and reserved opcodes to the protocol parser', () => {
    expect(new FrameSizeGuard(LIMIT).accept(header(9, 2000, 16))).toBe(true);
    expect(new FrameSizeGuard(LIMIT).accept(header(3, 2000, 16))).toBe(true);
  });
});
