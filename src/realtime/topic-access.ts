/** The topic permission rules as the protocol applies them to one connection's requests. */
import type { EnvelopeReplies } from './replies.js';
import type { TopicAction, TopicPermissions } from './permissions.js';
import type { TopicIdentity } from './topic-identity.js';
import type { RealtimeSession } from './session.js';
import type { TokenLifetimes } from './token-lifetime.js';

export class TopicAccess {
  constructor(
    private readonly permissions: TopicPermissions,
    private readonly tokens: TokenLifetimes,
    private readonly replies: EnvelopeReplies,
  ) {}

  /** Who the connection is, for the permission rules: its record and its token's current claims. */
  identityOf(session: RealtimeSession): TopicIdentity {
    const record = session.record;
    return {
      connectionId: record.id,
      tenantId: record.tenantId,
      userId: record.userId,
      claims: this.tokens.claimsOf(record.id),
      backendHeaders: () => session.backendHeaders('AUTHORIZE'),
    };
  }

  /** Rejects (TopicForbidden) when the topic's rules refuse the action. */
  check(session: RealtimeSession, action: TopicAction, topic: string): Promise<void> {
    return this.permissions.check(this.identityOf(session), action, topic);
  }

  /**
   * Runs `proceed` once the rules allow the action, else answers FORBIDDEN with the requestId.
   * Rules decided locally run `proceed` in this turn, so a connection's requests keep their order.
   */
  whenAllowed(session: RealtimeSession, action: TopicAction, topic: string, requestId: string | undefined, proceed: () => void): void {
    let pending: Promise<void> | undefined;
    try {
      pending = this.permissions.decide(this.identityOf(session), action, topic);
    } catch (err) {
      this.replies.fail(session, err, requestId);
      return;
    }
    if (pending === undefined) proceed();
    else pending.then(() => (session.open ? proceed() : undefined), (err: unknown) => this.replies.fail(session, err, requestId));
  }
}
