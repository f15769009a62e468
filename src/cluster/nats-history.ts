/**
 * Topic history in JetStream with the semantics of the single-node MemoryTopicHistory:
 * offsets from 1 per topic, one more per publication, exact and consecutive whichever node
 * appends; an epoch that changes when the topic's history is lost; `complete` as there.
 *
 * One stream holds every topic, one subject per topic. Each message carries its offset,
 * epoch, time and the retention it was appended with in headers, so the newest message of a
 * subject (the head, one direct get away) is the topic's whole position. An append is one
 * JetStream publish guarded by `Nats-Expected-Last-Subject-Sequence` = the head's sequence:
 * two nodes appending at once cannot both win, and the loser re-reads the head and retries,
 * so offsets never repeat or skip and stream order is offset order.
 *
 * Retention is per message, not per stream (topics differ and one stream cannot hold two
 * limits): a read keeps what lies inside the head's `historySize` window and is younger than
 * its `historyTtlSeconds`, exactly as the memory ring would; the stream is trimmed behind
 * that (purge keep=size every few appends, a rollup when a new epoch starts or nothing is
 * kept), so storage stays within about 1.25 × historySize messages per active topic.
 *
 * A topic's history is lost when its head lapses: it held nothing but the last append
 * (historySize 0) or its entries all passed their TTL, and the topic then stayed idle as
 * long (MemoryTopicHistory's idle rule). The next epoch is announced in a KV bucket whose
 * entries live `idleStreamMs`, so every node names the same new epoch for a topic that was
 * only looked at, and the first append of that epoch rolls the old subject up atomically.
 */
import { randomBytes } from 'node:crypto';
import { AckPolicy, createInbox, DeliverPolicy, headers, nanos, type JetStreamManager, type Msg, type MsgHdrs, type NatsConnection, type StoredMsg } from 'nats';
import { DeadlineExceeded, Unavailable } from '../errors/index.js';
import type { AlreadyAppended, Appended, HistoryRetentionSettings, IdempotentAppend, SharedHistory } from './backplane.js';
import type { HistoryQuery, HistoryResult, Payload, Publication, StreamPosition } from './hub.js';
import type { NatsIdempotency } from './nats-idempotency.js';
import type { NatsLayout } from './nats-layout.js';
import { apiErrorCode, WRONG_LAST_SEQUENCE, type BackgroundTasks, type NatsLink } from './nats-link.js';

const H_EPOCH = 'Sb-Epoch';
const H_OFFSET = 'Sb-Offset';
const H_AT = 'Sb-At';
const H_SIZE = 'Sb-Size';
const H_TTL = 'Sb-Ttl';
const H_BINARY = 'Sb-Binary';
const ROLLUP = 'Nats-Rollup';

/** Appends retried after a lost race before giving up; each retry means another node won. */
const MAX_APPEND_ATTEMPTS = 32;
/** Heads remembered for the append fast path. */
const MAX_CACHED_HEADS = 10_000;
/** Messages fetched by one pull; a topic keeps at most ~1.25 × its historySize. */
const MAX_PULL_BATCH = 10_000;
/** How often an idempotent append whose key another node claimed looks for that node's result. */
const CLAIM_POLL_MS = 20;

export interface NatsHistoryOptions {
  /** How long an epoch announced for a topic without entries lives (MemoryTopicHistory's idleStreamSeconds). */
  idleStreamMs: number;
  /** Deadline for one read's pull from the stream, and for waiting on another node's claim of an idempotency key. */
  readTimeoutMs: number;
  /** Where idempotent appends claim their keys. */
  keys: NatsIdempotency;
  /** Names this node's claims. */
  nodeName: () => string;
}

/** The newest message of a topic's subject, i.e. the topic's position and retention. */
interface Head {
  seq: number;
  epoch: string;
  offset: number;
  at: number;
  size: number;
  ttlMs: number;
}

type TopicState =
  /** `message` is the head as stored, when it was just read rather than remembered. */
  | { kind: 'live'; head: Head; message: StoredMsg | undefined }
  /** No live head: nothing appended in this epoch yet. `lapsedSeq` is the old head's sequence, or 0. */
  | { kind: 'fresh'; epoch: string; lapsedSeq: number };

interface Entry {
  offset: number;
  epoch: string;
  publication: Publication;
}

export class NatsHistory implements SharedHistory {
  private readonly heads = new Map<string, Head>();
  /** Appends to one topic from this node run one after another, so they never race each other. */
  private readonly appendChains = new Map<string, Promise<unknown>>();
  private claims = 0;

  constructor(
    private readonly link: NatsLink,
    private readonly layout: NatsLayout,
    private readonly background: BackgroundTasks,
    private readonly options: NatsHistoryOptions,
  ) {}

  append(topic: string, payload: Payload, retention: HistoryRetentionSettings): Promise<Appended>;
  append(topic: string, payload: Payload, retention: HistoryRetentionSettings, idempotency: IdempotentAppend): Promise<Appended | AlreadyAppended>;
  append(topic: string, payload: Payload, retention: HistoryRetentionSettings, idempotency?: IdempotentAppend): Promise<Appended | AlreadyAppended> {
    if (idempotency !== undefined) return this.appendOnce(topic, payload, retention, idempotency);
    return this.appendInOrder(topic, payload, retention);
  }

  /**
   * A KV `create` claims the key, so of several nodes asked at once exactly one appends; the
   * winner stores the position it appended at, the others wait for it (a claim lapses after a
   * few request timeouts, so a node that died holding one blocks the key no longer).
   */
  private async appendOnce(topic: string, payload: Payload, retention: HistoryRetentionSettings, idempotency: IdempotentAppend): Promise<Appended | AlreadyAppended> {
    const keys = this.options.keys;
    const token = `claim:${this.options.nodeName()}:${++this.claims}`;
    const claimKey = `${idempotency.key}\u0000claim`;
    // Never outliving the key itself, or a repeat after the key's TTL would find only the old claim.
    const claimTtlSeconds = Math.min(idempotency.ttlSeconds, Math.max(10, Math.ceil((3 * this.options.readTimeoutMs) / 1000)));
    const deadline = Date.now() + this.options.readTimeoutMs;
    for (;;) {
      const first = await keys.get(idempotency.key);
      if (first !== undefined) return { duplicateOf: first };
      const claim = await keys.setIfAbsent(claimKey, { offset: -1, epoch: token }, claimTtlSeconds);
      if (claim.epoch === token) {
        const appended = await this.appendInOrder(topic, payload, retention);
        const position = await keys.setIfAbsent(idempotency.key, { offset: appended.publication.offset, epoch: appended.epoch }, idempotency.ttlSeconds);
        return position.offset === appended.publication.offset && position.epoch === appended.epoch ? appended : { duplicateOf: position };
      }
      if (Date.now() >= deadline) throw new DeadlineExceeded(`an append with the same idempotency key is still in progress on another node`);
      await new Promise((resolve) => setTimeout(resolve, CLAIM_POLL_MS));
    }
  }

  private appendInOrder(topic: string, payload: Payload, retention: HistoryRetentionSettings): Promise<Appended> {
    if (!this.link.healthy) return Promise.reject(this.link.unavailable());
    const subject = this.layout.historySubject(topic);
    const previous = this.appendChains.get(subject) ?? Promise.resolve();
    const result = previous.then(
      () => this.appendNow(topic, subject, payload, retention),
      () => this.appendNow(topic, subject, payload, retention),
    );
    const chain = result.catch(() => undefined);
    this.appendChains.set(subject, chain);
    void chain.then(() => {
      if (this.appendChains.get(subject) === chain) this.appendChains.delete(subject);
    });
    return result.catch((err: unknown) => Promise.reject(this.link.translate(err)));
  }

  async position(topic: string): Promise<StreamPosition> {
    try {
      const state = await this.load(topic, this.layout.historySubject(topic), Date.now());
      return state.kind === 'live' ? { offset: state.head.offset, epoch: state.head.epoch } : { offset: 0, epoch: state.epoch };
    } catch (err) {
      throw this.link.translate(err);
    }
  }

  async read(topic: string, query: HistoryQuery = {}): Promise<HistoryResult> {
    try {
      return await this.readNow(topic, query);
    } catch (err) {
      throw this.link.translate(err);
    }
  }

  // ---- append ----

  private async appendNow(
    topic: string,
    subject: string,
    payload: Payload,
    retention: HistoryRetentionSettings,
  ): Promise<{ publication: Publication; epoch: string }> {
    const size = Math.max(0, Math.floor(retention.historySize));
    const ttlMs = retention.historyTtlSeconds > 0 ? Math.round(retention.historyTtlSeconds * 1000) : 0;
    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
      const now = Date.now();
      const cached = attempt === 0 ? this.heads.get(subject) : undefined;
      // The cached head is only a guess at the subject's last sequence: if another node
      // appended since, the expected-sequence check fails and the head is read afresh.
      const state: TopicState =
        cached !== undefined && !this.lapsed(cached, now) ? { kind: 'live', head: cached, message: undefined } : await this.load(topic, subject, now);
      const fresh = state.kind === 'fresh';
      const epoch = fresh ? state.epoch : state.head.epoch;
      const offset = fresh ? 1 : state.head.offset + 1;
      const expected = fresh ? state.lapsedSeq : state.head.seq;
      const h = headers();
      h.set(H_EPOCH, epoch);
      h.set(H_OFFSET, String(offset));
      h.set(H_AT, String(now));
      h.set(H_SIZE, String(size));
      h.set(H_TTL, String(ttlMs));
      h.set(H_BINARY, payload.binary ? '1' : '0');
      // A new epoch drops the old one's messages, and a topic keeping at most one (or, until
      // now, none) keeps only this one: in the same atomic write.
      if (fresh || size <= 1 || state.head.size === 0) h.set(ROLLUP, 'sub');
      // historySize grew: the ring held only the old size, and what lies beyond it in the
      // stream (not yet trimmed) must not come back into the wider window.
      else if (size > state.head.size) await this.purgeKeeping(subject, state.head.size);
      let seq: number;
      try {
        const ack = await this.link.guard(({ js }) => js.publish(subject, payload.data, { headers: h, expect: { lastSubjectSequence: expected } }));
        seq = ack.seq;
      } catch (err) {
        if (apiErrorCode(err) === WRONG_LAST_SEQUENCE) {
          this.heads.delete(subject);
          continue;
        }
        throw err;
      }
      const head: Head = { seq, epoch, offset, at: now, size, ttlMs };
      this.remember(subject, head);
      await this.trim(subject, head, fresh ? undefined : state.head);
      return { publication: { offset, data: payload.data, binary: payload.binary, publishedAt: now }, epoch };
    }
    throw new Unavailable(`history of topic ${topic} is too contended: ${MAX_APPEND_ATTEMPTS} appends lost their race`);
  }

  /**
   * Keeps the stream near the window reads already enforce. A shrinking historySize is
   * trimmed before the append returns, so entries beyond the new size cannot reappear if it
   * grows back (the memory ring forgets them too); otherwise every `step` appends a purge
   * with keep=size runs in the background, bounding a topic at size + step messages.
   */
  private async trim(subject: string, head: Head, previous: Head | undefined): Promise<void> {
    if (head.size <= 1) return; // rolled up on write
    const shrank = previous !== undefined && head.size < previous.size;
    const step = Math.max(4, Math.ceil(head.size / 4));
    if (!shrank && head.offset % step !== 0) return;
    if (shrank) await this.purgeKeeping(subject, head.size);
    else this.background.run(() => this.purgeKeeping(subject, head.size));
  }

  private async purgeKeeping(subject: string, keep: number): Promise<void> {
    await this.link.guard(({ jsm }) => jsm.streams.purge(this.layout.historyStream, { filter: subject, keep }));
  }

  // ---- read ----

  private async readNow(topic: string, query: HistoryQuery): Promise<HistoryResult> {
    const now = Date.now();
    const subject = this.layout.historySubject(topic);
    const state = await this.load(topic, subject, now);
    const since = query.sinceOffset ?? 0;
    if (state.kind === 'fresh') {
      const complete = query.sinceOffset === undefined || since === 0;
      return { offset: 0, epoch: state.epoch, publications: [], complete: query.epoch === undefined || query.epoch === state.epoch ? complete : false };
    }
    const { head } = state;
    const position = { offset: head.offset, epoch: head.epoch };
    // Offsets of another epoch say nothing about this one, so no publication can be matched to them.
    if (query.epoch !== undefined && query.epoch !== head.epoch) return { ...position, publications: [], complete: false };
    const windowStart = head.size === 0 ? head.offset + 1 : Math.max(1, head.offset - head.size + 1);
    const first = Math.max(since + 1, windowStart);
    const limit = query.limit === undefined || query.limit < 0 ? Infinity : query.limit;
    let entries: Entry[] = [];
    if (first === head.offset && state.message !== undefined) entries = [entryOf(state.message)];
    else if (first <= head.offset) {
      // Without a TTL every message in the window is retained, so a limit also bounds the fetch.
      const last = head.ttlMs === 0 && Number.isFinite(limit) ? Math.min(head.offset, first + Math.max(limit, 1) - 1) : head.offset;
      entries = await this.fetch(subject, head, first, last);
    }
    const retained = entries.filter((entry) => entry.epoch === head.epoch && entry.offset >= windowStart && this.young(head, entry.publication, now));
    const complete =
      query.sinceOffset === undefined ||
      (since <= head.offset && (since === head.offset || retained.some((entry) => entry.offset === since + 1)));
    const publications = retained.filter((entry) => entry.offset > since).map((entry) => entry.publication);
    return { ...position, publications: Number.isFinite(limit) ? publications.slice(0, limit) : publications, complete };
  }

  /**
   * Entries with offsets in [first, last]. JetStream 2.9 has no batched direct get, so a
   * short-lived consumer filtered on the topic's subject pulls them in one batch (no_wait);
   * the subject holds at most about 1.25 × historySize messages.
   */
  private async fetch(subject: string, head: Head, first: number, last: number): Promise<Entry[]> {
    const stream = this.layout.historyStream;
    const info = await this.link.guard(({ jsm }) =>
      jsm.consumers.add(stream, {
        filter_subject: subject,
        deliver_policy: DeliverPolicy.All,
        ack_policy: AckPolicy.None,
        mem_storage: true,
        num_replicas: 1,
        inactive_threshold: nanos(Math.max(5_000, this.options.readTimeoutMs * 2)),
      }),
    );
    try {
      const batch = Math.min(info.num_pending, MAX_PULL_BATCH);
      if (batch === 0) return [];
      const messages = await this.link.guard(({ nc, js }) => pull(nc, `${js.apiPrefix}.CONSUMER.MSG.NEXT.${stream}.${info.name}`, batch, head.seq, this.options.readTimeoutMs));
      const entries: Entry[] = [];
      for (const message of messages) {
        const entry = entryOfHeaders(message.headers, message.data);
        if (entry !== undefined && entry.offset >= first && entry.offset <= last) entries.push(entry);
      }
      return entries.sort((a, b) => a.offset - b.offset);
    } finally {
      this.background.run(() => this.link.guard(({ jsm }) => jsm.consumers.delete(stream, info.name)));
    }
  }

  // ---- the head and the epoch ----

  /** Reads the topic's head; without a live one, the epoch every node names for what comes next. */
  private async load(topic: string, subject: string, now: number): Promise<TopicState> {
    let message: StoredMsg | undefined;
    try {
      message = await this.link.guard(({ jsm }) => lastMessage(jsm, this.layout.historyStream, subject));
    } catch (err) {
      if (!isNoMessage(err)) throw err;
    }
    if (message !== undefined) {
      const head = headOf(message);
      if (head !== undefined) {
        this.remember(subject, head);
        if (!this.lapsed(head, now)) return { kind: 'live', head, message };
      }
    } else this.heads.delete(subject);
    const lapsedSeq = message?.seq ?? 0;
    return { kind: 'fresh', epoch: await this.announcedEpoch(topic, lapsedSeq), lapsedSeq };
  }

  /**
   * The epoch of a topic that has no live head: read from the epochs bucket, or created there
   * with compare-and-set so concurrent readers and appenders on any node agree. An entry
   * names the head sequence it follows, so one announced before an earlier epoch is not reused.
   */
  private async announcedEpoch(topic: string, after: number): Promise<string> {
    const key = this.layout.topicKey(topic);
    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
      const entry = await this.link.guard(({ epochs }) => epochs.get(key));
      if (entry !== null && entry.operation === 'PUT') {
        const announced = parseAnnouncement(entry.string());
        if (announced !== undefined && announced.after === after) return announced.epoch;
      }
      const epoch = randomBytes(8).toString('hex');
      const value = JSON.stringify({ epoch, after });
      try {
        if (entry === null) await this.link.guard(({ epochs }) => epochs.create(key, value));
        else await this.link.guard(({ epochs }) => epochs.update(key, value, entry.revision));
        return epoch;
      } catch (err) {
        if (apiErrorCode(err) !== WRONG_LAST_SEQUENCE) throw err;
      }
    }
    throw new Unavailable(`epoch of topic ${topic} is too contended`);
  }

  /**
   * MemoryTopicHistory's idle rule: a stream with no entries left (historySize 0, or all past
   * their TTL) and no append for its TTL (or the idle time when it has none) is dropped.
   */
  private lapsed(head: Head, now: number): boolean {
    if (head.size > 0 && head.ttlMs === 0) return false;
    const idleMs = head.ttlMs > 0 ? head.ttlMs : this.options.idleStreamMs;
    return now - head.at >= idleMs;
  }

  private young(head: Head, publication: Publication, now: number): boolean {
    return head.ttlMs === 0 || now - publication.publishedAt < head.ttlMs;
  }

  private remember(subject: string, head: Head): void {
    const known = this.heads.get(subject);
    if (known !== undefined && known.seq > head.seq) return;
    this.heads.delete(subject);
    this.heads.set(subject, head);
    if (this.heads.size > MAX_CACHED_HEADS) {
      const oldest = this.heads.keys().next();
      if (oldest.done !== true) this.heads.delete(oldest.value);
    }
  }
}

function headOf(message: StoredMsg): Head | undefined {
  const h = message.header;
  const epoch = h.get(H_EPOCH);
  const offset = Number(h.get(H_OFFSET));
  const at = Number(h.get(H_AT));
  const size = Number(h.get(H_SIZE));
  const ttlMs = Number(h.get(H_TTL));
  if (epoch === '' || !Number.isSafeInteger(offset) || offset < 1 || !Number.isFinite(at) || !Number.isSafeInteger(size) || !Number.isSafeInteger(ttlMs)) {
    return undefined;
  }
  return { seq: message.seq, epoch, offset, at, size, ttlMs };
}

function entryOf(message: StoredMsg): Entry {
  return entryOfHeaders(message.header, message.data)!;
}

function entryOfHeaders(h: MsgHdrs | undefined, data: Uint8Array): Entry | undefined {
  if (h === undefined) return undefined;
  const epoch = h.get(H_EPOCH);
  const offset = Number(h.get(H_OFFSET));
  const at = Number(h.get(H_AT));
  if (epoch === '' || !Number.isSafeInteger(offset) || !Number.isFinite(at)) return undefined;
  return { offset, epoch, publication: { offset, data: Buffer.from(data), binary: h.get(H_BINARY) === '1', publishedAt: at } };
}

function parseAnnouncement(text: string): { epoch: string; after: number } | undefined {
  try {
    const value = JSON.parse(text) as { epoch?: unknown; after?: unknown };
    if (typeof value.epoch === 'string' && typeof value.after === 'number') return { epoch: value.epoch, after: value.after };
  } catch {
    // an unreadable entry is replaced like a stale one
  }
  return undefined;
}

/**
 * The newest message on a subject. Direct get (any replica answers, no API leader round trip)
 * is on the client's manager object though not in its published interface.
 */
function lastMessage(jsm: JetStreamManager, stream: string, subject: string): Promise<StoredMsg> {
  const direct = (jsm as JetStreamManager & { direct?: { getMessage(stream: string, query: { last_by_subj: string }): Promise<StoredMsg> } }).direct;
  return direct !== undefined ? direct.getMessage(stream, { last_by_subj: subject }) : jsm.streams.getMessage(stream, { last_by_subj: subject });
}

function isNoMessage(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === '404';
}

/**
 * One pull request with no_wait: the server sends what the consumer has, up to `batch`, then
 * a 404/408 status when it had fewer. Stops early once the head's sequence went by.
 */
function pull(nc: NatsConnection, subject: string, batch: number, lastSeq: number, timeoutMs: number): Promise<Msg[]> {
  return new Promise<Msg[]>((resolve, reject) => {
    const messages: Msg[] = [];
    const inbox = createInbox();
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sub.unsubscribe();
      if (err === undefined) resolve(messages);
      else reject(err);
    };
    const sub = nc.subscribe(inbox, {
      callback: (err, msg) => {
        if (err !== null) return finish(err);
        const status = msg.headers?.code ?? 0;
        if (status !== 0 && msg.data.length === 0) return finish();
        messages.push(msg);
        if (messages.length >= batch || streamSeqOf(msg) >= lastSeq) finish();
      },
    });
    const timer = setTimeout(() => finish(new DeadlineExceeded(`history read did not finish within ${timeoutMs} ms`)), timeoutMs);
    nc.publish(subject, JSON.stringify({ batch, no_wait: true }), { reply: inbox });
  });
}

/** The stream sequence in a JetStream delivery's reply subject ($JS.ACK.…), or 0. */
function streamSeqOf(msg: Msg): number {
  const tokens = msg.reply?.split('.') ?? [];
  // v1: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
  // v2: $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>[.<token>]
  const index = tokens.length === 9 ? 5 : tokens.length >= 11 ? 7 : -1;
  const seq = index < 0 ? NaN : Number(tokens[index]);
  return Number.isSafeInteger(seq) ? seq : 0;
}
