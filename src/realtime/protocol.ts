import type { EnvelopeFramer, Hub, Publication, SubscribeResult } from '../cluster/index.js';
import { scopeTopic, tenantOfTopic } from '../connections/index.js';
import { REFRESH_NOTICE_DEFAULT_SECONDS, type JwtSettings, type TopicSettings } from '../config/index.js';
import { isSwitchboardError, Unauthenticated } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { BackendFailure, BackendPools, type Backend } from '../routing/index.js';
import { formatRfc3339, type Clock } from '../time/index.js';
import {
  ERROR_CODES,
  InvalidEnvelope,
  encodeEnvelope,
  encodePublicationEnvelope,
  errorCodeOf,
  parseEnvelope,
  parseRefreshData,
  parseSubscribeData,
  parseUnsubscribeData,
  type ErrorCode,
} from './envelope.js';
import { createTopicPermissions, type TopicAction, type TopicIdentity, type TopicPermissions } from './permissions.js';
import { TokenLifetimes } from './token-lifetime.js';
import { TOKEN_EXPIRED, type RealtimeIdentity, type RealtimeProtocol, type RealtimeSession } from './session.js';
import { handleHistory, handlePresence, handlePublish, type TopicRequestContext } from './topic-requests.js';
import { createTokenVerifier, type TokenVerifier } from './token-verifier.js';

export interface RealtimeOptions {
  jwt: JwtSettings | undefined;
  clock: Clock;
  log: Logger;
  /** The `topics[]` settings whose `permissions` clients are held to; absent: none. */
  topics?: readonly TopicSettings[];
  /** The node's backend pools, for topics' authorize integrations; absent: pools of its own. */
  pools?: BackendPools;
}

export interface Realtime {
  framer: EnvelopeFramer;
  protocol: RealtimeProtocol;
  /** The permission rules of client actions on topics (the management API is never held to them). */
  permissions: TopicPermissions;
  /** The tokens held by live connections, each with at most one timer. */
  tokens: TokenLifetimes;
  /** The Hub exists after the framer it needs: the composition root joins them. */
  attach(hub: Hub): void;
}

const QUERY_LIMIT = 256;
const ENVELOPE_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'application/json' });

/**
 * The realtime protocol (DESIGN.md §2.3): query-string identity proven by a verified JWT,
 * the JSON envelope, tenant-scoped topics, recovery on resubscribe. Frames of other types go
 * to the path's forward integration.
 */
export function createRealtime(options: RealtimeOptions): Realtime {
  const { clock, log } = options;
  const verifier: TokenVerifier | undefined = options.jwt === undefined ? undefined : createTokenVerifier(options.jwt, clock);
  let hub: Hub | undefined;
  let warnedUnverified = false;
  const now = (): string => formatRfc3339(clock.now());
  const permissions = createTopicPermissions({
    topics: options.topics ?? [],
    pools: options.pools ?? new BackendPools(),
    now: () => clock.now(),
    ...(options.jwt?.claims.topics === undefined ? {} : { topicsClaim: options.jwt.claims.topics }),
  });
  const tokens = new TokenLifetimes((options.jwt?.refreshNoticeSeconds ?? REFRESH_NOTICE_DEFAULT_SECONDS) * 1000, clock, {
    refreshRequired: (session, expiresAt) => reply(session, 'refresh_required', { expiresAt: formatRfc3339(expiresAt) }),
    expired: (session) => session.close(TOKEN_EXPIRED.code, TOKEN_EXPIRED.reason),
  });

  const framer: EnvelopeFramer = {
    publication(topic: string, publication: Publication, epoch: string): Buffer {
      return Buffer.from(encodePublicationEnvelope(topic, publication, epoch, tenantOfTopic(topic), now()));
    },
    presence(kind, topic, entry): Buffer {
      return Buffer.from(encodeEnvelope(kind, { topic, connectionId: entry.connectionId, userId: entry.userId }, entry.tenantId, undefined, now()));
    },
  };

  const reply = (session: RealtimeSession, type: string, data: unknown, requestId?: string): void => {
    const record = session.record;
    session.sendText(encodeEnvelope(type, data, record.tenantId, record.userId, now(), requestId));
  };

  const replyError = (session: RealtimeSession, code: ErrorCode, message: string, requestId?: string, field?: string): void => {
    reply(session, 'error', field === undefined ? { code, message } : { code, message, field }, requestId);
  };

  const fail = (session: RealtimeSession, err: unknown, requestId?: string): void => {
    if (isSwitchboardError(err)) {
      replyError(session, errorCodeOf(err), err.message, requestId, err.field);
    } else {
      log.error({ err, connectionId: session.record.id }, 'realtime request failed');
      replyError(session, ERROR_CODES.INTERNAL, 'internal error', requestId);
    }
  };

  const subscribed = (topic: string, result: SubscribeResult): Record<string, unknown> => {
    const data: Record<string, unknown> = { topic, channel: topic, offset: result.offset, epoch: result.epoch };
    if (result.recovered !== undefined) {
      data.recovered = result.recovered;
      data.publications = result.publications.map((p) => ({
        offset: p.offset,
        payload: p.binary ? p.data.toString('base64') : decodeTextPayload(p.data),
        ...(p.binary ? { encoding: 'base64' } : {}),
      }));
    }
    return data;
  };

  /**
   * The forward integration as this message calls it: a failure comes back as the protocol's
   * `error` envelope (BACKEND_ERROR, requestId echoed) rather than the raw paths' error frame,
   * which carries neither the tenant nor the requestId.
   */
  const topicRequests: TopicRequestContext = {
    hub(): Hub {
      if (hub === undefined) throw new Error('realtime protocol used before attach(hub)');
      return hub;
    },
    check: (session, action, topic) => permissions.check(identityOf(session), action, topic),
    reply,
    fail,
  };

  const answeringInEnvelopes = (backend: Backend, session: RealtimeSession, requestId: string | undefined): Backend => ({
    remote: backend.remote,
    async call(request) {
      let status: number;
      let message: string;
      try {
        const response = await backend.call(request);
        if (response.status >= 200 && response.status < 300) return response;
        status = response.status;
        message = `backend answered ${response.status}`;
      } catch (err) {
        status = err instanceof BackendFailure ? err.status : 500;
        message = (err as Error).message;
      }
      log.warn({ connectionId: session.record.id, status, err: message }, 'realtime forward failed');
      const record = session.record;
      const body = encodeEnvelope('error', { code: ERROR_CODES.BACKEND_ERROR, status, message }, record.tenantId, record.userId, now(), requestId);
      return { status: 200, headers: ENVELOPE_HEADERS, body: Buffer.from(body) };
    },
  });

  /** Who the connection is, for the permission rules: its record and its token's current claims. */
  const identityOf = (session: RealtimeSession): TopicIdentity => {
    const record = session.record;
    return {
      connectionId: record.id,
      tenantId: record.tenantId,
      userId: record.userId,
      claims: tokens.claimsOf(record.id),
      backendHeaders: () => session.backendHeaders('AUTHORIZE'),
    };
  };

  /**
   * Runs `proceed` once the rules allow the action, else answers FORBIDDEN with the requestId.
   * Rules decided locally run `proceed` in this turn, so a connection's requests keep their order.
   */
  const whenAllowed = (session: RealtimeSession, action: TopicAction, topic: string, requestId: string | undefined, proceed: () => void): void => {
    let pending: Promise<void> | undefined;
    try {
      pending = permissions.decide(identityOf(session), action, topic);
    } catch (err) {
      fail(session, err, requestId);
      return;
    }
    if (pending === undefined) proceed();
    else pending.then(() => (session.open ? proceed() : undefined), (err: unknown) => fail(session, err, requestId));
  };

  /** `refresh {token}`: a new token for the same tenant and user replaces the connection's, `refreshed {expiresAt}`. */
  const refreshToken = (session: RealtimeSession, data: unknown, requestId: string | undefined): void => {
    const record = session.record;
    if (verifier === undefined || !tokens.holds(record.id)) {
      replyError(session, ERROR_CODES.BAD_REQUEST, 'this connection was not opened with a token: nothing to refresh', requestId, 'type');
      return;
    }
    let token: string;
    try {
      token = parseRefreshData(data).token;
    } catch (err) {
      fail(session, err, requestId);
      return;
    }
    verifier
      .verify(token)
      .then((verified) => {
        if (verified.tenantId !== record.tenantId) throw new Unauthenticated('token is for another tenant than this connection', 'data.token');
        if (verified.userId !== record.userId) throw new Unauthenticated('token is for another user than this connection', 'data.token');
        const replaced = tokens.replace(record.id, verified.claims);
        if (replaced === false) return;
        reply(session, 'refreshed', { expiresAt: replaced.expiresAt === undefined ? null : formatRfc3339(replaced.expiresAt) }, requestId);
      })
      .catch((err: unknown) => fail(session, err, requestId));
  };

  const protocol: RealtimeProtocol = {
    async authenticate(query: URLSearchParams): Promise<RealtimeIdentity> {
      const tenantId = requireParam(query, 'tenantId');
      const userId = requireParam(query, 'userId');
      if (tenantId.includes(':')) throw new Unauthenticated('query parameter "tenantId" must not contain ":"');
      if (verifier === undefined) {
        if (!warnedUnverified) {
          warnedUnverified = true;
          log.warn('realtime path used without auth.jwt: tenantId and userId are taken from the query unverified');
        }
        return { tenantId, userId };
      }
      const token = requireParam(query, 'token', 16_384);
      const claims = await verifier.verify(token);
      if (claims.tenantId !== tenantId) throw new Unauthenticated('token tenant does not match query parameter "tenantId"');
      if (claims.userId !== userId) throw new Unauthenticated('token user does not match query parameter "userId"');
      return { tenantId, userId, proof: claims.claims };
    },

    opened(session: RealtimeSession, proof: unknown): void {
      const record = session.record;
      reply(session, 'connected', { connectionId: record.id, tenantId: record.tenantId, userId: record.userId });
      if (proof !== undefined) tokens.start(session, proof as Record<string, unknown>);
    },

    closed(session: RealtimeSession): void {
      tokens.stop(session.record.id);
      permissions.connectionGone(session.record.id);
    },

    message(session: RealtimeSession, data: Buffer, binary: boolean): void {
      if (binary) {
        replyError(session, ERROR_CODES.BAD_REQUEST, 'the realtime protocol takes JSON text frames only');
        return;
      }
      let envelope;
      try {
        envelope = parseEnvelope(data.toString('utf8'));
      } catch (err) {
        fail(session, err, err instanceof InvalidEnvelope ? err.requestId : undefined);
        return;
      }
      const { requestId } = envelope;
      const tenantId = session.record.tenantId!;
      if (envelope.tenantId !== undefined && envelope.tenantId !== tenantId) {
        replyError(session, ERROR_CODES.FORBIDDEN_TENANT, 'tenantId does not match this connection', requestId, 'tenantId');
        return;
      }
      const connectedHub = hub;
      if (connectedHub === undefined) throw new Error('realtime protocol used before attach(hub)');
      switch (envelope.type) {
        case 'ping':
          reply(session, 'pong', {}, requestId);
          return;
        case 'subscribe': {
          let topic: string;
          let since;
          try {
            const request = parseSubscribeData(envelope.data);
            topic = scopeTopic(tenantId, request.topic, request.field);
            since = request.since;
          } catch (err) {
            fail(session, err, requestId);
            return;
          }
          const start = (): void => {
            connectedHub.subscribe(session.record.id, topic, since === undefined ? {} : { since }).then(
              (result) => reply(session, 'subscribed', subscribed(topic, result), requestId),
              (err: unknown) => fail(session, err, requestId),
            );
          };
          whenAllowed(session, 'subscribe', topic, requestId, start);
          return;
        }
        case 'unsubscribe': {
          let topic: string;
          try {
            const request = parseUnsubscribeData(envelope.data);
            topic = scopeTopic(tenantId, request.topic, request.field);
          } catch (err) {
            fail(session, err, requestId);
            return;
          }
          connectedHub.unsubscribe(session.record.id, topic).then(
            () => reply(session, 'unsubscribed', { topic, channel: topic }, requestId),
            (err: unknown) => fail(session, err, requestId),
          );
          return;
        }
        case 'refresh':
          refreshToken(session, envelope.data, requestId);
          return;
        case 'publish':
          handlePublish(topicRequests, session, envelope.data, requestId);
          return;
        case 'presence':
          handlePresence(topicRequests, session, envelope.data, requestId);
          return;
        case 'history':
          handleHistory(topicRequests, session, envelope.data, requestId);
          return;
        default: {
          const forward = session.route.realtime?.forward;
          if (forward === undefined) {
            replyError(session, ERROR_CODES.UNKNOWN_TYPE, `unknown message type "${envelope.type}"`, requestId, 'type');
            return;
          }
          session.forward(answeringInEnvelopes(forward, session, requestId), data, false);
        }
      }
    },
  };

  return {
    framer,
    protocol,
    permissions,
    tokens,
    attach(target: Hub): void {
      hub = target;
    },
  };
}

function requireParam(query: URLSearchParams, name: string, maxLength = QUERY_LIMIT): string {
  const value = query.get(name);
  if (value === null || value === '') throw new Unauthenticated(`missing query parameter "${name}"`);
  if (value.length > maxLength) throw new Unauthenticated(`query parameter "${name}" is longer than ${maxLength} characters`);
  return value;
}

/** Recovered text payloads travel as JSON when they are JSON, as a string otherwise. */
function decodeTextPayload(data: Buffer): unknown {
  const text = data.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
