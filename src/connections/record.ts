/**
 * One live connection: the union of the seeds' Connection resource and the realtime
 * manager's ConnectionInfo. Kept deliberately small (numbers, not Date objects; a Set of
 * topics only once the connection subscribes) because a node holds 100k of them.
 */

/** A message built once and written to many sockets; the edge fills `wire` on first write. */
export class OutboundFrame {
  /** Header and payload framed into one buffer, built once and shared by every socket. */
  wire: Buffer | undefined = undefined;
  constructor(
    readonly data: Buffer,
    readonly binary: boolean,
  ) {}
}

/** What the registry and the Hub may do with a socket, without knowing it is one. */
export interface ClientTransport {
  /** Writes one frame; false when it was not written (closing, or closed for a full buffer). */
  write(frame: OutboundFrame): boolean;
  /** Starts the closing handshake; the registry entry goes at once, the disconnect event when closed. */
  close(code: number, reason: string): void;
}

/** How publications reach this connection: as the raw payload, or wrapped in the realtime envelope. */
export type ConnectionProtocol = 'raw' | 'realtime';

export class ConnectionRecord {
  lastActiveAt: number;
  /** The seed's ConnectionInfo meaning: false from a heartbeat ping until its pong. */
  isAlive = true;
  /** The seed's ConnectionInfo meaning: set at connect, moved when the client answers a ping. */
  lastPing: number;
  subscriptions: Set<string> | undefined = undefined;
  /** Insertion order on this node; the list API pages by it. */
  seq = 0;

  constructor(
    readonly id: string,
    readonly gatewayId: string,
    readonly sourceIp: string,
    readonly userAgent: string,
    readonly connectedAt: number,
    readonly protocol: ConnectionProtocol,
    readonly transport: ClientTransport,
    readonly tenantId?: string,
    readonly userId?: string,
  ) {
    this.lastActiveAt = connectedAt;
    this.lastPing = connectedAt;
  }

  isSubscribed(topic: string): boolean {
    return this.subscriptions !== undefined && this.subscriptions.has(topic);
  }
}
