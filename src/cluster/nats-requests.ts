/**
 * Calls to one node over NATS request/reply: sending one to a node's subject, and answering
 * those addressed to this node. docs/nats-layout.md describes the subject and the payloads.
 */
import { ErrorCode, type Msg } from 'nats';
import { DeadlineExceeded } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import { NodeNotListening, type BackplaneHandlers, type RemoteAnswer, type RemoteRequest } from './backplane.js';
import type { NatsLink } from './nats-link.js';

/**
 * Sends one request and waits for its answer. `notListening` is told when nobody subscribes
 * to the node's subject, before the call fails.
 */
export async function requestNode(link: NatsLink, subject: string, nodeId: string, request: RemoteRequest, timeoutMs: number, notListening: (nodeId: string) => void): Promise<RemoteAnswer> {
  let reply: Msg;
  try {
    reply = await link.guard(({ nc }) => nc.request(subject, JSON.stringify(request), { timeout: timeoutMs }));
  } catch (err) {
    const code = (err as { code?: unknown } | null)?.code;
    if (code === ErrorCode.Timeout) throw new DeadlineExceeded(`node ${nodeId} did not answer within ${timeoutMs} ms`);
    // Nobody subscribes to the node's subject: it is gone (or not there yet), which NATS
    // tells at once. It answers as a node that did not answer in time would (the backplane
    // contract), only sooner; NOT_FOUND is the caller's to say, after checking liveness.
    if (code === ErrorCode.NoResponders) {
      notListening(nodeId);
      throw new NodeNotListening(`node ${nodeId} did not answer (no responders)`);
    }
    throw link.translate(err);
  }
  return parseAnswer(reply);
}

/** Answers one request addressed to this node; a failure of the handler answers INTERNAL. */
export async function answerRequest(msg: Msg, handlers: BackplaneHandlers, log: Logger | undefined): Promise<void> {
  let answer: RemoteAnswer;
  try {
    answer = await handlers.request(msg.json<RemoteRequest>());
  } catch (err) {
    log?.error({ err }, 'answering a cluster request failed');
    answer = { ok: false, kind: 'INTERNAL', message: 'internal error' };
  }
  if (msg.reply === undefined || msg.reply === '') return;
  try {
    msg.respond(JSON.stringify(answer));
  } catch (err) {
    // Most likely past max_payload (a large list page): say so instead of letting the caller time out.
    log?.warn({ err: (err as Error).message }, 'cluster answer not sent');
    try {
      msg.respond(JSON.stringify({ ok: false, kind: 'RESOURCE_EXHAUSTED', message: `answer not sent: ${(err as Error).message}` } satisfies RemoteAnswer));
    } catch {
      // the connection is gone; the caller times out or fails over
    }
  }
}

function parseAnswer(reply: Msg): RemoteAnswer {
  let value: unknown;
  try {
    value = reply.json();
  } catch {
    return { ok: false, kind: 'INTERNAL', message: 'unreadable answer from another node' };
  }
  if (typeof value === 'object' && value !== null) {
    const answer = value as Partial<{ ok: boolean; value: unknown; kind: string; message: string; field: string }>;
    if (answer.ok === true) return { ok: true, value: answer.value };
    if (answer.ok === false) {
      return {
        ok: false,
        kind: typeof answer.kind === 'string' ? answer.kind : 'INTERNAL',
        message: typeof answer.message === 'string' ? answer.message : 'error on another node',
        ...(typeof answer.field === 'string' ? { field: answer.field } : {}),
      };
    }
  }
  return { ok: false, kind: 'INTERNAL', message: 'unreadable answer from another node' };
}
