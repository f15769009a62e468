import type { Limits } from '../config/index.js';
import type { MessageIdGenerator } from '../connections/index.js';
import type { Logger, TrafficCounters } from '../observability/index.js';
import type { RealtimeIdentity, RealtimeProtocol } from '../realtime/index.js';
import type { Clock } from '../time/index.js';
import type { ClientSession } from './session.js';

export type { RealtimeIdentity, RealtimeProtocol };

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
