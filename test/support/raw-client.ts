/**
 * A WebSocket client on a raw TCP socket: it writes the upgrade request itself, checks the
 * 101 answer (Sec-WebSocket-Accept included, RFC 6455 §4.2.2), then sends whatever bytes a test
 * hands it and records every frame the server sends, in order, with the TCP end. It answers a
 * server's close frame with a close frame of the same code, as a well-behaved client does, so
 * the server can finish its closing handshake without waiting for a timeout.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { close as closeFrame, FrameReader, Opcode, parseClose, type Frame } from './frames.js';
import { parseHead } from './raw-http.js';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

export interface ServerClose {
  /** Undefined when the close frame had no payload (1005 locally). */
  code: number | undefined;
  reason: Buffer;
}

/** Everything the server did until it closed the TCP connection (or the wait ran out). */
export interface Outcome {
  /** The server's first close frame, if it sent one. */
  close: ServerClose | undefined;
  /** Data frames (text, binary, continuation) the server sent before its close frame. */
  messages: Frame[];
  pongs: Buffer[];
  /** Frames of any kind after the server's close frame: RFC 6455 §5.5.1 forbids data ones. */
  afterClose: Frame[];
  /** Whether the server ended the TCP connection within the wait. */
  ended: boolean;
  /** Frames that break the server's side of the protocol: masked, reserved bits, unknown opcodes. */
  malformed: Frame[];
}

export interface OpenOptions {
  /** Bytes written in the same packet as the upgrade request (frames pipelined with it). */
  pipelined?: Buffer;
  /** Extra request header lines. */
  headers?: Record<string, string>;
  /** Answer a server close frame with one (default true). */
  answerClose?: boolean;
}

export class RawClient {
  readonly frames: Frame[] = [];
  ended = false;
  private readonly reader = new FrameReader();
  private readonly waiters: (() => void)[] = [];
  private closeSent = false;
  readonly endedPromise: Promise<void>;

  private constructor(
    readonly socket: Socket,
    /** Headers of the 101 answer, names in lower case. */
    readonly headers: ReadonlyMap<string, string>,
    rest: Buffer,
    private readonly answerClose: boolean,
  ) {
    this.endedPromise = new Promise((resolve) => {
      const done = (): void => {
        this.ended = true;
        this.wake();
        resolve();
      };
      socket.once('end', done);
      socket.once('close', done);
    });
    socket.on('data', (chunk: Buffer) => this.received(chunk));
    if (rest.length > 0) this.received(rest);
  }

  /** Connects and upgrades; rejects with the HTTP status when the server refuses. */
  static open(port: number, path: string, options: OpenOptions = {}): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const key = randomBytes(16).toString('base64');
      const socket = connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      let buffered = Buffer.alloc(0);
      const fail = (err: Error): void => {
        socket.destroy();
        reject(err);
      };
      const onData = (chunk: Buffer): void => {
        buffered = Buffer.concat([buffered, chunk]);
        const head = parseHead(buffered);
        if (head === undefined) return;
        socket.off('data', onData);
        socket.off('error', fail);
        const status = head.status;
        const headers = new Map(Object.entries(head.headers));
        if (status !== 101) return fail(Object.assign(new Error(`upgrade refused with ${status}`), { status }));
        const accept = createHash('sha1').update(key + GUID).digest('base64');
        if (headers.get('sec-websocket-accept') !== accept) return fail(new Error('wrong Sec-WebSocket-Accept'));
        if (headers.get('upgrade')?.toLowerCase() !== 'websocket') return fail(new Error('101 without Upgrade: websocket'));
        if (!/\bupgrade\b/i.test(headers.get('connection') ?? '')) return fail(new Error('101 without Connection: Upgrade'));
        socket.on('error', () => undefined);
        resolve(new RawClient(socket, headers, head.rest, options.answerClose ?? true));
      };
      socket.on('data', onData);
      socket.once('error', fail);
      socket.once('connect', () => {
        const extra = Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}\r\n`).join('');
        const request =
          `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;
        socket.write(options.pipelined ? Buffer.concat([Buffer.from(request, 'latin1'), options.pipelined]) : Buffer.from(request, 'latin1'));
      });
    });
  }

  /** The id the gateway gave this connection (X-Yc-Apigateway-Websocket-Connection-Id). */
  get connectionId(): string {
    return this.headers.get('x-yc-apigateway-websocket-connection-id') ?? '';
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  /** Writes the bytes in pieces of the given sizes, each in its own TCP write (after a turn of the loop). */
  async writeInPieces(bytes: Buffer, cuts: number[]): Promise<void> {
    let start = 0;
    for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length)].sort((a, b) => a - b)) {
      this.write(bytes.subarray(start, cut));
      start = cut;
      await new Promise((resolve) => setImmediate(resolve));
    }
    this.write(bytes.subarray(start));
  }

  /** Half-closes: no more bytes from this side. */
  end(): void {
    if (!this.socket.destroyed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** The next frame whose index is at least `from`; resolves undefined when the socket ends first or time runs out. */
  async frameAt(index: number, timeoutMs = 3000): Promise<Frame | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length <= index) {
      if (this.ended) return undefined;
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await this.waitForActivity(left);
    }
    return this.frames[index];
  }

  /** Data messages (reassembled) and the close, until the server ends the connection. */
  async outcome(timeoutMs = 3000): Promise<Outcome> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await this.waitForActivity(left);
    }
    return summarize(this.frames, this.ended);
  }

  /** Resolves once the server's close frame has arrived (or the socket ended, or time ran out). */
  async closeFrame(timeoutMs = 3000): Promise<ServerClose | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.frames.find((f) => f.opcode === Opcode.CLOSE);
      if (found) return parseClose(found.payload);
      const left = deadline - Date.now();
      if (this.ended || left <= 0) return undefined;
      await this.waitForActivity(left);
    }
  }

  private received(chunk: Buffer): void {
    for (const frame of this.reader.push(chunk)) {
      this.frames.push(frame);
      if (frame.opcode === Opcode.CLOSE && this.answerClose && !this.closeSent) {
        this.closeSent = true;
        const { code } = parseClose(frame.payload);
        this.write(closeFrame(code));
      }
    }
    this.wake();
  }

  /** Marks that this side sent its own close frame (the server's answer must not be answered). */
  sentClose(): void {
    this.closeSent = true;
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private waitForActivity(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }
}

function summarize(frames: Frame[], ended: boolean): Outcome {
  const outcome: Outcome = { close: undefined, messages: [], pongs: [], afterClose: [], ended, malformed: [] };
  for (const frame of frames) {
    if (frame.masked || frame.rsv !== 0 || ![0, 1, 2, 8, 9, 10].includes(frame.opcode)) outcome.malformed.push(frame);
    if (outcome.close !== undefined) {
      outcome.afterClose.push(frame);
      continue;
    }
    if (frame.opcode === Opcode.CLOSE) outcome.close = parseClose(frame.payload);
    else if (frame.opcode === Opcode.PONG) outcome.pongs.push(frame.payload);
    else if (frame.opcode !== Opcode.PING) outcome.messages.push(frame);
  }
  return outcome;
}
