/**
 * What a server must do with a stream of client bytes, per RFC 6455 and the edge's limits:
 * a reference receiver written from the RFC, independent of `ws`. The hostile property tests
 * send generated streams and compare the edge's behaviour with this verdict.
 *
 * - The first violation fails the connection: 1002 for protocol errors (reserved bits or
 *   opcodes, unmasked client frames, fragmented or oversized control frames, continuation
 *   without a start, a new message inside a fragmented one, bad close codes), 1007 for text
 *   or close reasons that are not UTF-8, 1009 for frames or messages over the limits.
 * - A valid close frame from the client is answered with the same code (an empty one for an
 *   empty close frame).
 * - Bytes that stop inside a frame leave the connection waiting (`incomplete`).
 */
import { isValidCloseCode, isValidUtf8 } from '../support/frames.js';

export interface EdgeLimits {
  maxFrameBytes: number;
  maxMessageBytes: number;
}

export interface Message {
  binary: boolean;
  payload: Buffer;
}

export type Verdict =
  | { kind: 'fail'; codes: number[]; messages: Message[]; pings: Buffer[] }
  | { kind: 'client-close'; code: number | undefined; messages: Message[]; pings: Buffer[] }
  /** `mayClose`: a violation already visible in a header that lacks its masking key. */
  | { kind: 'incomplete'; messages: Message[]; pings: Buffer[]; mayClose?: number[] }
  | { kind: 'open'; messages: Message[]; pings: Buffer[] };

const TWO_POW_53 = 2n ** 53n;

export function judge(bytes: Buffer, limits: EdgeLimits): Verdict {
  const messages: Message[] = [];
  const pings: Buffer[] = [];
  const fail = (...codes: number[]): Verdict => ({ kind: 'fail', codes, messages, pings });
  let fragmented = 0;
  let parts: Buffer[] = [];
  let total = 0;
  let i = 0;
  for (;;) {
    if (i === bytes.length) return { kind: 'open', messages, pings };
    if (bytes.length - i < 2) return { kind: 'incomplete', messages, pings };
    const b0 = bytes[i]!;
    const b1 = bytes[i + 1]!;
    const fin = (b0 & 0x80) !== 0;
    const opcode = b0 & 0x0f;
    const short = b1 & 0x7f;
    if ((b0 & 0x70) !== 0) return fail(1002);
    if (opcode === 0) {
      if (fragmented === 0) return fail(1002);
    } else if (opcode === 1 || opcode === 2) {
      if (fragmented !== 0) return fail(1002);
    } else if (opcode >= 8 && opcode <= 10) {
      if (!fin || short > 125 || (opcode === 8 && short === 1)) return fail(1002);
    } else {
      return fail(1002);
    }
    if ((b1 & 0x80) === 0) return fail(1002);
    let offset = i + 2;
    let length: number;
    if (short === 126) {
      if (bytes.length - offset < 2) return { kind: 'incomplete', messages, pings };
      length = bytes.readUInt16BE(offset);
      offset += 2;
    } else if (short === 127) {
      if (bytes.length - offset < 8) return { kind: 'incomplete', messages, pings };
      const big = bytes.readBigUInt64BE(offset);
      // RFC 6455 wants the top bit clear (1002); no implementation can hold 2^53 bytes (1009).
      if (big >= 2n ** 63n) return fail(1002, 1009);
      if (big >= TWO_POW_53) return fail(1009);
      length = Number(big);
      offset += 8;
    } else {
      length = short;
    }
    const isData = opcode <= 2;
    if (isData && (length > limits.maxFrameBytes || total + length > limits.maxMessageBytes)) {
      // A receiver may judge the length before or after the masking key has arrived.
      if (bytes.length - offset < 4) return { kind: 'incomplete', messages, pings, mayClose: [1009] };
      return fail(1009);
    }
    if (bytes.length - offset < 4 + length) return { kind: 'incomplete', messages, pings };
    const mask = bytes.subarray(offset, offset + 4);
    offset += 4;
    const payload = Buffer.allocUnsafe(length);
    for (let k = 0; k < length; k++) payload[k] = bytes[offset + k]! ^ mask[k & 3]!;
    i = offset + length;
    if (opcode === 8) {
      if (length === 0) return { kind: 'client-close', code: undefined, messages, pings };
      const code = payload.readUInt16BE(0);
      if (!isValidCloseCode(code)) return fail(1002);
      if (!isValidUtf8(payload.subarray(2))) return fail(1007);
      return { kind: 'client-close', code, messages, pings };
    }
    if (opcode === 9) {
      pings.push(payload);
      continue;
    }
    if (opcode === 10) continue;
    if (opcode !== 0) {
      fragmented = opcode;
      parts = [];
    }
    parts.push(payload);
    total += length;
    if (fin) {
      const message = Buffer.concat(parts);
      if (fragmented === 1 && !isValidUtf8(message)) return fail(1007);
      messages.push({ binary: fragmented === 2, payload: message });
      fragmented = 0;
      parts = [];
      total = 0;
    }
  }
}

/**
 * Whether the edge's frame-size guard (src/edge/frames.ts) would see a data frame over the
 * limit anywhere in these bytes. It reads frame headers as bytes arrive, ahead of the protocol
 * parser and without judging the frames, so it may close with 1009 before the parser reaches
 * an earlier violation in the same read: for such streams 1009 is an acceptable answer too.
 */
export function guardWouldTrip(bytes: Buffer, limits: EdgeLimits): boolean {
  if (limits.maxFrameBytes >= limits.maxMessageBytes) return false;
  let i = 0;
  while (bytes.length - i >= 2) {
    const opcode = bytes[i]! & 0x0f;
    const short = bytes[i + 1]! & 0x7f;
    const masked = (bytes[i + 1]! & 0x80) !== 0;
    const lengthEnd = 2 + (short === 126 ? 2 : short === 127 ? 8 : 0);
    // The guard judges a header once it is whole, masking key included.
    if (bytes.length - i < lengthEnd + (masked ? 4 : 0)) return false;
    let length: number;
    if (short === 126) length = bytes.readUInt16BE(i + 2);
    else if (short === 127) length = Number(bytes.readBigUInt64BE(i + 2));
    else length = short;
    if (opcode <= 2 && length > limits.maxFrameBytes) return true;
    i += lengthEnd + (masked ? 4 : 0) + length;
  }
  return false;
}
