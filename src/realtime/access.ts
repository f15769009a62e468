import { topicBelongsTo } from '../connections/index.js';
import type { RealtimeSession } from './session.js';

/** What a client may ask to do with a topic over the realtime protocol (DESIGN.md §7). */
export type ClientAction = 'subscribe' | 'publish' | 'presence' | 'history';

/**
 * The one decision "may this connection do this to this topic?". The protocol asks it once per
 * client request (never per delivery), with the topic already tenant-scoped. Per-topic rules
 * (topics[] permissions, JWT topic claims, an authorize integration) plug in here; an answer
 * may be a promise for rules that ask a backend.
 */
export interface TopicAccess {
  allows(session: RealtimeSession, action: ClientAction, topic: string): boolean | Promise<boolean>;
}

/** Until per-topic rules are configured: a connection may do anything to its own tenant's topics. */
export const TENANT_TOPIC_ACCESS: TopicAccess = {
  allows(session, _action, topic) {
    return topicBelongsTo(topic, session.record.tenantId);
  },
};
