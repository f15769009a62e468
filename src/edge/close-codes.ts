import { USER_DISCONNECTED } from '../cluster/index.js';
import { TOKEN_EXPIRED } from '../realtime/index.js';

/** RFC 6455 §7.4.1 close codes the edge sends, by name; 4000-4999 are Switchboard's own (§7.4.2). */
export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
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

/** Codes that may appear in a close frame (RFC 6455 §7.4.1-2): 1004-1006 and 1015 never do. */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}
