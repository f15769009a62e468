import type { ConnectionRecord } from '../connections/index.js';
import type { Backend, EventType, Route } from '../routing/index.js';

/**
 * What the realtime protocol needs of one client connection. The edge's ClientSession
 * implements it; realtime never imports the edge (the edge owns sockets, realtime owns what
 * the frames mean), so the dependency points one way: edge → realtime's face.
 */
export interface RealtimeSession {
  readonly record: ConnectionRecord;
  /** The path the client connected to: its forward integration takes unknown envelope types. */
  readonly route: Route;
  /** Writes one text frame; false when the connection no longer takes frames. */
  sendText(text: string): boolean;
  /** Hands a message to a backend in the connection's message order. */
  forward(backend: Backend, data: Buffer, binary: boolean): void;
  /** False once the connection is closing or closed. */
  readonly open: boolean;
  /** Closes the connection with an application close code (RFC 6455 §7.4.2). */
  close(code: number, reason: string): void;
  /** The identity headers a backend call for this connection carries (the authorize integration's too). */
  backendHeaders(eventType: EventType): Record<string, string>;
}

/**
 * The realtime protocol's own close: a connection whose token reached its `exp` without a
 * `refresh` (application code, RFC 6455 §7.4.2). The edge names it in its close codes.
 */
export const TOKEN_EXPIRED = { code: 4401, reason: 'token expired' } as const;

/**
 * A path that speaks the realtime protocol (DESIGN.md §2.3). The edge owns the socket; the
 * protocol, wired in by the composition root, owns what the frames mean.
 */
export interface RealtimeProtocol {
  /** Checks the query of an upgrade; throws with a reason the client may read (closed with 1008). */
  authenticate(query: URLSearchParams): Promise<RealtimeIdentity>;
  /** The connection is registered: greet it. `proof` is what authenticate returned with the identity. */
  opened(session: RealtimeSession, proof: unknown): void;
  message(session: RealtimeSession, data: Buffer, binary: boolean): void;
  /** The socket is gone: drop what the protocol kept for the connection (its token timer, cached decisions). */
  closed(session: RealtimeSession): void;
}

export interface RealtimeIdentity {
  tenantId: string;
  userId: string;
  /** What the protocol keeps of the proof (a verified token's claims), handed back to `opened`; opaque to the edge. */
  proof?: unknown;
}
