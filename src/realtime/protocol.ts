import type { EnvelopeFramer, Hub, Publication } from '../cluster/index.js';
import { tenantOfTopic } from '../connections/index.js';
import { DEFAULT_LIMITS, REFRESH_NOTICE_DEFAULT_SECONDS, type JwtSettings, type TopicSettings } from '../config/index.js';
import type { Logger } from '../observability/index.js';
import { BackendPools } from '../routing/index.js';
import { formatRfc3339, type Clock } from '../time/index.js';
import { RealtimeAuthentication, type TokenFailures } from './authentication.js';
import { ERROR_CODES, InvalidEnvelope, encodeEnvelope, encodePublicationEnvelope, parseEnvelope, type ClientEnvelope } from './envelope.js';
import { answeringInEnvelopes } from './forward.js';
import { createTopicPermissions, type TopicPermissions } from './permissions.js';
import { EnvelopeReplies } from './replies.js';
import { TOKEN_EXPIRED, type RealtimeIdentity, type RealtimeProtocol, type RealtimeSession } from './session.js';
import { handleSubscribe, handleUnsubscribe } from './subscriptions.js';
import { TopicAccess } from './topic-access.js';
import { handleHistory, handlePresence, handlePublish, type TopicRequestContext } from './topic-requests.js';
import { TokenLifetimes } from './token-lifetime.js';
import { createTokenVerifier } from './token-verifier.js';

export interface RealtimeOptions {
  jwt: JwtSettings | undefined;
  clock: Clock;
  log: Logger;
  /** The `topics[]` settings whose `permissions` clients are held to; absent: none. */
  topics?: readonly TopicSettings[];
  /** The node's backend pools, for topics' authorize integrations; absent: pools of its own. */
  pools?: BackendPools;
  /** Payload bytes one `history` answer may carry (`limits.outboundBufferBytes`); absent: its default. */
  maxAnswerBytes?: number;
  /** Failed client tokens per source address, shared with the handshake; absent: `refresh` is not throttled. */
  tokenFailures?: TokenFailures;
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

/**
 * The realtime protocol (DESIGN.md §2.3): query-string identity proven by a verified JWT,
 * the JSON envelope, tenant-scoped topics, recovery on resubscribe. Frames of other types go
 * to the path's forward integration.
 */
export function createRealtime(options: RealtimeOptions): Realtime {
  const { clock, log } = options;
  const replies = new EnvelopeReplies(clock, log);
  const permissions = createTopicPermissions({
    topics: options.topics ?? [],
    pools: options.pools ?? new BackendPools(),
    now: () => clock.now(),
    ...(options.jwt?.claims.topics === undefined ? {} : { topicsClaim: options.jwt.claims.topics }),
  });
  const tokens = new TokenLifetimes((options.jwt?.refreshNoticeSeconds ?? REFRESH_NOTICE_DEFAULT_SECONDS) * 1000, clock, {
    refreshRequired: (session, expiresAt) => replies.reply(session, 'refresh_required', { expiresAt: formatRfc3339(expiresAt) }),
    expired: (session) => session.close(TOKEN_EXPIRED.code, TOKEN_EXPIRED.reason),
  });
  const verifier = options.jwt === undefined ? undefined : createTokenVerifier(options.jwt, clock);
  const protocol = new EnvelopeProtocol(
    replies,
    new RealtimeAuthentication(verifier, tokens, replies, log, options.tokenFailures),
    new TopicAccess(permissions, tokens, replies),
    permissions,
    tokens,
    log,
    options.maxAnswerBytes ?? DEFAULT_LIMITS.outboundBufferBytes,
  );
  const framer: EnvelopeFramer = {
    publication(topic: string, publication: Publication, epoch: string): Buffer {
      return Buffer.from(encodePublicationEnvelope(topic, publication, epoch, tenantOfTopic(topic), replies.now()));
    },
    presence(kind, topic, entry): Buffer {
      return Buffer.from(encodeEnvelope(kind, { topic, connectionId: entry.connectionId, userId: entry.userId }, entry.tenantId, undefined, replies.now()));
    },
  };
  return { framer, protocol, permissions, tokens, attach: (hub) => protocol.attach(hub) };
}

/** One connection's frames as envelopes: each checked against the connection's tenant, then handed to its type's handler. */
class EnvelopeProtocol implements RealtimeProtocol {
  private attachedHub: Hub | undefined;
  private readonly topicRequests: TopicRequestContext;

  constructor(
    private readonly replies: EnvelopeReplies,
    private readonly authentication: RealtimeAuthentication,
    private readonly access: TopicAccess,
    private readonly permissions: TopicPermissions,
    private readonly tokens: TokenLifetimes,
    private readonly log: Logger,
    maxAnswerBytes: number,
  ) {
    this.topicRequests = {
      maxAnswerBytes,
      hub: () => this.hub(),
      check: (session, action, topic) => access.check(session, action, topic),
      reply: (session, type, data, requestId) => replies.reply(session, type, data, requestId),
      fail: (session, err, requestId) => replies.fail(session, err, requestId),
    };
  }

  attach(hub: Hub): void {
    this.attachedHub = hub;
  }

  authenticate(query: URLSearchParams): Promise<RealtimeIdentity> {
    return this.authentication.authenticate(query);
  }

  opened(session: RealtimeSession, proof: unknown): void {
    const record = session.record;
    this.replies.reply(session, 'connected', { connectionId: record.id, tenantId: record.tenantId, userId: record.userId });
    if (proof !== undefined) this.tokens.start(session, proof as Record<string, unknown>);
  }

  closed(session: RealtimeSession): void {
    this.tokens.stop(session.record.id);
    this.permissions.connectionGone(session.record.id);
  }

  message(session: RealtimeSession, data: Buffer, binary: boolean): void {
    const envelope = this.envelopeOf(session, data, binary);
    if (envelope === undefined) return;
    const hub = this.hub();
    this.dispatch(session, envelope, data, hub);
  }

  private hub(): Hub {
    if (this.attachedHub === undefined) throw new Error('realtime protocol used before attach(hub)');
    return this.attachedHub;
  }

  /** The frame's envelope, or undefined once a frame that is not one (or names another tenant) was answered with an error. */
  private envelopeOf(session: RealtimeSession, data: Buffer, binary: boolean): ClientEnvelope | undefined {
    if (binary) {
      this.replies.error(session, ERROR_CODES.BAD_REQUEST, 'the realtime protocol takes JSON text frames only');
      return undefined;
    }
    let envelope: ClientEnvelope;
    try {
      envelope = parseEnvelope(data.toString('utf8'));
    } catch (err) {
      this.replies.fail(session, err, err instanceof InvalidEnvelope ? err.requestId : undefined);
      return undefined;
    }
    if (envelope.tenantId !== undefined && envelope.tenantId !== session.record.tenantId!) {
      this.replies.error(session, ERROR_CODES.FORBIDDEN_TENANT, 'tenantId does not match this connection', envelope.requestId, 'tenantId');
      return undefined;
    }
    return envelope;
  }

  private dispatch(session: RealtimeSession, envelope: ClientEnvelope, data: Buffer, hub: Hub): void {
    const { requestId } = envelope;
    switch (envelope.type) {
      case 'ping':
        return this.replies.reply(session, 'pong', {}, requestId);
      case 'subscribe':
        return handleSubscribe({ maxAnswerBytes: this.topicRequests.maxAnswerBytes, hub, access: this.access, replies: this.replies }, session, envelope.data, requestId);
      case 'unsubscribe':
        return handleUnsubscribe({ maxAnswerBytes: this.topicRequests.maxAnswerBytes, hub, access: this.access, replies: this.replies }, session, envelope.data, requestId);
      case 'refresh':
        return this.authentication.refresh(session, envelope.data, requestId);
      case 'publish':
        return handlePublish(this.topicRequests, session, envelope.data, requestId);
      case 'presence':
        return handlePresence(this.topicRequests, session, envelope.data, requestId);
      case 'history':
        return handleHistory(this.topicRequests, session, envelope.data, requestId);
      default: {
        const forward = session.route.realtime?.forward;
        if (forward === undefined) {
          return this.replies.error(session, ERROR_CODES.UNKNOWN_TYPE, `unknown message type "${envelope.type}"`, requestId, 'type');
        }
        session.forward(answeringInEnvelopes(forward, session, requestId, this.replies, this.log), data, false);
      }
    }
  }
}
