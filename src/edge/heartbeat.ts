import type { WebSocket } from 'ws';
import type { Limits } from '../config/index.js';
import type { Clock } from '../time/index.js';
import { CloseCode, CloseReason } from './close-codes.js';
import { kSession, type ClientSession, type SessionTagged } from './session.js';

/** Pings go out in slices so a node with 100k sockets never stalls its loop for all of them. */
const SLICE = 5000;

/**
 * The heartbeat: every `limits.heartbeatSeconds` each open connection is pinged, and one that
 * did not answer the last ping, sat idle too long or outlived its maximum lifetime is let go.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly limits: Limits,
    private readonly clock: Clock,
    private readonly sessions: ReadonlySet<ClientSession>,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.sweep(), this.limits.heartbeatSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Pongs mark the connection alive, pings from the client count as activity. */
  watch(ws: SessionTagged<WebSocket>): void {
    ws.on('pong', onWsPong);
    ws.on('ping', onWsPing);
  }

  private sweep(): void {
    const now = this.clock.now();
    const idleMs = this.limits.idleTimeoutSeconds * 1000;
    const lifetimeMs = this.limits.maxLifetimeSeconds * 1000;
    const sessions = [...this.sessions];
    const runSlice = (start: number): void => {
      const end = Math.min(start + SLICE, sessions.length);
      for (let i = start; i < end; i++) {
        const session = sessions[i]!;
        if (!session.open) continue;
        const record = session.record;
        if (!record.isAlive) session.terminate(CloseReason.HEARTBEAT_LOST);
        else if (now - session.lastDataAt >= idleMs) session.close(CloseCode.GOING_AWAY, CloseReason.IDLE_TIMEOUT);
        else if (now - record.connectedAt >= lifetimeMs) session.close(CloseCode.GOING_AWAY, CloseReason.MAX_LIFETIME);
        else {
          record.isAlive = false;
          session.ws.ping();
        }
      }
      if (end < sessions.length) setImmediate(runSlice, end);
    };
    runSlice(0);
  }
}

// Shared listeners: `this` is the ws, the session hangs off it, no closure per socket.
function onWsPong(this: SessionTagged<WebSocket>): void {
  const session = this[kSession];
  if (session === undefined) return;
  const record = session.record;
  record.isAlive = true;
  session.touch();
  record.lastPing = record.lastActiveAt;
}
function onWsPing(this: SessionTagged<WebSocket>): void {
  this[kSession]?.touch();
}
