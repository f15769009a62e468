import { topicSettingsFor, type TopicSettings } from '../config/index.js';
import { OutboundFrame, topicBelongsTo, type ConnectionRecord, type ConnectionRegistry } from '../connections/index.js';
import { FailedPrecondition, LimitExceeded, PermissionDenied } from '../errors/index.js';
import type { EnvelopeFramer } from './delivery.js';
import type { PresenceEntry } from './hub.js';

/**
 * A tenant's connection hears only its tenant's topics, however the subscribe came: a
 * management key without a tenant may name any topic.
 */
export function requireTopicOfTenant(record: ConnectionRecord, topic: string): void {
  if (!topicBelongsTo(topic, record.tenantId)) {
    throw new PermissionDenied(`topic ${topic} does not belong to the connection's tenant`);
  }
}

/** What one connection may hold when the node's settings say nothing (README, "Limits"). */
export const DEFAULT_MAX_SUBSCRIPTIONS_PER_CONNECTION = 128;

/**
 * Each subscription costs the owning node memory in its topic index; without a cap one
 * connection could hold any number. Checked on the node that owns the connection, in the same
 * turn as the registry update, so concurrent subscribes cannot both take the last place.
 */
export function requireRoomForSubscription(record: ConnectionRecord, topic: string, max: number): void {
  const held = record.subscriptions;
  if (held === undefined || held.size < max || held.has(topic)) return;
  throw new LimitExceeded(
    `connection ${record.id} already has ${held.size} subscriptions, the most limits.maxSubscriptionsPerConnection allows (${max}); unsubscribe from one first`,
    'limits.maxSubscriptionsPerConnection',
  );
}

/** Presence is kept only where the topic's pattern enables it (README, "topics"). */
export function requirePresence(topics: readonly TopicSettings[], topic: string): void {
  if (topicSettingsFor(topics, topic)?.presence !== true) {
    throw new FailedPrecondition(`topic ${topic} keeps no presence: enable it with topics[].presence`);
  }
}

export function announcesJoinLeave(topics: readonly TopicSettings[], topic: string): boolean {
  return topicSettingsFor(topics, topic)?.joinLeave === true;
}

/**
 * Tells this node's realtime subscribers of a topic that a connection joined or left. Never
 * the connection itself: its own join would reach it before the answer to its subscribe.
 */
export function announceLocally(
  registry: ConnectionRegistry,
  framer: EnvelopeFramer,
  action: 'join' | 'leave',
  topic: string,
  entry: PresenceEntry,
): void {
  const subscribers = registry.subscribersOf(topic);
  if (subscribers === undefined) return;
  let frame: OutboundFrame | undefined;
  for (const subscriber of subscribers) {
    if (subscriber.protocol !== 'realtime' || subscriber.id === entry.connectionId) continue;
    frame ??= new OutboundFrame(framer.presence(action, topic, entry), false);
    subscriber.transport.write(frame);
  }
}
