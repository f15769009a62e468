import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { Limits } from '../config/index.js';
import type { ConnectionRegistry } from '../connections/index.js';
import { CloseReason } from './close-codes.js';
import type { Refusal } from './handshake-guard.js';

/**
 * Connections not open yet and not gone yet: handshakes waiting on authentication or the
 * connect integration, and connections refused after the upgrade whose socket still closes.
 * They hold sockets, so they count against the connection limits like open ones.
 */
export class PendingHandshakes {
  private readonly handshakes = new Set<Socket>();
  private readonly handshakesPerIp = new Map<string, number>();
  private readonly handshakesPerTenant = new Map<string, number>();
  private readonly refusing = new Set<WebSocket>();
  private readonly refusingPerIp = new Map<string, number>();

  constructor(
    private readonly limits: Limits,
    private readonly registry: ConnectionRegistry,
  ) {}

  /** A handshake starts waiting; `done` ends its count. */
  waiting(socket: Socket, sourceIp: string): void {
    this.handshakes.add(socket);
    increment(this.handshakesPerIp, sourceIp);
  }

  done(socket: Socket, sourceIp: string): void {
    this.handshakes.delete(socket);
    decrement(this.handshakesPerIp, sourceIp);
  }

  /** Counts a waiting handshake against its tenant; false (and not counted) when the tenant is at its limit. */
  countTenant(tenantId: string): boolean {
    const pending = this.handshakesPerTenant.get(tenantId) ?? 0;
    if (this.registry.connectionsOfTenant(tenantId) + pending >= this.limits.maxConnectionsPerTenant) return false;
    this.handshakesPerTenant.set(tenantId, pending + 1);
    return true;
  }

  uncountTenant(tenantId: string): void {
    decrement(this.handshakesPerTenant, tenantId);
  }

  /** A connection refused after the upgrade, until its socket is gone. */
  refusingUntilClosed(ws: WebSocket, sourceIp: string): void {
    this.refusing.add(ws);
    increment(this.refusingPerIp, sourceIp);
    ws.once('close', () => {
      this.refusing.delete(ws);
      decrement(this.refusingPerIp, sourceIp);
    });
  }

  /**
   * Handshakes of one address not yet open or gone past `limits.pendingHandshakesPerIp`: a
   * client that never finishes them must not hold every file descriptor.
   */
  refusal(sourceIp: string): Refusal | undefined {
    const pending = (this.handshakesPerIp.get(sourceIp) ?? 0) + (this.refusingPerIp.get(sourceIp) ?? 0);
    if (pending < this.limits.pendingHandshakesPerIp) return undefined;
    return { status: 429, reason: 'pending_handshakes', message: 'too many unfinished handshakes from this address: retry later', retryAfterSeconds: 1 };
  }

  /** Why one more connection from `sourceIp` is over the node's or the address's connection limit, if it is. */
  limitReason(sourceIp: string): string | undefined {
    const registry = this.registry;
    if (registry.size + this.handshakes.size >= this.limits.maxConnections) return CloseReason.SERVER_LIMIT;
    const fromIp = registry.connectionsFromIp(sourceIp) + (this.handshakesPerIp.get(sourceIp) ?? 0);
    if (fromIp >= this.limits.maxConnectionsPerIp) return CloseReason.ADDRESS_LIMIT;
    return undefined;
  }

  /** Drops every pending socket (a stop). */
  dropAll(): void {
    for (const socket of this.handshakes) socket.destroy();
    for (const ws of this.refusing) ws.terminate();
  }
}

function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function decrement(counts: Map<string, number>, key: string): void {
  const left = (counts.get(key) ?? 1) - 1;
  if (left <= 0) counts.delete(key);
  else counts.set(key, left);
}
