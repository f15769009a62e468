import type { ConnectionRecord } from '../connections/index.js';
import { formatRfc3339 } from '../time/index.js';
import type { ConnectionView, PresenceEntry } from './hub.js';

export function viewOf(record: ConnectionRecord): ConnectionView {
  const view: ConnectionView = {
    id: record.id,
    gatewayId: record.gatewayId,
    identity: { sourceIp: record.sourceIp, userAgent: record.userAgent },
    connectedAt: formatRfc3339(record.connectedAt),
    lastActiveAt: formatRfc3339(record.lastActiveAt),
    subscriptions: record.subscriptions === undefined ? [] : [...record.subscriptions],
    isAlive: record.isAlive,
    lastPing: formatRfc3339(record.lastPing),
  };
  if (record.tenantId !== undefined) view.tenantId = record.tenantId;
  if (record.userId !== undefined) view.userId = record.userId;
  return view;
}

export function presenceEntry(record: ConnectionRecord): PresenceEntry {
  const entry: PresenceEntry = { connectionId: record.id };
  if (record.tenantId !== undefined) entry.tenantId = record.tenantId;
  if (record.userId !== undefined) entry.userId = record.userId;
  return entry;
}
