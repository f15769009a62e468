/**
 * HTTP on a raw TCP socket, for the requests a library would not send: handshakes written by
 * hand (what a browser, a scanner or a slow client sends), answers read head first.
 */
import { connect as netConnect, type Socket } from 'node:net';

export interface ResponseHead {
  status: number;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** Bytes that arrived after the head. */
  rest: Buffer;
}

/** The response head at the start of `buffered`, or undefined while it is incomplete. */
export function parseHead(buffered: Buffer): ResponseHead | undefined {
  const end = buffered.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [statusLine, ...lines] = buffered.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine!.split(' ')[1]), headers, rest: buffered.subarray(end + 4) };
}

export interface RawUpgrade extends ResponseHead {
  socket: Socket;
}

/** The upgrade request a browser would send, written by hand. */
export function upgradeRequest(port: number, path: string): string {
  return (
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`
  );
}

/** Opens a TCP socket, performs the WebSocket handshake by hand and returns the socket paused. */
export function rawUpgrade(port: number, path: string): Promise<RawUpgrade> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const head = parseHead(buffered);
      if (head === undefined) return;
      socket.off('data', onData);
      socket.pause();
      resolve({ socket, ...head });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('connect', () => socket.write(upgradeRequest(port, path)));
  });
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds from writing the request to the answer's head. */
  ms: number;
}

/**
 * Sends one upgrade request (or, with `upgrade: false`, a plain GET) and reads the answer head
 * and whatever body follows until the server closes or 500 ms pass.
 */
export function rawRequest(
  port: number,
  target: string,
  options: { headers?: Record<string, string>; upgrade?: boolean } = {},
): Promise<RawAnswer> {
  const upgrade = options.upgrade ?? true;
  let head = `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`;
  if (upgrade) head += 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';
  else head += 'Connection: close\r\n';
  for (const [name, value] of Object.entries(options.headers ?? {})) head += `${name}: ${value}\r\n`;
  head += '\r\n';
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1');
    let buffered = Buffer.alloc(0);
    let started = 0;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      const head = parseHead(buffered);
      if (head === undefined) return;
      settled = true;
      socket.destroy();
      resolve({ status: head.status, headers: head.headers, body: head.rest.toString('utf8'), ms: performance.now() - started });
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = /content-length:\s*(\d+)/i.exec(buffered.subarray(0, end).toString('latin1'))?.[1];
      // A 101 has no body; an error answer is read to its Content-Length (or to the close).
      if (buffered.subarray(0, 12).toString('latin1').includes(' 101') || (length !== undefined && buffered.length >= end + 4 + Number(length))) finish();
    });
    socket.on('close', finish);
    socket.on('error', (err) => {
      if (!settled && buffered.indexOf('\r\n\r\n') < 0) {
        settled = true;
        reject(err);
      }
    });
    socket.once('connect', () => {
      started = performance.now();
      socket.write(head);
    });
    setTimeout(finish, 2000).unref();
  });
}

/** Opens a TCP connection and resolves with when the server closes it (ms), writing `partial` first. */
export function heldOpen(port: number, partial: string): { socket: Socket; closedAfter: Promise<number> } {
  const socket = netConnect(port, '127.0.0.1');
  const started = performance.now();
  socket.on('error', () => undefined);
  // Read whatever comes (a 408), or the server's FIN would never be seen.
  socket.resume();
  socket.once('connect', () => {
    if (partial) socket.write(partial);
  });
  const closedAfter = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now() - started)));
  return { socket, closedAfter };
}
