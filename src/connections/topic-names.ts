/**
 * The one topic-tenant rule: a topic name belongs to the tenant before its first ':'
 * (`acme:chat.room1` is `acme`'s); a name without a tenant part belongs to no tenant. The
 * management API, the realtime protocol and the Hub all ask here, so they cannot disagree.
 */
import { InvalidArgument, PermissionDenied } from '../errors/index.js';

/** The tenant a topic name belongs to; undefined when it has no non-empty part before a ':'. */
export function tenantOfTopic(topic: string): string | undefined {
  const separator = topic.indexOf(':');
  return separator > 0 ? topic.slice(0, separator) : undefined;
}

/** Whether a connection of this tenant may hear the topic (a connection without a tenant hears any). */
export function topicBelongsTo(topic: string, tenantId: string | undefined): boolean {
  return tenantId === undefined || tenantOfTopic(topic) === tenantId;
}

/**
 * The tenant-scoped name of a topic a client named: `chat.room1` and `acme:chat.room1` both
 * become `acme:chat.room1` for tenant `acme`. A tenant id holding ':' could forge another
 * tenant's prefix and is refused.
 */
export function scopeTopic(tenantId: string, topic: string, field = 'data.topic'): string {
  if (tenantId.length === 0 || tenantId.includes(':')) {
    throw new InvalidArgument('tenantId must be non-empty and must not contain ":"', 'tenantId');
  }
  const separator = topic.indexOf(':');
  if (separator < 0) {
    if (topic.length === 0) throw new InvalidArgument('topic must not be empty', field);
    return `${tenantId}:${topic}`;
  }
  if (topic.slice(0, separator) !== tenantId) throw new PermissionDenied('topic belongs to another tenant', field);
  if (separator === topic.length - 1) throw new InvalidArgument('topic name after the tenant is empty', field);
  return topic;
}
