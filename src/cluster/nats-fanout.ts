/**
 * Fan-out over one cluster-wide subject: the NATS wire of fanout-batch.ts, which owns the
 * batching and the acknowledgements. A batch waits for the peers in this node's view of the
 * cluster; a batch stays under the server's max_payload.
 *
 * Membership announcements (a node joining or leaving) ride the same subject and the same
 * acknowledgements, so when start() or stop() returns every peer has updated its view.
 *
 * Wire format (JSON):
 *   batch   {"o": origin, "b": batchId, "e": [event, …]}
 *   control {"o": origin, "b": batchId, "c": "join" | "leave"}
 *   ack     {"n": node, "b": batchId, "c": [delivered, …]}
 */
import type { Msg } from 'nats';
import type { Logger } from '../observability/index.js';
import type { FanoutEvent } from './backplane.js';
import { deliverBatch, FanoutBatcher, type AckExpectation, type BatchContent, type FanoutTransport } from './fanout-batch.js';
import type { NatsLink } from './nats-link.js';

const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export type Membership = 'join' | 'leave';

export interface FanoutReceiver {
  /** Delivers another node's events here; one count per event. */
  deliver(events: FanoutEvent[]): number[];
  /** Another node joined or left. */
  membership(kind: Membership, nodeId: string): void;
}

export class FanoutChannel implements FanoutTransport {
  private readonly batcher: FanoutBatcher;

  constructor(
    private readonly link: NatsLink,
    private readonly nodeId: string,
    private readonly subject: string,
    private readonly ackSubject: string,
    /** The other nodes believed live, whose acknowledgements a batch waits for. */
    private readonly peers: () => Iterable<string>,
    private readonly receiver: FanoutReceiver,
    private readonly log: Logger | undefined,
  ) {
    this.batcher = new FanoutBatcher(this, log);
  }

  /** Callers not yet settled and batch timers armed, for leak checks. */
  get diagnostics(): { pending: number; timers: number } {
    return this.batcher.diagnostics;
  }

  get ready(): boolean {
    return this.link.healthy;
  }

  unavailable(): Error {
    return this.link.unavailable();
  }

  send(event: FanoutEvent, timeoutMs: number): Promise<number> {
    return this.batcher.add(event, timeoutMs);
  }

  /** Tells every peer this node joined or leaves; resolves once all acknowledged or at the timeout. */
  announce(kind: Membership, timeoutMs: number): Promise<void> {
    return this.batcher.control(kind, timeoutMs);
  }

  /** A fan-out or announcement from another node (or our own echo, ignored). */
  receive(msg: Msg): void {
    let envelope: { o?: unknown; b?: unknown; e?: unknown; c?: unknown };
    try {
      envelope = msg.json();
    } catch {
      return;
    }
    if (typeof envelope.o !== 'string' || envelope.o === this.nodeId || typeof envelope.b !== 'number') return;
    this.batcher.heardFrom(envelope.o);
    let counts: number[] = [];
    if (envelope.c === 'join' || envelope.c === 'leave') this.receiver.membership(envelope.c, envelope.o);
    else if (Array.isArray(envelope.e)) counts = deliverBatch((events) => this.receiver.deliver(events), envelope.e as FanoutEvent[], this.log);
    if (msg.reply === undefined || msg.reply === '') return;
    try {
      msg.respond(`{"n":${JSON.stringify(this.nodeId)},"b":${envelope.b},"c":${JSON.stringify(counts)}}`);
    } catch (err) {
      this.log?.debug({ err: (err as Error).message }, 'fan-out acknowledgement not sent');
    }
  }

  /** An acknowledgement from a peer for one of our batches. */
  acknowledge(msg: Msg): void {
    let ack: { n?: unknown; b?: unknown; c?: unknown };
    try {
      ack = msg.json();
    } catch {
      return;
    }
    if (typeof ack.n !== 'string' || typeof ack.b !== 'number') return;
    this.batcher.acknowledge(ack.b, ack.n, ack.c);
  }

  /** The connection dropped or the backplane stops: nobody waits for acknowledgements any more. */
  failAll(err: Error): void {
    this.batcher.failAll(err);
  }

  maxBatchBytes(): number {
    try {
      return this.link.handles.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
    } catch {
      return DEFAULT_MAX_PAYLOAD;
    }
  }

  sendBatch(batchId: number, content: BatchContent): AckExpectation {
    const body = content.events === undefined ? `"c":${JSON.stringify(content.control)}` : `"e":${content.events}`;
    try {
      this.link.handles.nc.publish(this.subject, `{"o":${JSON.stringify(this.nodeId)},"b":${batchId},${body}}`, { reply: this.ackSubject });
    } catch (err) {
      throw this.link.translate(err);
    }
    const peers: string[] = [];
    for (const peer of this.peers()) if (peer !== this.nodeId) peers.push(peer);
    return { peers };
  }
}
