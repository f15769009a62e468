import type { ConnectionRecord } from '../connections/index.js';
import type { Backend, Route } from '../routing/index.js';

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
}

/**
 * A path that speaks the realtime protocol (DESIGN.md §2.3). The edge owns the socket; the
 * protocol, wired in by the composition root, owns what the frames mean.
 */
export interface RealtimeProtocol {
  /** Checks the query of an upgrade; throws with a reason the client may read (closed with 1008). */
  authenticate(query: URLSearchParams): Promise<{ tenantId: string; userId: string }>;
  /** The connection is registered: greet it. */
  opened(session: RealtimeSession): void;
  message(session: RealtimeSession, data: Buffer, binary: boolean): void;
}
