import type { EventType } from '../routing/index.js';

/** The fields of a connection its backend calls describe. */
export interface HeaderSource {
  id: string;
  sourceIp: string;
  userAgent: string;
  tenantId?: string | undefined;
  userId?: string | undefined;
}

/** The headers every backend call carries (README, "What backends receive"). */
export function backendHeaders(source: HeaderSource, eventType: EventType, connectedAtText: string, messageId: string): Record<string, string> {
  const headers: Record<string, string> = {
    'x-yc-apigateway-websocket-connection-id': source.id,
    'x-yc-apigateway-websocket-event-type': eventType,
    'x-yc-apigateway-websocket-connected-at': connectedAtText,
    'x-yc-apigateway-websocket-message-id': messageId,
    'x-forwarded-for': source.sourceIp,
    'user-agent': source.userAgent,
  };
  if (source.tenantId !== undefined) headers['x-switchboard-tenant-id'] = source.tenantId;
  if (source.userId !== undefined) headers['x-switchboard-user-id'] = source.userId;
  return headers;
}

/** Adds why a connection ended; reasons are UTF-8, header values must stay visible ASCII. */
export function withDisconnect(headers: Record<string, string>, code: number, reason: string): Record<string, string> {
  headers['x-yc-apigateway-websocket-disconnect-status-code'] = String(code);
  headers['x-yc-apigateway-websocket-disconnect-reason'] = /^[\x20-\x7e]*$/.test(reason) ? reason : encodeURIComponent(reason);
  return headers;
}
