import type { ConnectionRecord, ConnectionRegistry } from '../connections/index.js';
import type { ConnectionView, ListFilter } from './hub.js';
import { viewOf } from './view.js';

export interface LocalPage {
  connections: ConnectionView[];
  /** seq of the last connection returned; resume after it. */
  lastSeq: number;
  more: boolean;
}

/**
 * One node's connections matching a filter, in registration order, after a given seq.
 * The smallest index that covers the filter is walked; topic sets are in subscription order
 * and are sorted, the others are already in seq order and stop early.
 */
export function listLocal(registry: ConnectionRegistry, filter: ListFilter, afterSeq: number, limit: number): LocalPage {
  const { records, ordered } = candidates(registry, filter);
  const matches: ConnectionRecord[] = [];
  for (const record of records) {
    if (record.seq <= afterSeq || !matchesFilter(record, filter)) continue;
    matches.push(record);
    if (ordered && matches.length > limit) break;
  }
  if (!ordered) matches.sort((a, b) => a.seq - b.seq);
  const page = matches.slice(0, limit);
  return { connections: page.map(viewOf), lastSeq: page.length > 0 ? page[page.length - 1]!.seq : afterSeq, more: matches.length > limit };
}

function candidates(registry: ConnectionRegistry, filter: ListFilter): { records: Iterable<ConnectionRecord>; ordered: boolean } {
  if (filter.topic !== undefined) return { records: registry.subscribersOf(filter.topic) ?? [], ordered: false };
  if (filter.userId !== undefined) return { records: registry.ofUser(filter.userId) ?? [], ordered: true };
  if (filter.tenantId !== undefined) return { records: registry.ofTenant(filter.tenantId) ?? [], ordered: true };
  if (filter.gatewayId !== undefined) return { records: registry.ofGateway(filter.gatewayId) ?? [], ordered: true };
  return { records: registry.all(), ordered: true };
}

function matchesFilter(record: ConnectionRecord, filter: ListFilter): boolean {
  return (
    (filter.gatewayId === undefined || record.gatewayId === filter.gatewayId) &&
    (filter.tenantId === undefined || record.tenantId === filter.tenantId) &&
    (filter.userId === undefined || record.userId === filter.userId) &&
    (filter.topic === undefined || record.isSubscribed(filter.topic))
  );
}
