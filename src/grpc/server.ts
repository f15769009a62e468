import type { AddressInfo } from 'node:net';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { ApiKeyAuthenticator, type CallerBudget } from '../api/index.js';
import type { Hub } from '../cluster/index.js';
import type { ApiKeySetting, HostPort } from '../config/index.js';
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
}

/**
 * A Send carries at most 131072 bytes of data; a little room for the id and the framing keeps
 * an oversized `data` an INVALID_ARGUMENT naming the limit, while a request far beyond it is
 * refused by grpc-js itself (RESOURCE_EXHAUSTED) before it is buffered. Same bound as REST's body.
 */
const MAX_RECEIVE_BYTES = 256 * 1024;
const DEFAULT_CLOSE_GRACE_MS = 1000;

/** The seeds' gRPC ConnectionService on its own listener (`grpc.listen`). */
export class GrpcConnectionServer {
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
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
    const server = new Server({ 'grpc.max_receive_message_length': MAX_RECEIVE_BYTES });
    const handlers = connectionServiceHandlers({ hub: options.hub, authenticator: new ApiKeyAuthenticator(options.apiKeys, options.rateLimiter), log });
    server.addService(connectionServiceOf(loadConnectionServicePackage()), handlers);
    const target = listen.host.includes(':') ? `[${listen.host}]:${listen.port}` : `${listen.host}:${listen.port}`;
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(target, credentials, (err, boundPort) => (err ? reject(err) : resolve(boundPort)));
    });
    const family = listen.host.includes(':') ? 'IPv6' : 'IPv4';
    return new GrpcConnectionServer(server, { address: listen.host, family, port }, options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
  }

  address(): AddressInfo {
    return { ...this.bound };
  }

  /** Lets calls in flight finish for a moment, then cuts whatever is left. Idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, this.closeGraceMs);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.closing;
  }
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || host.startsWith('127.');
}
