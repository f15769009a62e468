/** The path's forward integration, as a realtime message of a type the protocol does not know calls it. */
import type { Logger } from '../observability/index.js';
import { BackendFailure, type Backend } from '../routing/index.js';
import { ERROR_CODES, encodeEnvelope } from './envelope.js';
import type { EnvelopeReplies } from './replies.js';
import type { RealtimeSession } from './session.js';

const ENVELOPE_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'content-type': 'application/json' });

/**
 * The forward integration as this message calls it: a failure comes back as the protocol's
 * `error` envelope (BACKEND_ERROR, requestId echoed) rather than the raw paths' error frame,
 * which carries neither the tenant nor the requestId.
 */
export function answeringInEnvelopes(
  backend: Backend,
  session: RealtimeSession,
  requestId: string | undefined,
  replies: EnvelopeReplies,
  log: Logger,
): Backend {
  return {
    remote: backend.remote,
    async call(request) {
      let status: number;
      let message: string;
      try {
        const response = await backend.call(request);
        if (response.status >= 200 && response.status < 300) return response;
        status = response.status;
        message = `backend answered ${response.status}`;
      } catch (err) {
        status = err instanceof BackendFailure ? err.status : 500;
        message = (err as Error).message;
      }
      log.warn({ connectionId: session.record.id, status, err: message }, 'realtime forward failed');
      const record = session.record;
      const body = encodeEnvelope('error', { code: ERROR_CODES.BACKEND_ERROR, status, message }, record.tenantId, record.userId, replies.now(), requestId);
      return { status: 200, headers: ENVELOPE_HEADERS, body: Buffer.from(body) };
    },
  };
}
