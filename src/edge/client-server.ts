import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { HostPort, Limits } from '../config/index.js';
import type { RouteTable } from '../routing/index.js';
import type { HandshakeGuard } from './handshake-guard.js';
import { parseRequestTarget } from './request-target.js';

export interface ClientServerOptions {
  limits: Limits;
  routes: RouteTable;
  /** The request-target bound plain requests share with upgrades. */
  guard: HandshakeGuard;
  /** PEM certificate and key: the server speaks TLS (wss://). */
  tls?: { certPem: string; keyPem: string } | undefined;
}

export type UpgradeHandler = (req: IncomingMessage, socket: Socket, head: Buffer) => void;

/**
 * The HTTP(S) server clients connect to: it hands upgrades on, and answers everything else
 * itself (426 on a WebSocket path, 404 elsewhere, 414, and 400/408/431 for broken requests).
 */
export class ClientServer {
  private readonly server: Server;

  constructor(
    private readonly options: ClientServerOptions,
    upgrade: UpgradeHandler,
  ) {
    this.server = createHttpServer(options.limits, options.tls);
    this.server.on('request', (req, res) => this.plainRequest(req, res));
    this.server.on('upgrade', upgrade);
    this.server.on('clientError', answerClientError);
  }

  async listen({ host, port }: HostPort): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.address();
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** Stops accepting; resolves once every connection the server still tracks has ended. */
  stopAccepting(): Promise<void> {
    return new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Drops every connection at once, TLS handshakes still running included. */
  dropConnections(): void {
    this.server.closeAllConnections();
  }

  private plainRequest(req: IncomingMessage, res: ServerResponse): void {
    const tooLong = this.options.guard.targetTooLong(req.url);
    if (tooLong !== undefined) {
      res.writeHead(tooLong.status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(`${tooLong.message}\n`);
      return;
    }
    const pathname = parseRequestTarget(req.url)?.pathname;
    const known = pathname !== undefined && this.options.routes.match(pathname) !== undefined;
    const status = known ? 426 : 404;
    const body = known ? 'this path takes WebSocket connections only\n' : 'not found\n';
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), ...(known ? { upgrade: 'websocket', connection: 'Upgrade' } : {}) });
    res.end(body);
  }
}

/**
 * An HTTP answer written straight to an upgrade's socket (no ServerResponse exists for an
 * upgrade), which then closes.
 */
export function answerOnSocket(
  socket: Socket,
  status: number,
  body: string | Buffer,
  contentType = 'text/plain; charset=utf-8',
  headers?: Record<string, string>,
): void {
  if (socket.destroyed) return;
  const payload = typeof body === 'string' ? Buffer.from(body) : body;
  let extra = '';
  for (const name in headers) extra += `${name}: ${headers[name]!.replace(/[\r\n]/g, '')}\r\n`;
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
    `Connection: close\r\nContent-Type: ${contentType.replace(/[\r\n]/g, '')}\r\nContent-Length: ${payload.length}\r\n${extra}\r\n`;
  socket.once('finish', () => socket.destroy());
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), payload]));
}

function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  if (socket.writable) socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\n\r\n`);
  else socket.destroy();
}

/**
 * Node checks request timeouts every 30 s by default, which would let a client that never
 * finishes its request head hold a socket for up to 40 s at a 10 s handshake timeout: the
 * check runs at least every second here. With TLS, the TLS handshake gets the same bound
 * (Node's default is 120 s).
 */
function createHttpServer(limits: Limits, tls: { certPem: string; keyPem: string } | undefined): Server {
  const timeoutMs = limits.handshakeTimeoutSeconds * 1000;
  const http = {
    maxHeaderSize: limits.maxHeaderBytes,
    requestTimeout: timeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(timeoutMs / 4))),
  };
  if (tls === undefined) return readsEveryHeader(createServer(http));
  const server = readsEveryHeader(createHttpsServer({ ...http, cert: tls.certPem, key: tls.keyPem, handshakeTimeout: timeoutMs }) as unknown as Server);
  // https hands TLS failures (a handshake timeout among them) to 'clientError', whose HTTP 400
  // would sit unsent on a socket that never became secure: such a socket is dropped instead.
  server.removeAllListeners('tlsClientError');
  server.on('tlsClientError', dropSocket);
  trackRawSockets(server as unknown as Server);
  return server as unknown as Server;
}

/**
 * Node keeps a request's first 1000 header fields and drops the rest without a word: an Origin
 * or a proxy's X-Forwarded-For after 1000 filler headers went unseen (no Origin to check, the
 * proxy's address taken for the client's). `limits.maxHeaderBytes` bounds the head already.
 */
function readsEveryHeader(server: Server): Server {
  server.maxHeadersCount = 0;
  return server;
}

/**
 * Node's HTTP layer learns of a TLS connection only once it is secure, so closeAllConnections()
 * would leave sockets still in their TLS handshake, and a hard stop would wait out their
 * handshake timeout: the raw sockets are tracked and dropped with the rest.
 */
function trackRawSockets(server: Server): void {
  const raw = new Set<Socket>();
  const forget = function (this: Socket): void {
    raw.delete(this);
  };
  server.on('connection', (socket: Socket) => {
    raw.add(socket);
    socket.on('close', forget);
  });
  const closeAllConnections = server.closeAllConnections.bind(server);
  server.closeAllConnections = () => {
    closeAllConnections();
    for (const socket of raw) socket.destroy();
  };
}

function dropSocket(_err: Error, socket: Socket): void {
  socket.destroy();
}
