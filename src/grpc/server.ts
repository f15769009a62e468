import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ApiKeyAuthenticator, hostAllowListFor, type AuthFailureGate, type CallerBudget } from '../api/index.js';
import type { Hub } from '../cluster/index.js';
import { GRPC_DEFAULTS, type ApiKeySetting, type HostPort } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { connectionServiceOf, loadConnectionServicePackage } from './proto.js';
import { connectionServiceHandlers } from './service.js';

export interface GrpcServerOptions {
  listen: HostPort;
  hub: Hub;
  /** The management API's keys: the same callers, the same scopes. */
  apiKeys: ApiKeySetting[];
  log: Logger;
  /** The management API's per-key rate limits, so a key has one budget on both surfaces. */
  rateLimiter?: CallerBudget;
  /** PEM certificate and key: the listener speaks TLS. */
  tls?: { certPem: string; keyPem: string };
  /** Default: TLS with `tls`, else plaintext HTTP/2 (insecure). */
  credentials?: ServerCredentials;
  /** How long close() lets calls in flight finish before it cuts them. */
  closeGraceMs?: number;
  /** Names answered besides the loopback ones when no API key is configured (`management.allowedHosts`). */
  allowedHosts?: readonly string[];
  /** Failed API-key authentications per address, shared with the management API; absent: not throttled. */
  authFailures?: AuthFailureGate;
  /** Connections held at once; default GRPC_DEFAULTS. */
  maxConnections?: number;
  /** A connection without a call for this long is closed (GOAWAY). */
  idleTimeoutSeconds?: number;
  /** The server pings every connection this often and drops one that does not answer. */
  keepaliveSeconds?: number;
}

/**
 * A Send carries at most 131072 bytes of data; a little room for the id and the framing keeps
 * an oversized `data` an INVALID_ARGUMENT naming the limit, while a request far beyond it is
 * refused by grpc-js itself (RESOURCE_EXHAUSTED) before it is buffered. Same bound as REST's body.
 */
const MAX_RECEIVE_BYTES = 256 * 1024;
const DEFAULT_CLOSE_GRACE_MS = 1000;
/** How long a pinged peer has to answer before its connection is dropped. */
const KEEPALIVE_TIMEOUT_MS = 20_000;

/** The seeds' gRPC ConnectionService on its own listener (`grpc.listen`). */
export class GrpcConnectionServer {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    private readonly listener: NetServer,
    private readonly sockets: Set<Socket>,
    private readonly bound: AddressInfo,
    private readonly closeGraceMs: number,
  ) {}

  static async start(options: GrpcServerOptions): Promise<GrpcConnectionServer> {
    const { listen, log } = options;
    const tls = options.tls;
    const credentials =
      options.credentials ??
      (tls
        ? ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(tls.certPem), private_key: Buffer.from(tls.keyPem) }], false)
        : ServerCredentials.createInsecure());
    if (options.apiKeys.length === 0 && !isLoopback(listen.host)) {
      throw new Error(
        `grpc.listen ${listen.host}:${listen.port} is not a loopback address and no API key is configured: add --api-key (or management.apiKeys) or listen on 127.0.0.1`,
      );
    }
    const server = new Server({
      'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
      // A connection without a call gets GOAWAY after this; a client reconnects on its next call.
      'grpc.max_connection_idle_ms': (options.idleTimeoutSeconds ?? GRPC_DEFAULTS.idleTimeoutSeconds) * 1000,
      // A peer that stops answering pings (gone, or silent on purpose) is dropped.
      'grpc.keepalive_time_ms': (options.keepaliveSeconds ?? GRPC_DEFAULTS.keepaliveSeconds) * 1000,
      'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    });
    const handlers = connectionServiceHandlers({
      hub: options.hub,
      authenticator: new ApiKeyAuthenticator(options.apiKeys, options.rateLimiter, options.authFailures),
      hosts: hostAllowListFor(options.apiKeys.length, options.allowedHosts ?? []),
      log,
    });
    server.addService(connectionServiceOf(loadConnectionServicePackage()), handlers);
    // grpc-js has no connection cap: the listening socket is ours, with maxConnections, and each
    // accepted connection is handed to grpc-js (its public connection injector).
    const injector = server.createConnectionInjector(credentials);
    const sockets = new Set<Socket>();
    const listener = createNetServer((socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      injector.injectConnection(socket);
    });
    listener.maxConnections = options.maxConnections ?? GRPC_DEFAULTS.maxConnections;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(listen.port, listen.host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    return new GrpcConnectionServer(server, listener, sockets, listener.address() as AddressInfo, options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
  }

  address(): AddressInfo {
    return { ...this.bound };
  }

  /** Lets calls in flight finish for a moment, then cuts whatever is left. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.listener.close();
      const finish = (): void => {
        // Connections grpc-js never saw as sessions (a TLS handshake under way) are ours to end.
        for (const socket of this.sockets) socket.destroy();
        resolve();
      };
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        finish();
      }, this.closeGraceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        finish();
      });
    });
    return this.closing;
  }
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || host.startsWith('127.');
}
