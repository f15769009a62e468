import type { Limits } from '../config/index.js';
import type { MessageIdGenerator } from '../connections/index.js';
import type { Logger, TrafficCounters } from '../observability/index.js';
import type { Clock } from '../time/index.js';
import type { ClientSession } from './session.js';

/**
 * A path that speaks the realtime protocol (DESIGN.md §2.3). The edge owns the socket; the
 * protocol, wired in by the composition root, owns what the frames mean.
 */
export interface RealtimeProtocol {
  /** Checks the query of an upgrade; throws with a reason the client may read (closed with 1008). */
  authenticate(query: URLSearchParams): Promise<RealtimeIdentity>;
  /** The connection is registered: greet it. `proof` is what authenticate returned with the identity. */
  opened(session: ClientSession, proof: unknown): void;
  message(session: ClientSession, data: Buffer, binary: boolean): void;
  /** The socket is gone: drop what the protocol kept for the connection (its token timer, cached decisions). */
  closed(session: ClientSession): void;
}

export interface RealtimeIdentity {
  tenantId: string;
  userId: string;
  /** What the protocol keeps of the proof (a verified token's claims), handed back to `opened`; opaque to the edge. */
  proof?: unknown;
}

/** What every session of one listener shares. */
export interface EdgeContext {
  readonly limits: Limits;
  readonly clock: Clock;
  readonly traffic: TrafficCounters;
  readonly log: Logger;
  readonly messageIds: MessageIdGenerator;
  readonly realtime: RealtimeProtocol | undefined;
  /** Sessions with frames queued in this tick; written out together on the next one. */
  readonly queuedSessions: ClientSession[];
  readonly flushQueued: () => void;
  /** Removes a session from the registry (it is closing or closed). */
  forget(session: ClientSession): void;
  /** The socket has closed: fire the disconnect integration. */
  connectionClosed(session: ClientSession, code: number, reason: string): void;
  observeBackend(event: 'CONNECT' | 'MESSAGE' | 'DISCONNECT', ms: number): void;
}
