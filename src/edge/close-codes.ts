import { USER_DISCONNECTED } from '../cluster/index.js';
import { TOKEN_EXPIRED } from '../realtime/index.js';

/** RFC 6455 §7.4.1 close codes the edge sends, by name; 4000-4999 are Switchboard's own (§7.4.2). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  /**
   * No close frame was exchanged (the edge dropped the socket). Never sent on the wire
   * (§7.4.1); the disconnect integration hears it.
   */
  ABNORMAL: 1006,
  POLICY_VIOLATION: 1008,
  MESSAGE_TOO_BIG: 1009,
  INTERNAL_ERROR: 1011,
  TRY_AGAIN_LATER: 1013,
  /**
   * Application code (RFC 6455 §7.4.2, 4000-4999): a realtime connection's token reached its
   * `exp` without a `refresh`. Reason `token expired`; a client reconnects with a new token.
   */
  TOKEN_EXPIRED: TOKEN_EXPIRED.code,
  /** Every connection of a user was closed by `users/{userId}:disconnect`. */
  USER_DISCONNECTED: USER_DISCONNECTED.code,
} as const;

/**
 * Why the edge ends a connection: the reason of its close frame, or of a dropped socket,
 * as the disconnect integration hears it (README, "What backends receive").
 */
export const CloseReason = {
  SHUTTING_DOWN: 'server shutting down',
  DRAIN_DEADLINE: 'drain deadline',
  SERVER_CLOSED: 'server closed',
  HEARTBEAT_LOST: 'heartbeat lost',
  IDLE_TIMEOUT: 'idle timeout',
  MAX_LIFETIME: 'maximum connection lifetime reached',
  OUTBOUND_BUFFER_FULL: 'outbound buffer limit reached',
  MESSAGE_RATE: 'message rate limit exceeded',
  TOO_MANY_PENDING: 'too many messages waiting for the backend',
  LEFT_DURING_HANDSHAKE: 'client left during the handshake',
  SERVER_LIMIT: 'server connection limit reached',
  ADDRESS_LIMIT: 'too many connections from this address',
  TENANT_LIMIT: 'tenant connection limit reached',
} as const;

/** The reason of a 1009 for a frame over `limits.maxFrameBytes`. */
export function frameTooBigReason(maxFrameBytes: number): string {
  return `frame exceeds ${maxFrameBytes} bytes`;
}

/** Codes that may appear in a close frame (RFC 6455 §7.4.1-2): 1004-1006 and 1015 never do. */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** A close reason is at most 123 bytes of UTF-8 (RFC 6455 §5.5: control payload ≤ 125). */
export function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let cut = reason.slice(0, 123);
  while (Buffer.byteLength(cut) > 123) cut = cut.slice(0, -1);
  return cut;
}
