/**
 * Where the NATS backplane keeps things: subjects, the history stream and the KV buckets,
 * all derived from one subject prefix so several clusters (or test runs) can share a server
 * without seeing each other. docs/nats-layout.md draws the same map for operators.
 */
import { createHash } from 'node:crypto';
import { InvalidArgument } from '../errors/index.js';

export const DEFAULT_SUBJECT_PREFIX = 'switchboard';

/** A node id travels as one subject token and one KV key, so it keeps to their common alphabet. */
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** Dot-separated tokens, none empty, no wildcards or whitespace. */
const SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export interface NatsLayout {
  readonly subjectPrefix: string;
  /** Requests for one node: `<prefix>.node.<nodeId>`. */
  nodeSubject(nodeId: string): string;
  /** Batched fan-out and membership announcements, heard by every node. */
  readonly fanoutSubject: string;
  /** Where one running instance collects fan-out acknowledgements. */
  ackSubject(nodeId: string, instance: string): string;
  /** The history of one topic: `<prefix>.hist.<token>`. */
  historySubject(topic: string): string;
  /** The KV key of a topic's announced epoch (the token of its history subject). */
  topicKey(topic: string): string;
  readonly historyStream: string;
  readonly nodesBucket: string;
  readonly epochsBucket: string;
  readonly idempotencyBucket: string;
}

export function natsLayout(subjectPrefix = DEFAULT_SUBJECT_PREFIX): NatsLayout {
  if (!SUBJECT_PREFIX.test(subjectPrefix)) {
    throw new InvalidArgument(`subject prefix ${JSON.stringify(subjectPrefix)} is not a NATS subject of plain tokens`, 'subjectPrefix');
  }
  // Stream and bucket names may not contain dots; KV bucket names keep to [A-Za-z0-9_-].
  const base = subjectPrefix.replace(/\./g, '_');
  return {
    subjectPrefix,
    nodeSubject: (nodeId) => `${subjectPrefix}.node.${nodeId}`,
    fanoutSubject: `${subjectPrefix}.fanout`,
    ackSubject: (nodeId, instance) => `${subjectPrefix}.ack.${nodeId}.${instance}`,
    historySubject: (topic) => `${subjectPrefix}.hist.${topicToken(topic)}`,
    topicKey: topicToken,
    historyStream: `${base.toUpperCase()}_HISTORY`,
    nodesBucket: `${base}_nodes`,
    epochsBucket: `${base}_epochs`,
    idempotencyBucket: `${base}_idempotency`,
  };
}

export function checkNodeId(nodeId: string): string {
  if (!NODE_ID.test(nodeId)) throw new InvalidArgument(`node id ${JSON.stringify(nodeId)} cannot name a NATS subject token`, 'nodeId');
  return nodeId;
}

/**
 * A topic name as one subject token. Topic names may hold '.', '*', '>' and spaces, which
 * would split or widen a subject, so they travel base64url-encoded (alphabet A-Z a-z 0-9 - _,
 * valid in subjects and KV keys alike); the leading `t` keeps the empty name a non-empty token.
 */
export function topicToken(topic: string): string {
  return `t${Buffer.from(topic, 'utf8').toString('base64url')}`;
}

/**
 * An idempotency key as a KV key. Short keys are kept readable (base64url, prefix `k`); long
 * ones are hashed (prefix `h`) so a key never outgrows a subject.
 */
export function idempotencyToken(key: string): string {
  const encoded = Buffer.from(key, 'utf8').toString('base64url');
  return encoded.length <= 200 ? `k${encoded}` : `h${createHash('sha256').update(key, 'utf8').digest('base64url')}`;
}
