import type { Limits } from '../config/index.js';
import type { Logger, TrafficCounters } from '../observability/index.js';
import type { RealtimeProtocol } from '../realtime/index.js';
import type { Clock } from '../time/index.js';
import type { IntegrationCalls } from './integration-calls.js';
import type { OutboundFlusher } from './outbound.js';
import type { ClientSession } from './session.js';

/** Whoever keeps the node's sessions: told when one stops being reachable and when its socket is gone. */
export interface SessionLifecycle {
  /** The session is closing or closed: its registry entry goes. */
  forget(session: ClientSession): void;
  /** The socket has closed; `code` and `reason` are what the disconnect integration hears. */
  ended(session: ClientSession, code: number, reason: string): void;
}

/**
 * What every session of one listener shares, one object per role: the listener keeps the
 * lifecycle, the outbound path and the integration calls are modules of their own.
 */
export interface SessionRoles {
  readonly limits: Limits;
  readonly clock: Clock;
  readonly traffic: TrafficCounters;
  readonly log: Logger;
  readonly realtime: RealtimeProtocol | undefined;
  readonly lifecycle: SessionLifecycle;
  readonly flusher: OutboundFlusher;
  readonly integrations: IntegrationCalls;
}
