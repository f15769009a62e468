import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { OutboundFrame, type ClientTransport, type ConnectionRecord } from '../connections/index.js';
import { contentTypeOf, type Backend, type BackendResponse, type EventType, type Route } from '../routing/index.js';
import type { RealtimeSession } from '../realtime/index.js';
import { formatRfc3339 } from '../time/index.js';
import { CloseCode, CloseReason, frameTooBigReason, isSendableCloseCode, truncateReason } from './close-codes.js';
import { FrameSizeGuard } from './frames.js';
import type { MessageCaller } from './integration-calls.js';
import { ConnectionOutbound, flushAfterEachRead } from './outbound.js';
import type { SessionRoles } from './session-roles.js';

/** Where a connection stands in its life. */
const enum Phase {
  Open,
  Closing,
  Closed,
}

/**
 * The edge's side of one client connection: its phase from open to closed, the message order
 * towards the backend, the per-connection limits. Listeners are shared functions bound through
 * the socket, not closures, so a connection costs this object and what `ws` needs.
 */
export class ClientSession extends ConnectionOutbound implements ClientTransport, RealtimeSession, MessageCaller {
  record!: ConnectionRecord;
  lastDataAt: number;
  private phase = Phase.Open;
  private pending = 0;
  private tail: Promise<void> | undefined;
  private rateWindowStart = 0;
  private rateCount = 0;
  private closeCode = 0;
  private closeReason = '';
  private connectedAtFormatted: string | undefined = undefined;
  private readonly frameGuard: FrameSizeGuard | undefined;

  constructor(
    private readonly roles: SessionRoles,
    ws: WebSocket,
    socket: Socket,
    readonly route: Route,
    readonly pathParams: Record<string, string>,
    now: number,
  ) {
    super(roles.flusher, ws, socket);
    this.lastDataAt = now;
    this.frameGuard = roles.limits.maxFrameBytes < roles.limits.maxMessageBytes ? new FrameSizeGuard(roles.limits.maxFrameBytes) : undefined;
  }

  /** Starts hearing the connection's events; its record is set. */
  listen(): void {
    const ws = this.ws as SessionTagged<WebSocket>;
    const socket = this.socket as SessionTagged<Socket>;
    ws[kSession] = this;
    socket[kSession] = this;
    ws.on('message', onWsMessage);
    ws.on('close', onWsClose);
    ws.on('error', onWsError);
    if (this.frameGuard !== undefined) socket.prependListener('data', onSocketData);
    flushAfterEachRead(socket, this);
  }

  get open(): boolean {
    return this.phase === Phase.Open;
  }

  write(frame: OutboundFrame): boolean {
    return this.phase === Phase.Open && this.queueFrame(frame);
  }

  /**
   * A consumer this far behind would grow memory without bound: let it go. A close frame
   * queued behind megabytes it does not read would never arrive, and ws would hold the
   * socket for its 30 s closing timeout, so the socket is dropped; the backend hears 1013.
   */
  protected outboundOverflowed(): void {
    this.close(CloseCode.TRY_AGAIN_LATER, CloseReason.OUTBOUND_BUFFER_FULL);
    this.ws.terminate();
  }

  protected wrote(now: number): void {
    this.record.lastActiveAt = now;
    this.lastDataAt = now;
  }

  sendText(text: string): boolean {
    return this.write(new OutboundFrame(Buffer.from(text), false));
  }

  close(code: number, reason: string): void {
    if (this.phase !== Phase.Open) return;
    this.phase = Phase.Closing;
    this.closeCode = isSendableCloseCode(code) ? code : CloseCode.NORMAL;
    this.closeReason = truncateReason(reason);
    this.roles.lifecycle.forget(this);
    // Messages accepted before the close go out before the close frame.
    this.flush();
    this.ws.close(this.closeCode, this.closeReason);
  }

  /** Drops the connection without a closing handshake (a peer that stopped answering). */
  terminate(reason: string): void {
    if (this.phase === Phase.Closed) return;
    if (this.phase === Phase.Open) {
      this.phase = Phase.Closing;
      this.closeCode = CloseCode.ABNORMAL;
      this.closeReason = reason;
      this.roles.lifecycle.forget(this);
    }
    this.ws.terminate();
  }

  /** The socket is gone; the registry entry already is or goes now, and the backend hears of it. */
  closed(code: number, reason: string): void {
    if (this.phase === Phase.Closed) return;
    const initiatedHere = this.phase === Phase.Closing;
    this.phase = Phase.Closed;
    if (!initiatedHere) this.roles.lifecycle.forget(this);
    const finalCode = initiatedHere ? this.closeCode : code;
    const finalReason = initiatedHere ? this.closeReason : reason;
    this.roles.lifecycle.ended(this, finalCode, finalReason);
  }

  rawData(chunk: Buffer): void {
    if (this.frameGuard !== undefined && this.phase === Phase.Open && !this.frameGuard.accept(chunk)) {
      this.close(CloseCode.MESSAGE_TOO_BIG, frameTooBigReason(this.roles.limits.maxFrameBytes));
      // Failing the connection (RFC 6455 §7.1.7): the parser is inside the oversized payload
      // and would read the client's close frame as payload, so nothing would end the closing
      // handshake before ws's 30 s timeout. The close frame is flushed, then the TCP side ends.
      this.socket.end();
    }
  }

  touch(): void {
    this.record.lastActiveAt = this.roles.clock.now();
  }

  message(data: Buffer, binary: boolean): void {
    if (this.phase !== Phase.Open) return;
    const roles = this.roles;
    const now = roles.clock.now();
    this.record.lastActiveAt = now;
    this.lastDataAt = now;
    roles.traffic.messagesIn++;
    roles.traffic.bytesIn += data.length;
    if (now - this.rateWindowStart >= 1000) {
      this.rateWindowStart = now;
      this.rateCount = 0;
    }
    if (++this.rateCount > roles.limits.messagesPerSecond) {
      this.close(CloseCode.POLICY_VIOLATION, CloseReason.MESSAGE_RATE);
      return;
    }
    if (this.route.realtime !== undefined && roles.realtime !== undefined) {
      roles.realtime.message(this, data, binary);
      return;
    }
    const target = this.route.select(data, binary);
    if (target === undefined || target.kind !== 'backend') {
      this.sendError('NO_ROUTE', 404, 'no integration handles this message');
      return;
    }
    this.forward(target.backend, data, binary);
  }

  /**
   * Sends one message to a backend, in order: a connection's messages reach its backend and
   * their answers reach the client in the order they were sent.
   */
  forward(backend: Backend, data: Buffer, binary: boolean): void {
    if (this.pending >= this.roles.limits.maxPendingMessages) {
      this.close(CloseCode.TRY_AGAIN_LATER, CloseReason.TOO_MANY_PENDING);
      return;
    }
    if (this.pending === 0 && backend.fixedAnswer !== undefined) {
      // Nothing ahead of it and nothing to wait for: answered in this turn, with no promise.
      const response = backend.fixedAnswer();
      if (response.status >= 200 && response.status < 300 && response.body.length > 0) this.write(fixedFrameOf(response));
      else this.answered(response, false);
      return;
    }
    if (this.pending++ === 0) this.tail = this.dispatch(backend, data, binary);
    else this.tail = this.tail!.then(() => this.dispatch(backend, data, binary));
  }

  private dispatch(backend: Backend, data: Buffer, binary: boolean): Promise<void> {
    return this.roles.integrations.message(backend, this, data, binary);
  }

  callFailed(status: number, message: string): void {
    this.sendError('BACKEND_ERROR', status, message);
  }

  callDone(): void {
    this.pending--;
  }

  /** A message backend's answer, to the client: its body as a frame, or an error frame. */
  answered(response: BackendResponse, remote: boolean): void {
    if (response.status >= 200 && response.status < 300) {
      if (response.body.length > 0) this.write(new OutboundFrame(response.body, !isTextual(contentTypeOf(response))));
    } else {
      // A dummy's status is the spec's choice, answered to every message: not worth a warning each.
      const fields = { connectionId: this.record.id, status: response.status };
      if (remote) this.roles.log.warn(fields, 'message backend answered with an error status');
      else this.roles.log.debug(fields, 'dummy integration answers with an error status');
      this.sendError('BACKEND_ERROR', response.status, `backend answered ${response.status}`);
    }
  }

  /** Formatted when a backend first needs it: most connections of a busy node never do. */
  connectedAtText(): string {
    return (this.connectedAtFormatted ??= formatRfc3339(this.record.connectedAt));
  }

  /** The documented error frame of raw paths (README, "Error frames"). */
  sendError(code: string, status: number, message: string): void {
    this.sendText(
      JSON.stringify({ type: 'error', data: { code, status, message }, timestamp: formatRfc3339(this.roles.clock.now()) }),
    );
  }

  backendHeaders(eventType: EventType): Record<string, string> {
    return this.roles.integrations.headers(this, eventType);
  }

  /** Resolves when every message already accepted has had its backend answer. */
  settled(): Promise<void> {
    return this.tail?.then(noop, noop) ?? Promise.resolve();
  }

  protocolError(err: Error & { code?: string }): void {
    // ws closes the socket itself (1002/1007/1009 …); the close event fires the disconnect.
    this.roles.log.debug({ connectionId: this.record.id, err: err.message, code: err.code }, 'client protocol error');
  }
}

/** The session a ws or socket carries, for the shared listeners. */
export const kSession = Symbol('switchboard.session');
export type SessionTagged<T> = T & { [kSession]?: ClientSession };

// Shared listeners: `this` is the emitter, the session hangs off it, no closure per socket.
function onWsMessage(this: SessionTagged<WebSocket>, data: Buffer, isBinary: boolean): void {
  this[kSession]?.message(data, isBinary);
}
function onWsClose(this: SessionTagged<WebSocket>, code: number, reason: Buffer): void {
  this[kSession]?.closed(code, reason.toString('utf8'));
}
function onWsError(this: SessionTagged<WebSocket>, err: Error & { code?: string }): void {
  this[kSession]?.protocolError(err);
}
function onSocketData(this: SessionTagged<Socket>, chunk: Buffer): void {
  this[kSession]?.rawData(chunk);
}

/** One frame per fixed answer, encoded once for every connection and message it answers. */
const fixedFrames = new WeakMap<BackendResponse, OutboundFrame>();

function fixedFrameOf(response: BackendResponse): OutboundFrame {
  let frame = fixedFrames.get(response);
  if (frame === undefined) fixedFrames.set(response, (frame = new OutboundFrame(response.body, !isTextual(contentTypeOf(response)))));
  return frame;
}

function noop(): void {}

/** The last content type asked about and its answer: a backend answers with one type, message after message. */
let lastContentType: string | undefined;
let lastTextual = false;

export function isTextual(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  if (contentType === lastContentType) return lastTextual;
  const type = contentType.toLowerCase();
  lastTextual = type.startsWith('text/') || type.includes('json');
  lastContentType = contentType;
  return lastTextual;
}
