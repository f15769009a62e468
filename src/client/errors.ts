/**
 * The client's one error class. `code` is the server's (`BAD_REQUEST`, `UNAUTHORIZED`,
 * `FORBIDDEN_TENANT`, `FORBIDDEN`, `NOT_FOUND`, `UNKNOWN_TYPE`, `RATE_LIMITED`, `LIMIT_EXCEEDED`, `BACKEND_ERROR`, `INTERNAL`)
 * for `error` envelopes, or one of the client's own below.
 */
export const CLIENT_ERROR_CODES = {
  /** No open connection to send on. */
  NOT_CONNECTED: 'NOT_CONNECTED',
  /** The connection went away before the reply came. */
  DISCONNECTED: 'DISCONNECTED',
  /** close() was called. */
  CLOSED: 'CLOSED',
  /** No reply within the timeout. */
  TIMEOUT: 'TIMEOUT',
  /** The server refused the token (close 1008 before `connected`). */
  UNAUTHORIZED: 'UNAUTHORIZED',
  /** The client gave up connecting (reconnect off or attempts exhausted). */
  CONNECT_FAILED: 'CONNECT_FAILED',
  /** The topic was unsubscribed while its subscribe was pending. */
  UNSUBSCRIBED: 'UNSUBSCRIBED',
  /** The call is not allowed (e.g. request('subscribe'): use subscribe()). */
  BAD_REQUEST: 'BAD_REQUEST',
} as const;

/** Close codes the client uses for sockets it gives up on itself. */
export const CLIENT_CLOSE_CODES = {
  PING_TIMEOUT: 4000,
  CONNECT_TIMEOUT: 4001,
  TOKEN_FAILED: 4002,
  /** The server broke the protocol (a `connected` envelope without connectionId). */
  PROTOCOL_ERROR: 4003,
} as const;

/** Close codes the server sends that the client acts on (README, "Token refresh"). */
export const SERVER_CLOSE_CODES = {
  /** The token's `exp` passed without a `refresh`: reconnect with a fresh token (getToken). */
  TOKEN_EXPIRED: 4401,
} as const;

export class SwitchboardClientError extends Error {
  override readonly name = 'SwitchboardClientError';
  readonly code: string;
  /** The field at fault, when the server named one. */
  readonly field?: string;
  /** A backend's HTTP status, for BACKEND_ERROR. */
  readonly status?: number;
  readonly requestId?: string;
  /** The topic, for subscription errors. */
  readonly topic?: string;
  /** The close code, for errors caused by a closed socket. */
  readonly closeCode?: number;

  constructor(
    code: string,
    message: string,
    details: { field?: string; status?: number; requestId?: string; topic?: string; closeCode?: number } = {},
  ) {
    super(message);
    this.code = code;
    if (details.field !== undefined) this.field = details.field;
    if (details.status !== undefined) this.status = details.status;
    if (details.requestId !== undefined) this.requestId = details.requestId;
    if (details.topic !== undefined) this.topic = details.topic;
    if (details.closeCode !== undefined) this.closeCode = details.closeCode;
  }
}
