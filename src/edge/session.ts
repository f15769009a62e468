import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { OutboundFrame, type ClientTransport, type ConnectionRecord } from '../connections/index.js';
import { BackendFailure, type Backend, type BackendRequest, type BackendResponse, type EventType, type Route } from '../routing/index.js';
import { formatRfc3339 } from '../time/index.js';
import { CloseCode, isSendableCloseCode } from './close-codes.js';
import { encodeFrame, FrameSizeGuard, type FrameJoiner } from './frames.js';
import { backendHeaders, withDisconnect } from './backend-headers.js';
import type { EdgeContext } from './context.js';
import type { RealtimeSession } from '../realtime/index.js';

/** `WebSocket.OPEN`, without importing ws's runtime here. */
const WS_OPEN = 1;

/** Where a connection stands in its life. */
const enum Phase {
  Open,
  Closing,
  Closed,
}

/**
 * The edge's side of one client connection: writes frames, keeps the message order towards
 * the backend, enforces per-connection limits. Listeners are shared functions bound through
 * the socket, not closures, so a connection costs this object and what `ws` needs.
 */
export class ClientSession implements ClientTransport, RealtimeSession {
  record!: ConnectionRecord;
  lastDataAt: number;
  private phase = Phase.Open;
  /** Frames written this tick, not yet handed to the socket. */
  private queued: Buffer | Buffer[] | undefined = undefined;
  private queuedBytes = 0;
  private pending = 0;
  private tail: Promise<void> | undefined;
  private rateWindowStart = 0;
  private rateCount = 0;
  private closeCode = 0;
  private closeReason = '';
  private connectedAtFormatted: string | undefined = undefined;
  readonly frameGuard: FrameSizeGuard | undefined;

  constructor(
    readonly ctx: EdgeContext,
    readonly ws: WebSocket,
    readonly socket: Socket,
    readonly route: Route,
    readonly pathParams: Record<string, string>,
    now: number,
  ) {
    this.lastDataAt = now;
    this.frameGuard = ctx.limits.maxFrameBytes < ctx.limits.maxMessageBytes ? new FrameSizeGuard(ctx.limits.maxFrameBytes) : undefined;
  }

  get open(): boolean {
    return this.phase === Phase.Open;
  }

  write(frame: OutboundFrame): boolean {
    // ws may have begun a close of its own (a protocol error, the client's close frame) that
    // this session hears of only at 'close': nothing written then would be delivered.
    if (this.phase !== Phase.Open || this.ws.readyState !== WS_OPEN) return false;
    if (this.socket.writableLength + this.queuedBytes > this.ctx.limits.outboundBufferBytes) {
      // A consumer this far behind would grow memory without bound: let it go. A close frame
      // queued behind megabytes it does not read would never arrive, and ws would hold the
      // socket for its 30 s closing timeout, so the socket is dropped; the backend hears 1013.
      this.queued = undefined;
      this.queuedBytes = 0;
      this.close(CloseCode.TRY_AGAIN_LATER, 'outbound buffer limit reached');
      this.ws.terminate();
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
      const pending = this.ctx.queuedSessions;
      pending.push(this);
      if (pending.length === 1) setImmediate(this.ctx.flushQueued);
    } else if (Array.isArray(queued)) {
      queued.push(wire);
    } else {
      this.queued = [queued, wire];
    }
    this.queuedBytes += wire.length;
    this.ctx.traffic.messagesOut++;
    this.ctx.traffic.bytesOut += frame.data.length;
    return true;
  }

  /**
   * Writes what this turn queued (also before any frame ws writes itself, such as a close).
   * The listener's end-of-turn flush passes the time and a joiner shared by all sockets.
   */
  flush(now = this.ctx.clock.now(), joiner?: FrameJoiner): void {
    const queued = this.queued;
    if (queued === undefined) return;
    this.queued = undefined;
    this.queuedBytes = 0;
    this.record.lastActiveAt = now;
    this.lastDataAt = now;
    // ws answers a client's close frame itself, in the read that carried it: a reply queued
    // earlier in that read would land after the close frame, which RFC 6455 §5.5.1 forbids.
    if (this.socket.destroyed || this.ws.readyState !== WS_OPEN) return;
    if (!Array.isArray(queued)) this.socket.write(queued);
    else this.socket.write(joiner === undefined ? Buffer.concat(queued) : joiner.join(queued));
  }

  flushIfQueued(): void {
    if (this.queued !== undefined) this.flush();
  }

  sendText(text: string): boolean {
    return this.write(new OutboundFrame(Buffer.from(text), false));
  }

  close(code: number, reason: string): void {
    if (this.phase !== Phase.Open) return;
    this.phase = Phase.Closing;
    this.closeCode = isSendableCloseCode(code) ? code : CloseCode.NORMAL;
    this.closeReason = truncateReason(reason);
    this.ctx.forget(this);
    // Messages accepted before the close go out before the close frame.
    this.flush();
    this.ws.close(this.closeCode, this.closeReason);
  }

  /** Drops the connection without a closing handshake (a peer that stopped answering). */
  terminate(reason: string): void {
    if (this.phase === Phase.Closed) return;
    if (this.phase === Phase.Open) {
      this.phase = Phase.Closing;
      this.closeCode = 1006;
      this.closeReason = reason;
      this.ctx.forget(this);
    }
    this.ws.terminate();
  }

  /** The socket is gone; the registry entry already is or goes now, and the backend hears of it. */
  closed(code: number, reason: string): void {
    if (this.phase === Phase.Closed) return;
    const initiatedHere = this.phase === Phase.Closing;
    this.phase = Phase.Closed;
    if (!initiatedHere) this.ctx.forget(this);
    const finalCode = initiatedHere ? this.closeCode : code;
    const finalReason = initiatedHere ? this.closeReason : reason;
    this.ctx.connectionClosed(this, finalCode, finalReason);
  }

  rawData(chunk: Buffer): void {
    if (this.frameGuard !== undefined && this.phase === Phase.Open && !this.frameGuard.accept(chunk)) {
      this.close(CloseCode.MESSAGE_TOO_BIG, `frame exceeds ${this.ctx.limits.maxFrameBytes} bytes`);
      // Failing the connection (RFC 6455 §7.1.7): the parser is inside the oversized payload
      // and would read the client's close frame as payload, so nothing would end the closing
      // handshake before ws's 30 s timeout. The close frame is flushed, then the TCP side ends.
      this.socket.end();
    }
  }

  touch(): void {
    this.record.lastActiveAt = this.ctx.clock.now();
  }

  message(data: Buffer, binary: boolean): void {
    if (this.phase !== Phase.Open) return;
    const now = this.ctx.clock.now();
    this.record.lastActiveAt = now;
    this.lastDataAt = now;
    this.ctx.traffic.messagesIn++;
    this.ctx.traffic.bytesIn += data.length;
    if (now - this.rateWindowStart >= 1000) {
      this.rateWindowStart = now;
      this.rateCount = 0;
    }
    if (++this.rateCount > this.ctx.limits.messagesPerSecond) {
      this.close(CloseCode.POLICY_VIOLATION, 'message rate limit exceeded');
      return;
    }
    const realtime = this.route.realtime;
    if (realtime !== undefined && this.ctx.realtime !== undefined) {
      this.ctx.realtime.message(this, data, binary);
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
    if (this.pending >= this.ctx.limits.maxPendingMessages) {
      this.close(CloseCode.TRY_AGAIN_LATER, 'too many messages waiting for the backend');
      return;
    }
    if (this.pending === 0 && backend.fixedAnswer !== undefined) {
      // Nothing ahead of it and nothing to wait for: answered in this turn, with no promise.
      const response = backend.fixedAnswer();
      if (response.status >= 200 && response.status < 300 && response.body.length > 0) this.write(fixedFrameOf(response));
      else this.answer(response, false);
      return;
    }
    if (this.pending++ === 0) this.tail = this.dispatch(backend, data, binary);
    else this.tail = this.tail!.then(() => this.dispatch(backend, data, binary));
  }

  private async dispatch(backend: Backend, data: Buffer, binary: boolean): Promise<void> {
    try {
      const request: BackendRequest = backend.remote
        ? {
            eventType: 'MESSAGE',
            headers: this.backendHeaders('MESSAGE'),
            body: data,
            contentType: binary ? 'application/octet-stream' : 'application/json',
            pathParams: this.pathParams,
          }
        : DUMMY_REQUEST;
      const started = backend.remote ? performance.now() : 0;
      let response;
      try {
        response = await backend.call(request);
      } finally {
        if (backend.remote) this.ctx.observeBackend('MESSAGE', performance.now() - started);
      }
      this.answer(response, backend.remote);
    } catch (err) {
      const status = err instanceof BackendFailure ? err.status : 500;
      this.ctx.log.warn({ connectionId: this.record.id, err: (err as Error).message }, 'message backend call failed');
      this.sendError('BACKEND_ERROR', status, (err as Error).message);
    } finally {
      this.pending--;
    }
  }

  /** A message backend's answer, to the client: its body as a frame, or an error frame. */
  private answer(response: BackendResponse, remote: boolean): void {
    if (response.status >= 200 && response.status < 300) {
      if (response.body.length > 0) this.write(new OutboundFrame(response.body, !isTextual(response.headers['content-type'])));
    } else {
      // A dummy's status is the spec's choice, answered to every message: not worth a warning each.
      const fields = { connectionId: this.record.id, status: response.status };
      if (remote) this.ctx.log.warn(fields, 'message backend answered with an error status');
      else this.ctx.log.debug(fields, 'dummy integration answers with an error status');
      this.sendError('BACKEND_ERROR', response.status, `backend answered ${response.status}`);
    }
  }

  /** Formatted when a backend first needs it: most connections of a busy node never do. */
  private connectedAtText(): string {
    return (this.connectedAtFormatted ??= formatRfc3339(this.record.connectedAt));
  }

  /** The documented error frame of raw paths (README, "Error frames"). */
  sendError(code: string, status: number, message: string): void {
    this.sendText(
      JSON.stringify({ type: 'error', data: { code, status, message }, timestamp: formatRfc3339(this.ctx.clock.now()) }),
    );
  }

  backendHeaders(eventType: EventType): Record<string, string> {
    return backendHeaders(this.record, eventType, this.connectedAtText(), this.ctx.messageIds.next(this.ctx.clock.now()));
  }

  /** Disconnect event headers: the backend learns why the connection ended. */
  disconnectHeaders(code: number, reason: string): Record<string, string> {
    return withDisconnect(this.backendHeaders('DISCONNECT'), code, reason);
  }

  /** Resolves when every message already accepted has had its backend answer. */
  settled(): Promise<void> {
    return this.tail?.then(noop, noop) ?? Promise.resolve();
  }
}

/** One frame per fixed answer, encoded once for every connection and message it answers. */
const fixedFrames = new WeakMap<BackendResponse, OutboundFrame>();

function fixedFrameOf(response: BackendResponse): OutboundFrame {
  let frame = fixedFrames.get(response);
  if (frame === undefined) fixedFrames.set(response, (frame = new OutboundFrame(response.body, !isTextual(response.headers['content-type']))));
  return frame;
}

const DUMMY_REQUEST: BackendRequest = { eventType: 'MESSAGE', headers: {}, pathParams: {} };

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

/** A close reason is at most 123 bytes of UTF-8 (RFC 6455 §5.5: control payload ≤ 125). */
function truncateReason(reason: string): string {
  if (Buffer.byteLength(reason) <= 123) return reason;
  let cut = reason.slice(0, 123);
  while (Buffer.byteLength(cut) > 123) cut = cut.slice(0, -1);
  return cut;
}

