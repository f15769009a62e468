/**
 * Helpers of the security tests: handshakes written by hand (to send what a browser, a
 * scanner or a slow client sends) and a self-signed certificate made at test time.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';

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
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      settled = true;
      socket.destroy();
      const [statusLine, ...lines] = buffered.subarray(0, end).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: buffered.subarray(end + 4).toString('utf8'), ms: performance.now() - started });
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

export interface Certificate {
  dir: string;
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  remove(): void;
}

/** A self-signed P-256 certificate for localhost and 127.0.0.1, made with the openssl CLI. */
export function selfSignedCertificate(commonName = 'localhost'): Certificate {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-tls-'));
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${commonName}`,
      '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ],
    { stdio: 'ignore' },
  );
  return {
    dir,
    certFile,
    keyFile,
    certPem: fs.readFileSync(certFile, 'utf8'),
    keyPem: fs.readFileSync(keyFile, 'utf8'),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
