import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import type { OutboundFrame } from '../connections/index.js';
import type { TrafficCounters } from '../observability/index.js';
import type { Clock } from '../time/index.js';
import { encodeFrame, FrameJoiner } from './frames.js';

/** `WebSocket.OPEN`, without importing ws's runtime here. */
const WS_OPEN = 1;

/**
 * The node's side of the outbound path: which connections queued frames this turn, written
 * out together after the turn's I/O callbacks with one join shared by every socket.
 */
export class OutboundFlusher {
  private readonly queued: ConnectionOutbound[] = [];
  private readonly joiner = new FrameJoiner();

  constructor(
    readonly clock: Clock,
    readonly traffic: TrafficCounters,
    readonly outboundBufferBytes: number,
  ) {}

  /** Called by a connection on its first frame of the turn. */
  enqueue(outbound: ConnectionOutbound): void {
    const queued = this.queued;
    queued.push(outbound);
    if (queued.length === 1) setImmediate(this.flushAll);
  }

  private readonly flushAll = (): void => {
    const queued = this.queued;
    const now = this.clock.now();
    const joiner = this.joiner;
    for (let i = 0; i < queued.length; i++) queued[i]!.flush(now, joiner);
    queued.length = 0;
    joiner.clear();
  };
}

/**
 * One connection's outbound frames: encoded once per frame, queued per turn, handed to the
 * socket in one write. The session extends it, so the fan-out's per-socket work touches one
 * object, not two.
 */
export abstract class ConnectionOutbound {
  /** Frames written this turn, not yet handed to the socket. */
  private queued: Buffer | Buffer[] | undefined = undefined;
  private queuedBytes = 0;

  constructor(
    private readonly flusher: OutboundFlusher,
    readonly ws: WebSocket,
    protected readonly socket: Socket,
  ) {}

  /** The client reads slower than it is written to: its queue went over `limits.outboundBufferBytes`. */
  protected abstract outboundOverflowed(): void;
  /** A flush reached the socket at `now`: the connection counts as active. */
  protected abstract wrote(now: number): void;

  protected queueFrame(frame: OutboundFrame): boolean {
    // ws may have begun a close of its own (a protocol error, the client's close frame) that
    // the session hears of only at 'close': nothing written then would be delivered.
    if (this.ws.readyState !== WS_OPEN) return false;
    const flusher = this.flusher;
    if (this.socket.writableLength + this.queuedBytes > flusher.outboundBufferBytes) {
      this.queued = undefined;
      this.queuedBytes = 0;
      this.outboundOverflowed();
      return false;
    }
    const wire = (frame.wire ??= encodeFrame(frame.data, frame.binary));
    // Frames of one event-loop turn are queued and written together after its I/O callbacks:
    // one socket write per socket per turn however many publications reach it (from one
    // publisher or from many management requests read in the same turn), the way uWS corks
    // per loop iteration.
    const queued = this.queued;
    if (queued === undefined) {
      this.queued = wire;
      flusher.enqueue(this);
    } else if (Array.isArray(queued)) {
      queued.push(wire);
    } else {
      this.queued = [queued, wire];
    }
    this.queuedBytes += wire.length;
    const traffic = flusher.traffic;
    traffic.messagesOut++;
    traffic.bytesOut += frame.data.length;
    return true;
  }

  /**
   * Writes what this turn queued (also before any frame ws writes itself, such as a close).
   * The end-of-turn flush passes the time and a joiner shared by all sockets.
   */
  flush(now = this.flusher.clock.now(), joiner?: FrameJoiner): void {
    const queued = this.queued;
    if (queued === undefined) return;
    this.queued = undefined;
    this.queuedBytes = 0;
    this.wrote(now);
    // ws answers a client's close frame itself, in the read that carried it: a reply queued
    // earlier in that read would land after the close frame, which RFC 6455 §5.5.1 forbids.
    if (this.socket.destroyed || this.ws.readyState !== WS_OPEN) return;
    if (!Array.isArray(queued)) this.socket.write(queued);
    else this.socket.write(joiner === undefined ? Buffer.concat(queued) : joiner.join(queued));
  }

  flushIfQueued(): void {
    if (this.queued !== undefined) this.flush();
  }
}

const kOutbound = Symbol('switchboard.outbound');
type OutboundSocket = Socket & { [kOutbound]?: ConnectionOutbound };

/**
 * After ws has parsed a chunk (its listener comes first): what the messages of that chunk
 * answered synchronously (a dummy integration, realtime replies) goes out in one write now,
 * as uWS uncorks at the end of a read, rather than at the end of the turn. Held back, every
 * reply of a turn would leave together after all reads, and the clients' next requests
 * would arrive in one burst while the server sat idle in between.
 */
export function flushAfterEachRead(socket: Socket, outbound: ConnectionOutbound): void {
  (socket as OutboundSocket)[kOutbound] = outbound;
  socket.on('data', onSocketDataHandled);
}

// A shared listener: `this` is the socket, the queue hangs off it, no closure per socket.
function onSocketDataHandled(this: OutboundSocket): void {
  this[kOutbound]?.flushIfQueued();
}
