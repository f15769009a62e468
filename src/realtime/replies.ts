/**
 * How the realtime protocol answers one connection: envelopes stamped with its tenant, its
 * user and the time, and errors by their protocol code.
 */
import { isSwitchboardError } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { formatRfc3339, type Clock } from '../time/index.js';
import { ERROR_CODES, encodeEnvelope, errorCodeOf, type ErrorCode } from './envelope.js';
import type { RealtimeSession } from './session.js';

export class EnvelopeReplies {
  constructor(
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** The time an envelope carries. */
  now(): string {
    return formatRfc3339(this.clock.now());
  }

  reply(session: RealtimeSession, type: string, data: unknown, requestId?: string): void {
    const record = session.record;
    let text: string;
    try {
      text = encodeEnvelope(type, data, record.tenantId, record.userId, this.now(), requestId);
    } catch (err) {
      // A stored JSON payload nested deeper than JSON.stringify's stack allows (history and
      // recovery parse what live delivery splices as it came), or an answer past the longest
      // string V8 makes. Thrown here, inside a promise callback, it would be an unhandled
      // rejection, which ends the process.
      this.log.error({ err, connectionId: record.id, type }, 'realtime answer could not be encoded');
      const why = /call stack/i.test((err as Error).message) ? 'a payload nests too deeply' : err instanceof RangeError ? 'it is too large' : 'it is not JSON';
      text = encodeEnvelope('error', { code: ERROR_CODES.INTERNAL, message: `the ${type} answer could not be encoded: ${why}` }, record.tenantId, record.userId, this.now(), requestId);
    }
    session.sendText(text);
  }

  error(session: RealtimeSession, code: ErrorCode, message: string, requestId?: string, field?: string): void {
    this.reply(session, 'error', field === undefined ? { code, message } : { code, message, field }, requestId);
  }

  /** A request's failure as its `error` envelope; an error that is not the protocol's is logged and answered INTERNAL. */
  fail(session: RealtimeSession, err: unknown, requestId?: string): void {
    if (isSwitchboardError(err)) {
      this.error(session, errorCodeOf(err), err.message, requestId, err.field);
    } else {
      this.log.error({ err, connectionId: session.record.id }, 'realtime request failed');
      this.error(session, ERROR_CODES.INTERNAL, 'internal error', requestId);
    }
  }
}
