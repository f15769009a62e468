/**
 * The Backplane on NATS (DESIGN.md §3): its connection, its health and its recovery after a
 * reconnect. The parts it runs over that connection have files of their own: calls to one
 * node (nats-requests.ts, request/reply), fan-out (nats-fanout.ts, one batched message per
 * tick), the node's claim on its id and the liveness of nodes (nats-liveness.ts, a KV
 * bucket), the nodes a fan-out waits for (nats-membership.ts), history and idempotency
 * (nats-history.ts, nats-idempotency.ts). docs/nats-layout.md maps every subject, stream and
 * bucket it uses.
 *
 * The client reconnects by itself, forever. While it is disconnected every call fails at
 * once with UNAVAILABLE naming the backplane (the client would otherwise buffer and let the
 * call sit until its timeout), calls in flight fail the moment the connection drops, and when
 * the server is back the node re-announces itself without anyone calling anything.
 */
import { connect, Events, type ConnectionOptions, type NatsConnection, type Status } from 'nats';
import { randomBytes } from 'node:crypto';
import { FailedPrecondition, NodeIdInUse, Unavailable } from '../errors/index.js';
import type { Logger } from '../observability/index.js';
import {
  LIVENESS_TTL_MS,
  holderRecord,
  thisProcess,
  type Backplane,
  type BackplaneHandlers,
  type FanoutEvent,
  type NodeHolder,
  type RemoteAnswer,
  type RemoteRequest,
} from './backplane.js';
import { FanoutChannel } from './nats-fanout.js';
import { NatsHistory } from './nats-history.js';
import { NatsIdempotency } from './nats-idempotency.js';
import { checkNodeId, natsLayout, type NatsLayout } from './nats-layout.js';
import { BackgroundTasks, NatsLink, type NatsHandles } from './nats-link.js';
import { NatsLiveness } from './nats-liveness.js';
import { NatsMembership } from './nats-membership.js';
import { answerRequest, requestNode } from './nats-requests.js';
import { ensureStore, type NatsStoreSettings } from './nats-store.js';

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
  /** Set at start, when the node id is known. */
  private liveness: NatsLiveness | undefined;
  private membership: NatsMembership | undefined;
  private nc: NatsConnection | undefined;
  private channel: FanoutChannel | undefined;
  private statusLoop: Promise<void> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private beating = false;
  private recovering = false;
  private stopping = false;
  private reportedHealthy = false;

  constructor(url: string, options: NatsBackplaneOptions = {}) {
    const { servers, name, auth } = parseServers(url);
    this.name = name;
    this.layout = natsLayout(options.subjectPrefix);
    this.livenessTtlMs = options.livenessTtlMs ?? LIVENESS_TTL_MS;
    this.idleStreamMs = (options.idleStreamSeconds ?? DEFAULT_IDLE_STREAM_SECONDS) * 1000;
    this.operationTimeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    this.replicas = options.replicas ?? 1;
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
      const liveness = new NatsLiveness(this.link, this.layout, nodeId, holderRecord(instance, holder), this.livenessTtlMs);
      const membership = new NatsMembership(nodeId, () => liveness.liveNodes(), (node) => liveness.forget(node));
      this.liveness = liveness;
      this.membership = membership;
      const ackSubject = this.layout.ackSubject(nodeId, instance);
      const channel = new FanoutChannel(this.link, nodeId, this.layout.fanoutSubject, ackSubject, () => membership.view, {
        deliver: (events) => handlers.fanout(events),
        membership: (kind, node) => membership.changed(kind, node),
      }, this.log);
      this.channel = channel;
      nc.subscribe(this.layout.fanoutSubject, { callback: (err, msg) => err === null && channel.receive(msg) });
      nc.subscribe(ackSubject, { callback: (err, msg) => err === null && channel.acknowledge(msg) });
      // Fan-out subscriptions reach the server before this node is announced, so nobody who
      // sees it live can miss it with a fan-out. The node's own subject waits for the claim on
      // its id: listening there first would take calls meant for a live node holding it.
      await nc.flush();
      await liveness.claim();
      nc.subscribe(this.layout.nodeSubject(nodeId), { callback: (err, msg) => err === null && void answerRequest(msg, handlers, this.log) });
      await nc.flush();
      await membership.refresh();
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
    clearInterval(this.heartbeat);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // Only this instance's own claim is withdrawn: after losing the id it belongs to another node.
    if (this.link.healthy && this.liveness?.claimed === true) {
      try {
        await this.liveness.withdraw();
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

  request(nodeId: string, request: RemoteRequest, timeoutMs: number): Promise<RemoteAnswer> {
    // A node nobody listens for loses its cached liveness, so its ids answer NOT_FOUND as soon as its key lapses.
    return requestNode(this.link, this.layout.nodeSubject(nodeId), nodeId, request, timeoutMs, (node) => this.liveness?.forget(node));
  }

  fanout(event: FanoutEvent, timeoutMs: number): Promise<number> {
    if (this.channel === undefined || !this.healthy) return Promise.reject(this.link.unavailable());
    return this.channel.send(event, timeoutMs);
  }

  liveNodes(): Promise<string[]> {
    if (this.liveness === undefined) return Promise.reject(this.link.unavailable());
    return this.liveness.liveNodes();
  }

  isLive(nodeId: string): Promise<boolean> {
    if (!this.healthy || this.liveness === undefined) return Promise.reject(this.link.unavailable());
    return this.liveness.isLive(nodeId);
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
          await this.liveness?.claim();
          await this.membership?.refresh();
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

  // ---- heartbeat ----

  /** Every third of the liveness TTL: refresh the claim on the id, and the view with it. */
  private beat(): void {
    if (this.beating || !this.healthy) return;
    this.beating = true;
    this.background.run(async () => {
      try {
        await this.liveness?.claim();
        await this.membership?.refresh();
      } catch (err) {
        if (err instanceof NodeIdInUse) return this.lostId(err);
        throw err;
      } finally {
        this.beating = false;
      }
    });
  }

  /** Another live node took this node's id while this one was cut off: stop claiming it. */
  private lostId(err: NodeIdInUse): void {
    clearInterval(this.heartbeat);
    this.liveness?.relinquish();
    this.log?.error({ nodeId: err.nodeId, holder: err.holder }, 'node id taken by another live node: this node no longer refreshes its liveness; restart it with another id');
  }
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
