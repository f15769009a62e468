/**
 * The Backplane on NATS (DESIGN.md §3): request/reply for calls to one node, one batched
 * message per tick for fan-out, JetStream for liveness, history and idempotency.
 * docs/nats-layout.md maps every subject, stream and bucket it uses.
 *
 * The client reconnects by itself, forever. While it is disconnected every call fails at
 * once with UNAVAILABLE naming the backplane (the client would otherwise buffer and let the
 * call sit until its timeout), calls in flight fail the moment the connection drops, and when
 * the server is back the node re-announces itself without anyone calling anything.
 */
import { connect, ErrorCode, Events, type ConnectionOptions, type Msg, type NatsConnection, type Status } from 'nats';
import { randomBytes } from 'node:crypto';
import { DeadlineExceeded, FailedPrecondition, NodeIdInUse, Unavailable } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import {
  LIVENESS_TTL_MS,
  NodeNotListening,
  describeHolder,
  holderRecord,
  thisProcess,
  type Backplane,
  type BackplaneHandlers,
  type FanoutEvent,
  type NodeHolder,
  type RemoteAnswer,
  type RemoteRequest,
} from './backplane.js';
import { LiveCache } from './live-cache.js';
import { FanoutChannel, type Membership } from './nats-fanout.js';
import { NatsHistory } from './nats-history.js';
import { NatsIdempotency } from './nats-idempotency.js';
import { checkNodeId, natsLayout, type NatsLayout } from './nats-layout.js';
import { ensureStore, type NatsStoreSettings } from './nats-store.js';
import { apiErrorCode, BackgroundTasks, NatsLink, WRONG_LAST_SEQUENCE, type NatsHandles } from './nats-link.js';

export interface NatsBackplaneOptions {
  /** How long a node's liveness key lives without a refresh; refreshed every third of it. */
  livenessTtlMs?: number;
  log?: Logger;
  /** First subject tokens of everything this cluster uses; streams and buckets are named after it. */
  subjectPrefix?: string;
  /** How long the epoch of a topic that has no entries is kept (MemoryTopicHistory's idleStreamSeconds). */
  idleStreamSeconds?: number;
  /** Deadline of one JetStream call (history, idempotency, liveness). */
  operationTimeoutMs?: number;
  /** JetStream replicas for the stream and buckets this backplane creates. */
  replicas?: number;
  /** Pause between reconnect attempts. */
  reconnectTimeWaitMs?: number;
}

const DEFAULT_IDLE_STREAM_SECONDS = 300;
const DEFAULT_OPERATION_TIMEOUT_MS = 5_000;
const IDEMPOTENCY_TTL_MS = 300_000;
/** How long start() and stop() wait for peers to acknowledge the membership change. */
const MEMBERSHIP_TIMEOUT_MS = 1_000;
const RECOVERY_RETRY_MS = 250;

export class NatsBackplane implements Backplane {
  readonly name: string;
  readonly kind = 'nats';
  /** Another node may join at any moment unseen: fan-outs always go out. */
  readonly alone = false;
  readonly history: NatsHistory;

  private readonly link: NatsLink;
  private readonly layout: NatsLayout;
  private readonly connectOptions: ConnectionOptions;
  private readonly livenessTtlMs: number;
  private readonly store: NatsStoreSettings;
  private readonly idleStreamMs: number;
  private readonly operationTimeoutMs: number;
  private readonly replicas: number;
  private readonly log: Logger | undefined;
  private readonly background: BackgroundTasks;
  private readonly listeners: ((healthy: boolean) => void)[] = [];

  private nodeId: string | undefined;
  /** The liveness entry's value: this instance's claim on the node id. */
  private holder = '';
  /** Revision of this instance's liveness entry; a refresh that finds another one lost the id. */
  private revision: number | undefined;
  private nc: NatsConnection | undefined;
  private channel: FanoutChannel | undefined;
  private statusLoop: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private beating = false;
  private recovering = false;
  private stopping = false;
  private reportedHealthy = false;
  /** Nodes believed live, for fan-out's wait set: refreshed every beat and on reconnect, and
   * updated at once by join/leave announcements. */
  private view = new Set<string>();
  /** Membership changes heard while a view refresh is in flight, replayed onto its result. */
  private readonly viewLogs = new Set<[Membership, string][]>();
  /** Positive isLive answers until they are a third of the TTL old; a leave clears one. */
  private readonly liveCache: LiveCache;

  constructor(url: string, options: NatsBackplaneOptions = {}) {
    const { servers, name, auth } = parseServers(url);
    this.name = name;
    this.layout = natsLayout(options.subjectPrefix);
    this.livenessTtlMs = options.livenessTtlMs ?? LIVENESS_TTL_MS;
    this.idleStreamMs = (options.idleStreamSeconds ?? DEFAULT_IDLE_STREAM_SECONDS) * 1000;
    this.operationTimeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    this.replicas = options.replicas ?? 1;
    this.liveCache = new LiveCache(this.livenessTtlMs);
    this.store = { layout: this.layout, livenessTtlMs: this.livenessTtlMs, idleStreamMs: this.idleStreamMs, idempotencyTtlMs: IDEMPOTENCY_TTL_MS, replicas: this.replicas };
    this.log = options.log;
    this.connectOptions = {
      servers,
      ...auth,
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectTimeWaitMs ?? 250,
      reconnectJitter: 100,
      // A silent peer (no FIN, e.g. a partition) is noticed after two missed pings.
      pingInterval: 5_000,
      maxPingOut: 2,
      timeout: 2_000,
    };
    this.link = new NatsLink(name);
    this.background = new BackgroundTasks((err) => this.log?.debug({ err: (err as Error).message }, 'nats backplane housekeeping failed'));
    this.history = new NatsHistory(this.link, this.layout, this.background, {
      idleStreamMs: this.idleStreamMs,
      readTimeoutMs: this.operationTimeoutMs,
      keys: new NatsIdempotency(this.link, this.layout, IDEMPOTENCY_TTL_MS),
      nodeName: () => this.nodeId ?? 'unstarted',
    });
  }

  /** What is in flight, for leak checks: none of it should outlive the calls that made it. */
  get diagnostics(): { pendingRequests: number; pendingFanouts: number; timers: number } {
    const fanout = this.channel?.diagnostics ?? { pending: 0, timers: 0 };
    return { pendingRequests: this.link.pending, pendingFanouts: fanout.pending, timers: fanout.timers + (this.retryTimer === undefined ? 0 : 1) };
  }

  get healthy(): boolean {
    return !this.stopping && this.link.healthy;
  }

  onHealthChange(listener: (healthy: boolean) => void): void {
    this.listeners.push(listener);
  }

  async start(nodeId: string, handlers: BackplaneHandlers, holder: NodeHolder = thisProcess()): Promise<void> {
    if (this.nodeId !== undefined) throw new FailedPrecondition(`backplane ${this.name} was already started`);
    this.nodeId = checkNodeId(nodeId);
    let nc: NatsConnection;
    try {
      nc = await connect({ ...this.connectOptions, name: `switchboard ${nodeId}` });
    } catch (err) {
      this.nodeId = undefined;
      this.log?.warn({ err: (err as Error).message, backplane: this.name }, 'cannot connect to the backplane');
      throw this.link.unavailable();
    }
    this.nc = nc;
    this.statusLoop = this.watch(nc);
    try {
      this.link.attach(await this.open(nc));
      const instance = randomBytes(6).toString('hex');
      this.holder = holderRecord(instance, holder);
      const ackSubject = this.layout.ackSubject(nodeId, instance);
      const channel = new FanoutChannel(this.link, nodeId, this.layout.fanoutSubject, ackSubject, () => this.view, {
        deliver: (events) => handlers.fanout(events),
        membership: (kind, node) => this.membershipChanged(kind, node),
      }, this.log);
      this.channel = channel;
      nc.subscribe(this.layout.fanoutSubject, { callback: (err, msg) => err === null && channel.receive(msg) });
      nc.subscribe(ackSubject, { callback: (err, msg) => err === null && channel.acknowledge(msg) });
      // Fan-out subscriptions reach the server before this node is announced, so nobody who
      // sees it live can miss it with a fan-out. The node's own subject waits for the claim on
      // its id: listening there first would take calls meant for a live node holding it.
      await nc.flush();
      await this.claimLiveness();
      nc.subscribe(this.layout.nodeSubject(nodeId), { callback: (err, msg) => err === null && void this.answer(msg, handlers) });
      await nc.flush();
      await this.refreshView();
      await channel.announce('join', MEMBERSHIP_TIMEOUT_MS);
      this.heartbeat = setInterval(() => this.beat(), Math.max(100, Math.floor(this.livenessTtlMs / 3)));
      this.heartbeat.unref();
      this.setHealthy(true);
    } catch (err) {
      this.stopping = true;
      this.link.detach();
      await nc.close().catch(() => undefined);
      await this.statusLoop;
      throw err instanceof NodeIdInUse ? err : this.link.translate(err);
    }
  }

  async stop(): Promise<void> {
    if (this.nodeId === undefined || this.stopping) return;
    const nodeId = this.nodeId;
    clearInterval(this.heartbeat);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // Only this instance's own claim is withdrawn: after losing the id it belongs to another node.
    if (this.link.healthy && this.revision !== undefined) {
      try {
        await this.link.guard(({ jsm }) => jsm.streams.purge(`KV_${this.layout.nodesBucket}`, { filter: `$KV.${this.layout.nodesBucket}.${nodeId}` }));
        await this.channel?.announce('leave', MEMBERSHIP_TIMEOUT_MS);
      } catch (err) {
        this.log?.debug({ err: (err as Error).message }, 'could not withdraw liveness');
      }
    }
    this.stopping = true;
    const stopped = new Unavailable(`backplane ${this.name} stopped`);
    this.channel?.failAll(stopped);
    await this.background.settle(this.operationTimeoutMs);
    this.link.detach(stopped);
    await this.nc?.close().catch(() => undefined);
    await this.statusLoop;
  }

  async request(nodeId: string, request: RemoteRequest, timeoutMs: number): Promise<RemoteAnswer> {
    let reply: Msg;
    try {
      reply = await this.link.guard(({ nc }) => nc.request(this.layout.nodeSubject(nodeId), JSON.stringify(request), { timeout: timeoutMs }));
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (code === ErrorCode.Timeout) throw new DeadlineExceeded(`node ${nodeId} did not answer within ${timeoutMs} ms`);
      // Nobody subscribes to the node's subject: it is gone (or not there yet), which NATS
      // tells at once. It answers as a node that did not answer in time would (the backplane
      // contract), only sooner; NOT_FOUND is the caller's to say, after checking liveness.
      if (code === ErrorCode.NoResponders) {
        // Its cached liveness goes too, so its ids answer NOT_FOUND as soon as its key lapses.
        this.liveCache.forget(nodeId);
        throw new NodeNotListening(`node ${nodeId} did not answer (no responders)`);
      }
      throw this.link.translate(err);
    }
    return parseAnswer(reply);
  }

  fanout(event: FanoutEvent, timeoutMs: number): Promise<number> {
    if (this.channel === undefined || !this.healthy) return Promise.reject(this.link.unavailable());
    return this.channel.send(event, timeoutMs);
  }

  /** Exact: the keys of the liveness bucket now (one stream-info call), sorted. */
  async liveNodes(): Promise<string[]> {
    const bucket = this.layout.nodesBucket;
    const prefix = `$KV.${bucket}.`;
    try {
      const info = await this.link.guard(({ jsm }) => jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` }));
      return Object.keys(info.state.subjects ?? {})
        .filter((subject) => subject.startsWith(prefix))
        .map((subject) => subject.slice(prefix.length))
        .sort();
    } catch (err) {
      throw this.link.translate(err);
    }
  }

  async isLive(nodeId: string): Promise<boolean> {
    if (!this.healthy) throw this.link.unavailable();
    if (this.liveCache.trusts(nodeId)) return true;
    try {
      checkNodeId(nodeId);
    } catch {
      return false;
    }
    try {
      const entry = await this.link.guard(({ nodes }) => nodes.get(nodeId));
      const live = entry !== null && entry.operation === 'PUT';
      this.liveCache.record(nodeId, live);
      return live;
    } catch (err) {
      throw this.link.translate(err);
    }
  }

  // ---- connection and infrastructure ----

  private async open(nc: NatsConnection): Promise<NatsHandles> {
    const jsm = await nc.jetstreamManager({ timeout: this.operationTimeoutMs });
    return { nc, js: jsm.jetstream(), jsm, ...(await ensureStore(jsm, this.store)) };
  }

  private async watch(nc: NatsConnection): Promise<void> {
    // nats.js stops its own status iterators on close but not the ones it hands out, so
    // this loop would outlive the connection: end it when the connection closes.
    const statuses = nc.status() as AsyncIterable<Status> & { stop?: () => void };
    void nc.closed().then(() => statuses.stop?.());
    for await (const status of statuses) {
      if (this.stopping) continue;
      if (status.type === Events.Disconnect) this.lost();
      else if (status.type === Events.Reconnect) this.regained();
    }
  }

  private lost(): void {
    this.link.markDown();
    this.channel?.failAll(this.link.unavailable());
    this.log?.warn({ backplane: this.name }, 'backplane connection lost');
    this.setHealthy(false);
  }

  private regained(): void {
    this.link.markUp();
    this.log?.info({ backplane: this.name }, 'backplane connection back');
    this.setHealthy(true);
    void this.recover();
  }

  /**
   * After a reconnect: the stream and buckets again (the server may have come back without
   * its store), this node's liveness key (it may have lapsed meanwhile) and a fresh view;
   * retried until done, the connection drops again or the backplane stops.
   */
  private async recover(): Promise<void> {
    if (this.recovering) return;
    this.recovering = true;
    try {
      while (!this.stopping && this.link.healthy) {
        try {
          await this.link.guard(({ jsm }) => ensureStore(jsm, this.store));
          await this.claimLiveness();
          await this.refreshView();
          await this.channel?.announce('join', MEMBERSHIP_TIMEOUT_MS);
          return;
        } catch (err) {
          if (err instanceof NodeIdInUse) return this.lostId(err);
          this.log?.debug({ err: (err as Error).message }, 'backplane recovery step failed; retrying');
          await new Promise<void>((resolve) => {
            this.retryTimer = setTimeout(() => {
              this.retryTimer = undefined;
              resolve();
            }, RECOVERY_RETRY_MS);
            this.retryTimer.unref();
          });
        }
      }
    } finally {
      this.recovering = false;
    }
  }

  private setHealthy(healthy: boolean): void {
    if (this.reportedHealthy === healthy) return;
    this.reportedHealthy = healthy;
    for (const listener of this.listeners) {
      try {
        listener(healthy);
      } catch (err) {
        this.log?.error({ err }, 'backplane health listener failed');
      }
    }
  }

  // ---- liveness ----

  private beat(): void {
    if (this.beating || !this.healthy) return;
    this.beating = true;
    this.background.run(async () => {
      try {
        await this.claimLiveness();
        await this.refreshView();
      } catch (err) {
        if (err instanceof NodeIdInUse) return this.lostId(err);
        throw err;
      } finally {
        this.beating = false;
      }
    });
  }

  /**
   * Claims the node id (KV create: of two nodes starting with one id, one wins) or refreshes
   * this instance's claim (update at its revision). Throws NodeIdInUse when another instance's
   * entry is there.
   */
  private async claimLiveness(): Promise<void> {
    const nodeId = this.nodeId!;
    const value = this.holder;
    await this.link.guard(async ({ nodes }) => {
      if (this.revision !== undefined) {
        try {
          this.revision = await nodes.update(nodeId, value, this.revision);
          return;
        } catch (err) {
          // Lapsed (cut off longer than the TTL) or the server lost its store: claim it afresh.
          if (apiErrorCode(err) !== WRONG_LAST_SEQUENCE) throw err;
        }
      }
      try {
        this.revision = await nodes.create(nodeId, value);
      } catch (err) {
        const held = await nodes.get(nodeId);
        if (held !== null && held.operation === 'PUT' && held.string() !== value) throw new NodeIdInUse(nodeId, describeHolder(held.string()), this.name);
        throw err;
      }
    });
  }

  /** Another live node took this node's id while this one was cut off: stop claiming it. */
  private lostId(err: NodeIdInUse): void {
    clearInterval(this.heartbeat);
    this.revision = undefined;
    this.log?.error({ nodeId: err.nodeId, holder: err.holder }, 'node id taken by another live node: this node no longer refreshes its liveness; restart it with another id');
  }

  private async refreshView(): Promise<void> {
    const log: [Membership, string][] = [];
    this.viewLogs.add(log);
    try {
      const view = new Set(await this.liveNodes());
      for (const [kind, node] of log) {
        if (kind === 'join') view.add(node);
        else view.delete(node);
      }
      view.add(this.nodeId!);
      this.view = view;
    } finally {
      this.viewLogs.delete(log);
    }
  }

  private membershipChanged(kind: Membership, nodeId: string): void {
    for (const log of this.viewLogs) log.push([kind, nodeId]);
    if (kind === 'join') this.view.add(nodeId);
    else {
      this.view.delete(nodeId);
      this.liveCache.forget(nodeId);
    }
  }

  // ---- requests addressed to this node ----

  private async answer(msg: Msg, handlers: BackplaneHandlers): Promise<void> {
    let answer: RemoteAnswer;
    try {
      answer = await handlers.request(msg.json<RemoteRequest>());
    } catch (err) {
      this.log?.error({ err }, 'answering a cluster request failed');
      answer = { ok: false, kind: 'INTERNAL', message: 'internal error' };
    }
    if (msg.reply === undefined || msg.reply === '') return;
    try {
      msg.respond(JSON.stringify(answer));
    } catch (err) {
      // Most likely past max_payload (a large list page): say so instead of letting the caller time out.
      this.log?.warn({ err: (err as Error).message }, 'cluster answer not sent');
      try {
        msg.respond(JSON.stringify({ ok: false, kind: 'RESOURCE_EXHAUSTED', message: `answer not sent: ${(err as Error).message}` } satisfies RemoteAnswer));
      } catch {
        // the connection is gone; the caller times out or fails over
      }
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

/**
 * `nats://user:pass@host:port[,nats://host:port…]` → the servers to dial, a name without
 * credentials for logs and errors, and the credentials as connect options.
 */
function parseServers(url: string): { servers: string[]; name: string; auth: Pick<ConnectionOptions, 'user' | 'pass' | 'token'> } {
  const servers: string[] = [];
  const auth: Pick<ConnectionOptions, 'user' | 'pass' | 'token'> = {};
  for (const raw of url.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const parsed = new URL(raw.includes('://') ? raw : `nats://${raw}`);
    const user = decodeURIComponent(parsed.username);
    const pass = decodeURIComponent(parsed.password);
    if (user !== '' && pass !== '') {
      auth.user = user;
      auth.pass = pass;
    } else if (user !== '') auth.token = user;
    servers.push(`${parsed.protocol}//${parsed.host}`);
  }
  if (servers.length === 0) throw new Unavailable('backplane URL names no NATS server');
  return { servers, name: servers.join(','), auth };
}
