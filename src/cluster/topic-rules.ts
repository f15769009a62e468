import { topicSettingsFor, type TopicSettings } from '../config/index.js';
import { OutboundFrame, topicBelongsTo, type ConnectionRecord, type ConnectionRegistry } from '../connections/index.js';
import { FailedPrecondition, PermissionDenied } from '../errors/index.js';
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
