import type { IncomingMessage } from 'node:http';
import type { EdgeSettings, Limits } from '../config/index.js';
import { TokenBucket, monotonicNow, retryAfterSeconds } from '../ratelimit/index.js';
import type { Route } from '../routing/index.js';
import { AddressBudget } from './address-budget.js';
import { OriginPolicy } from './origin-policy.js';

/** Why a handshake is refused before the upgrade: the HTTP answer and the metrics label. */
export interface Refusal {
  status: number;
  reason: 'url_too_long' | 'accept_rate' | 'accept_rate_ip' | 'pending_handshakes' | 'origin';
  message: string;
  retryAfterSeconds?: number;
}

/**
 * The checks a handshake passes before any upgrade work: the request target's length, the
 * source address's and the node's accept rates, and the Origin allow-list. The first three run
 * before the URL is even parsed, so a reconnect storm is answered 503 (429 for one address
 * over its own budget) for the price of a token-bucket update while established connections,
 * which never pass here again, keep their share of the loop.
 */
export class HandshakeGuard {
  private readonly accepts: TokenBucket;
  /** Undefined when `limits.acceptsPerSecondPerIp` is 0. */
  private readonly acceptsPerAddress: AddressBudget | undefined;
  private readonly origins: OriginPolicy;

  constructor(
    private readonly limits: Limits,
    edge: EdgeSettings | undefined,
    now: () => number = monotonicNow,
  ) {
    // A burst of one second's worth: a node fresh from a restart takes that many at once, then the rate.
    this.accepts = new TokenBucket(limits.acceptsPerSecond, limits.acceptsPerSecond, now);
    this.acceptsPerAddress = limits.acceptsPerSecondPerIp > 0 ? new AddressBudget(limits.acceptsPerSecondPerIp, now) : undefined;
    this.origins = new OriginPolicy(edge);
  }

  /** A request target over `limits.maxUrlBytes` (plain requests too). */
  targetTooLong(target: string | undefined): Refusal | undefined {
    // Node decodes the request line as latin1: one character per byte.
    if (target === undefined || target.length <= this.limits.maxUrlBytes) return undefined;
    return { status: 414, reason: 'url_too_long', message: `request target exceeds ${this.limits.maxUrlBytes} bytes` };
  }

  /**
   * First thing on an upgrade: the target's length, one token of the address's budget (first,
   * so an address over its own budget spends none of everyone's), then one of the node's.
   */
  beforeRouting(target: string | undefined, sourceIp: string): Refusal | undefined {
    const tooLong = this.targetTooLong(target);
    if (tooLong !== undefined) return tooLong;
    const addressWaitMs = this.acceptsPerAddress?.take(sourceIp) ?? 0;
    if (addressWaitMs > 0) {
      return {
        status: 429,
        reason: 'accept_rate_ip',
        message: 'too many new connections from this address: retry later',
        retryAfterSeconds: retryAfterSeconds(addressWaitMs),
      };
    }
    const waitMs = this.accepts.take();
    if (waitMs === 0) return undefined;
    return { status: 503, reason: 'accept_rate', message: 'too many new connections: retry later', retryAfterSeconds: retryAfterSeconds(waitMs) };
  }

  /** Once the path is known: the Origin allow-list (RFC 6455 §10.2), before any backend hears of the connection. */
  afterRouting(req: IncomingMessage, route: Route): Refusal | undefined {
    const problem = this.origins.refusal(originOf(req), route);
    return problem === undefined ? undefined : { status: 403, reason: 'origin', message: problem };
  }
}

/** `Origin` (RFC 6454), or `Sec-WebSocket-Origin` from a version-8 client. */
function originOf(req: IncomingMessage): string | undefined {
  const origin = req.headers.origin ?? req.headers['sec-websocket-origin'];
  return Array.isArray(origin) ? origin.join(', ') : origin;
}
