/**
 * Server-to-client frames are never masked (RFC 6455 §5.1), so a frame is a 2-, 4- or 10-byte
 * header and the payload. Building header and payload into one buffer once per message lets
 * every recipient socket take it in a single write.
 */
export function encodeFrame(payload: Buffer, binary: boolean): Buffer {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + length);
  frame[0] = 0x80 | (binary ? 0x2 : 0x1);
  if (length < 126) {
    frame[1] = length;
  } else if (length < 65536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 2 ** 32), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  payload.copy(frame, headerLength);
  return frame;
}

/**
 * Joins the frames a socket queued in one turn into one buffer for a single write. The
 * subscribers of a topic queue the same frames in the same order, so consecutive sockets of
 * one flush usually ask for the same join: it is made once and shared, instead of copied per
 * socket. Comparing the parts by identity costs a few pointer checks per socket.
 */
export class FrameJoiner {
  private parts: readonly Buffer[] | undefined = undefined;
  private joined: Buffer | undefined = undefined;

  join(parts: readonly Buffer[]): Buffer {
    const last = this.parts;
    if (last !== undefined && last.length === parts.length && this.joined !== undefined) {
      let i = 0;
      while (i < parts.length && last[i] === parts[i]) i++;
      if (i === parts.length) return this.joined;
    }
    const joined = Buffer.concat(parts as Buffer[]);
    this.parts = parts;
    this.joined = joined;
    return joined;
  }

  /** Drops what the last join held, so a flush keeps nothing alive after it. */
  clear(): void {
    this.parts = undefined;
    this.joined = undefined;
  }
}

/**
 * `ws` bounds a whole message (maxPayload) but not one frame of it. This guard reads only
 * frame headers as bytes arrive and skips payloads, so it costs a few operations per frame
 * and never buffers data. Its state is numbers only: no buffer per connection (a small Buffer
 * would also be a slice of Node's shared pool and keep a whole slab alive, docs/reliability.md).
 */
export class FrameSizeGuard {
  /** Payload bytes still to skip. */
  private skip = 0;
  /** Header bytes read of the frame being parsed, and how many the header has. */
  private have = 0;
  private need = 2;
  private opcode = 0;
  /** Where the extended length ends in the header (2 when there is none). */
  private lengthEnd = 2;
  /** The payload length: the 7-bit field, or the extended length as its bytes arrive. */
  private length = 0;

  constructor(private readonly maxFrameBytes: number) {}

  /** False as soon as a data frame announces a payload over the limit. */
  accept(chunk: Buffer): boolean {
    let i = 0;
    const end = chunk.length;
    while (i < end) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, end - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++]!;
      const at = this.have++;
      if (at === 0) {
        this.opcode = byte & 0x0f;
      } else if (at === 1) {
        const field = byte & 0x7f;
        this.lengthEnd = 2 + (field === 126 ? 2 : field === 127 ? 8 : 0);
        this.length = field < 126 ? field : 0;
        this.need = this.lengthEnd + (byte & 0x80 ? 4 : 0);
      } else if (at < this.lengthEnd) {
        // Big-endian extended length; past 2^53 the number is inexact but still far over any limit.
        this.length = this.length * 256 + byte;
      }
      if (this.have < this.need) continue;
      // Only data frames (continuation, text, binary): a reserved opcode 3-7 is a protocol
      // error the parser answers with 1002, not a frame too big.
      if (this.opcode <= 0x2 && this.length > this.maxFrameBytes) return false;
      this.skip = this.length;
      this.have = 0;
      this.need = 2;
    }
    return true;
  }
}
