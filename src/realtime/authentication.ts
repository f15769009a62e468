/**
 * Who a realtime connection is: taken from the upgrade's query and proven by its token
 * (when auth.jwt is set), and proven again by each `refresh`.
 */
import { RateLimited, Unauthenticated } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { retryAfterSeconds, type AuthFailureThrottle } from '../ratelimit/index.js';
import { formatRfc3339 } from '../time/index.js';
import { ERROR_CODES, parseRefreshData } from './envelope.js';
import type { EnvelopeReplies } from './replies.js';
import type { RealtimeIdentity, RealtimeSession } from './session.js';
import type { TokenLifetimes } from './token-lifetime.js';
import type { TokenVerifier } from './token-verifier.js';

const QUERY_LIMIT = 256;

/** The throttle of failed client tokens per source address, and the metric that counts them. */
export interface TokenFailures {
  throttle: AuthFailureThrottle;
  counted: () => void;
}

export class RealtimeAuthentication {
  private warnedUnverified = false;

  constructor(
    private readonly verifier: TokenVerifier | undefined,
    private readonly tokens: TokenLifetimes,
    private readonly replies: EnvelopeReplies,
    private readonly log: Logger,
    private readonly failures?: TokenFailures,
  ) {}

  async authenticate(query: URLSearchParams): Promise<RealtimeIdentity> {
    const tenantId = requireIdentityParam(query, 'tenantId');
    const userId = requireIdentityParam(query, 'userId');
    if (tenantId.includes(':')) throw new Unauthenticated('query parameter "tenantId" must not contain ":"');
    if (this.verifier === undefined) {
      if (!this.warnedUnverified) {
        this.warnedUnverified = true;
        this.log.warn('realtime path used without auth.jwt: tenantId and userId are taken from the query unverified');
      }
      return { tenantId, userId };
    }
    const token = requireParam(query, 'token', 16_384);
    const claims = await this.verifier.verify(token);
    if (claims.tenantId !== tenantId) throw new Unauthenticated('token tenant does not match query parameter "tenantId"');
    if (claims.userId !== userId) throw new Unauthenticated('token user does not match query parameter "userId"');
    return { tenantId, userId, proof: claims.claims };
  }

  /** `refresh {token}`: a new token for the same tenant and user replaces the connection's, `refreshed {expiresAt}`. */
  refresh(session: RealtimeSession, data: unknown, requestId: string | undefined): void {
    const record = session.record;
    const verifier = this.verifier;
    if (verifier === undefined || !this.tokens.holds(record.id)) {
      this.replies.error(session, ERROR_CODES.BAD_REQUEST, 'this connection was not opened with a token: nothing to refresh', requestId, 'type');
      return;
    }
    let token: string;
    try {
      token = parseRefreshData(data).token;
    } catch (err) {
      this.replies.fail(session, err, requestId);
      return;
    }
    // A refresh is a token guess like a handshake: an address cooling down is not heard, and a
    // failure counts towards its cool-down (connected clients would otherwise guess unthrottled).
    const sourceIp = record.sourceIp;
    const blockedMs = this.failures?.throttle.blockedForMs(sourceIp) ?? 0;
    if (blockedMs > 0) {
      const seconds = retryAfterSeconds(blockedMs);
      this.replies.fail(session, new RateLimited(`too many failed authentications from this address: retry in ${seconds} s`, blockedMs), requestId);
      return;
    }
    verifier
      .verify(token)
      .then((verified) => {
        if (verified.tenantId !== record.tenantId) throw new Unauthenticated('token is for another tenant than this connection', 'data.token');
        if (verified.userId !== record.userId) throw new Unauthenticated('token is for another user than this connection', 'data.token');
        const replaced = this.tokens.replace(record.id, verified.claims);
        if (replaced === false) return;
        this.replies.reply(session, 'refreshed', { expiresAt: replaced.expiresAt === undefined ? null : formatRfc3339(replaced.expiresAt) }, requestId);
      })
      .catch((err: unknown) => {
        if (err instanceof Unauthenticated && this.failures !== undefined) {
          this.failures.throttle.recordFailure(sourceIp);
          this.failures.counted();
        }
        this.replies.fail(session, err, requestId);
      });
  }
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\x00-\x1f\x7f]/;

/**
 * tenantId and userId travel to backends in headers, which cannot carry control characters
 * (undici refuses them, so every call of the connection would fail), and are compared with the
 * token's claims as they stand: one holding a control character is refused here, with a reason.
 */
function requireIdentityParam(query: URLSearchParams, name: string): string {
  const value = requireParam(query, name);
  if (CONTROL_CHARACTER.test(value)) throw new Unauthenticated(`query parameter "${name}" must not contain control characters`);
  return value;
}

function requireParam(query: URLSearchParams, name: string, maxLength = QUERY_LIMIT): string {
  const value = query.get(name);
  if (value === null || value === '') throw new Unauthenticated(`missing query parameter "${name}"`);
  if (value.length > maxLength) throw new Unauthenticated(`query parameter "${name}" is longer than ${maxLength} characters`);
  return value;
}
