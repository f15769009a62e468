/**
 * The Redis backplane: its two connections and its health. The parts it runs over those
 * connections have files of their own: the node's claim on its id and the liveness of nodes
 * (redis-liveness.ts), calls to one node (redis-inbox.ts), fan-out (redis-fanout.ts over
 * fanout-batch.ts), the scripts (redis-script-pipeline.ts) and history (redis-history.ts).
 * docs/redis-layout.md lists every key and channel.
 *
 * Two connections: one for commands and one in subscriber mode (a subscribed connection can
 * run nothing else). Both fail fast while disconnected (no offline queue, no retries per
 * command) and ioredis reconnects them with backoff; on each `ready` this class announces
 * liveness and subscribes again itself, and it is healthy only once both are done, so a node
 * never reports healthy while its inbox is deaf.
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { FailedPrecondition, Internal, type NodeIdInUse, Unavailable } from '../errors/index.js';
import { createLogger, type Logger } from '../observability/index.js';
import {
  LIVENESS_TTL_MS,
  holderRecord,
  thisProcess,
  type Backplane,
  type BackplaneHandlers,
  type NodeHolder,
  type FanoutEvent,
  type RemoteAnswer,
  type RemoteRequest,
} from './backplane.js';
import { RedisHistory } from './redis-history.js';
import { RedisLayout } from './redis-layout.js';
import { RedisFanout } from './redis-fanout.js';
import { RedisInbox, type RedisPublisher } from './redis-inbox.js';
import { RedisLiveness } from './redis-liveness.js';
import { ScriptPipeline } from './redis-script-pipeline.js';
import type { RedisScript, ScriptRunner } from './redis-scripts.js';

export interface RedisBackplaneOptions {
  /** How long a node's liveness key outlives its last refresh; refreshed every third of it. */
  livenessTtlMs?: number;
  log?: Logger;
  /** Prepended to every key and channel, so several clusters can share one Redis. Default `sb:`. */
  keyPrefix?: string;
  /** How long `start()` waits for Redis before it rejects UNAVAILABLE. Default 5 s. */
  connectTimeoutMs?: number;
  /** Bound on any one Redis command, so a hung server fails calls instead of stalling them. Default 3 s. */
  commandTimeoutMs?: number;
  /** Longest pause between reconnect attempts (the backoff doubles from 50 ms up to it). Default 2 s. */
  maxReconnectDelayMs?: number;
  /**
   * Sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis >= 7): with Redis Cluster each channel lives on
   * the shard of its hash tag and PUBLISH counts stay exact. Default false (PUBLISH/SUBSCRIBE).
   */
  shardedPubSub?: boolean;
  /** How long a topic that keeps no entries and has no TTL keeps its epoch. Default 300 s, as MemoryTopicHistory. */
  idleStreamSeconds?: number;
}

/** Counters for tests and metrics: none of them may grow across reconnects. */
export interface RedisBackplaneDiagnostics {
  pendingRequests: number;
  /** Fan-out batches sent and awaiting acks, plus those still being formed this tick. */
  pendingFanouts: number;
  /** Timers armed by this backplane (one per pending request, one per pending fan-out batch). */
  timers: number;
  /** Items waiting for this tick's flush. */
  queuedItems: number;
  /** Listeners on the two ioredis connections. */
  connectionListeners: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;
const DEFAULT_COMMAND_TIMEOUT_MS = 3000;
const DEFAULT_MAX_RECONNECT_DELAY_MS = 2000;
const DEFAULT_IDLE_STREAM_SECONDS = 300;

export class RedisBackplane implements Backplane {
  readonly name: string;
  readonly kind = 'redis';
  /** Another node may join at any moment unseen: fan-outs always go out. */
  readonly alone = false;
  readonly history: RedisHistory;

  private readonly url: string;
  private readonly layout: RedisLayout;
  private readonly log: Logger;
  private readonly livenessTtlMs: number;
  private readonly connectTimeoutMs: number;
  private readonly commandTimeoutMs: number;
  private readonly maxReconnectDelayMs: number;
  private readonly sharded: boolean;
  /** Tells this instance's own fan-out messages apart, and marks the liveness key it owns. */
  private readonly instance = randomBytes(6).toString('base64url');

  private nodeId = '';
  /** Set at start, when the node id is known. */
  private liveness: RedisLiveness | undefined;
  private inboxChannel = '';
  private handlers: BackplaneHandlers | undefined;
  private cmd: Redis | undefined;
  private sub: Redis | undefined;
  private state: 'new' | 'running' | 'stopped' = 'new';
  private cmdReady = false;
  private subReady = false;
  /** Bumped whenever a connection is lost, so a late success of an earlier connection is ignored. */
  private cmdGeneration = 0;
  private subGeneration = 0;
  private subscribing = false;
  private isHealthy = false;
  private readonly healthListeners: ((healthy: boolean) => void)[] = [];
  private startWaiter: { resolve(): void; reject(err: Error): void } | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private activeTimers = 0;

  private inbox: RedisInbox | undefined;
  private fanouts: RedisFanout | undefined;
  private readonly scripts = new ScriptPipeline(() => this.connection());

  constructor(url: string, options: RedisBackplaneOptions = {}) {
    this.url = url;
    this.name = displayName(url);
    this.layout = new RedisLayout(options.keyPrefix ?? 'sb:');
    this.log = (options.log ?? createLogger('silent')).child({ backplane: this.name });
    this.livenessTtlMs = Math.max(30, options.livenessTtlMs ?? LIVENESS_TTL_MS);
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.maxReconnectDelayMs = options.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS;
    this.sharded = options.shardedPubSub === true;
    const runner: ScriptRunner & { get(key: string): Promise<string | null> } = {
      run: (script, keys, args, buffers) => this.guarded(() => this.evalScript(script, keys, args, buffers)),
      get: (key) => this.guarded(() => this.connection().get(key)),
    };
    this.history = new RedisHistory(runner, this.layout, (options.idleStreamSeconds ?? DEFAULT_IDLE_STREAM_SECONDS) * 1000);
  }

  get healthy(): boolean {
    return this.isHealthy;
  }

  get diagnostics(): RedisBackplaneDiagnostics {
    const inbox = this.inbox?.diagnostics ?? { pendingRequests: 0, queuedItems: 0, timers: 0 };
    const fanouts = this.fanouts?.diagnostics ?? { pending: 0, timers: 0 };
    return {
      pendingRequests: inbox.pendingRequests,
      pendingFanouts: fanouts.pending,
      timers: this.activeTimers + inbox.timers + fanouts.timers,
      queuedItems: inbox.queuedItems,
      connectionListeners: listenerCount(this.cmd) + listenerCount(this.sub),
    };
  }

  onHealthChange(listener: (healthy: boolean) => void): void {
    this.healthListeners.push(listener);
  }

  async start(nodeId: string, handlers: BackplaneHandlers, holder: NodeHolder = thisProcess()): Promise<void> {
    if (this.state !== 'new') throw new FailedPrecondition(`backplane ${this.name} was already started`);
    this.state = 'running';
    this.nodeId = nodeId;
    this.liveness = new RedisLiveness({
      script: (script, keys, args) => this.evalScript(script, keys, args, false),
      exists: (key) => this.connection().exists(key),
      guarded: (operation) => this.guarded(operation),
    }, this.layout, nodeId, holderRecord(this.instance, holder), this.livenessTtlMs, this.name);
    this.inboxChannel = this.layout.inbox(nodeId);
    this.connectPeers(handlers);
    this.cmd = this.connect('cmd');
    this.sub = this.connect('sub');
    this.cmd.on('ready', () => this.onCommandReady());
    this.sub.on('ready', () => this.onSubscriberReady());
    for (const event of ['close', 'reconnecting', 'end']) {
      this.cmd.on(event, () => this.onCommandLost());
      this.sub.on(event, () => this.onSubscriberLost());
    }
    this.sub.on(this.sharded ? 'smessage' : 'message', (channel: string, message: string) => this.onMessage(channel, message));
    // The timer that keeps liveness fresh also repairs a connection whose announce or
    // subscribe failed after `ready`; it is the only periodic timer, whatever happens.
    this.refreshTimer = setInterval(() => this.refresh(), Math.max(10, Math.floor(this.livenessTtlMs / 3)));
    this.refreshTimer.unref();
    try {
      await this.untilHealthy();
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    const wasRunning = this.state === 'running';
    this.state = 'stopped';
    if (this.refreshTimer !== undefined) clearInterval(this.refreshTimer);
    this.refreshTimer = undefined;
    this.isHealthy = false;
    this.inbox?.stop(this.unavailable());
    this.failInFlight(this.unavailable());
    this.startWaiter?.reject(this.unavailable());
    this.liveness?.forgetAll();
    const cmd = this.cmd;
    // A node refused its id withdraws nothing: the liveness and the leave notice are the holder's.
    if (wasRunning && this.liveness?.claimed === true && cmd !== undefined && cmd.status === 'ready') {
      try {
        // Nodes that cached a positive answer drop it when the leave notice arrives.
        await this.liveness.withdraw();
        await this.fanouts?.leave();
      } catch (err) {
        this.log.debug({ err: errorMessage(err) }, 'liveness not withdrawn; it lapses by itself');
      }
    }
    cmd?.disconnect();
    this.sub?.disconnect();
  }

  request(nodeId: string, request: RemoteRequest, timeoutMs: number): Promise<RemoteAnswer> {
    if (!this.isHealthy || this.inbox === undefined) return Promise.reject(this.unavailable());
    return this.inbox.request(nodeId, this.layout.inbox(nodeId), request, timeoutMs);
  }

  fanout(event: FanoutEvent, timeoutMs: number): Promise<number> {
    if (!this.isHealthy || this.fanouts === undefined) return Promise.reject(this.unavailable());
    return this.fanouts.send(event, timeoutMs);
  }

  liveNodes(): Promise<string[]> {
    if (this.liveness === undefined) return Promise.reject(this.unavailable());
    return this.liveness.liveNodes();
  }

  isLive(nodeId: string): Promise<boolean> {
    if (!this.cmdReady || this.state !== 'running' || this.liveness === undefined) return Promise.reject(this.unavailable());
    return this.liveness.isLive(nodeId);
  }

  /** The inbox (calls to one node) and the fan-out channel, over this backplane's connections. */
  private connectPeers(handlers: BackplaneHandlers): void {
    const publisher: RedisPublisher = {
      name: this.name,
      healthy: () => this.isHealthy,
      publish: (channel, message) => this.publish(channel, message),
      unavailable: () => this.unavailable(),
    };
    const inbox = new RedisInbox(this.inboxChannel, this.instance, publisher, {
      answer: (request) => handlers.request(request),
      acknowledged: (item) => this.fanouts?.acknowledged(item),
      // Its cached liveness goes, so its ids answer NOT_FOUND once the key lapses rather than
      // up to a cache period later.
      notListening: (nodeId) => this.liveness?.forget(nodeId),
    }, this.log);
    this.inbox = inbox;
    this.fanouts = new RedisFanout(publisher, this.layout.fanoutChannel, inbox, this.nodeId, this.instance, {
      deliver: (events) => handlers.fanout(events),
      left: (nodeId) => this.liveness?.forget(nodeId),
    }, this.log);
  }

  // ---- connections and health ----

  private connect(role: 'cmd' | 'sub'): Redis {
    const options: RedisOptions = {
      connectionName: `switchboard-${this.nodeId}-${role}`,
      // Fail fast while disconnected: no offline queue, and commands in flight when the
      // connection drops are rejected at once instead of being resent after a reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      // Subscriptions are renewed by this class on `ready`, so it knows when they are in place.
      autoResubscribe: false,
      commandTimeout: this.commandTimeoutMs,
      retryStrategy: (times) => Math.min(this.maxReconnectDelayMs, 50 * 2 ** Math.min(times - 1, 16)) + Math.floor(Math.random() * 50),
    };
    const redis = new Redis(this.url, options);
    redis.on('error', (err: Error) => this.log.debug({ err: err.message, role }, 'redis connection error'));
    return redis;
  }

  private onCommandReady(): void {
    this.announce('warn', 'liveness announce failed', () => {
      this.cmdReady = true;
      this.updateHealth();
      if (this.sub?.status === 'ready' && !this.subReady && !this.subscribing) this.subscribe();
    });
  }

  /** Announces liveness; `claimed` runs once the id is this instance's, on a connection still current. */
  private announce(level: 'warn' | 'debug', failure: string, claimed: () => void): void {
    const generation = this.cmdGeneration;
    this.liveness!.announce().then(
      (refusal) => {
        if (generation !== this.cmdGeneration || this.state !== 'running') return;
        if (refusal !== undefined) return this.refuse(refusal);
        claimed();
      },
      (err: unknown) => this.log[level]({ err: errorMessage(err) }, failure),
    );
  }

  /**
   * A live node holds this node's id: at start the start fails; later (this node's liveness
   * lapsed while it was cut off, and a node with its id started meanwhile) this node stays
   * unhealthy rather than take the id's calls back from the other.
   */
  private refuse(refusal: NodeIdInUse): void {
    if (this.startWaiter !== undefined) {
      this.startWaiter.reject(refusal);
      return;
    }
    if (!this.cmdReady) return;
    this.log.error({ nodeId: this.nodeId, holder: refusal.holder }, 'node id taken by another live node: this node stays off the backplane until it is restarted with another id');
    this.cmdReady = false;
    this.updateHealth();
  }

  private onCommandLost(): void {
    this.cmdGeneration++;
    this.cmdReady = false;
    this.updateHealth();
  }

  private onSubscriberReady(): void {
    // Listening on the id's inbox before the id is claimed would take calls meant for its holder.
    if (this.liveness?.claimed === true) this.subscribe();
  }

  private onSubscriberLost(): void {
    this.subGeneration++;
    this.subReady = false;
    this.updateHealth();
  }

  private subscribe(): void {
    const sub = this.sub!;
    const generation = this.subGeneration;
    const channels = [this.inboxChannel, this.layout.fanoutChannel];
    this.subscribing = true;
    const subscribed = this.sharded ? Promise.all(channels.map((channel) => sub.ssubscribe(channel))) : sub.subscribe(...channels);
    subscribed
      .then(
        () => {
          if (generation !== this.subGeneration || this.state !== 'running') return;
          this.subReady = true;
          this.updateHealth();
        },
        (err: unknown) => this.log.debug({ err: errorMessage(err) }, 'subscribe failed'),
      )
      .finally(() => {
        this.subscribing = false;
      });
  }

  /** Every third of the liveness TTL: refresh the key, and finish a recovery that stalled. */
  private refresh(): void {
    if (this.state !== 'running') return;
    if (this.cmd?.status === 'ready') {
      this.announce('debug', 'liveness refresh failed', () => {
        if (this.cmdReady) return;
        this.cmdReady = true;
        this.updateHealth();
      });
    }
    if (this.liveness?.claimed === true && this.sub?.status === 'ready' && !this.subReady && !this.subscribing) this.subscribe();
  }

  private updateHealth(): void {
    const healthy = this.state === 'running' && this.cmdReady && this.subReady;
    if (healthy === this.isHealthy) return;
    this.isHealthy = healthy;
    if (healthy) {
      this.log.info({ nodeId: this.nodeId }, 'backplane connected');
      this.startWaiter?.resolve();
    } else {
      this.log.warn({ nodeId: this.nodeId }, 'backplane connection lost');
      // Answers and acks travel on the connections that were lost: waiting would only turn
      // UNAVAILABLE into DEADLINE_EXCEEDED later.
      this.failInFlight(this.unavailable());
    }
    for (const listener of this.healthListeners) {
      try {
        listener(healthy);
      } catch (err) {
        this.log.error({ err }, 'backplane health listener failed');
      }
    }
  }

  private untilHealthy(): Promise<void> {
    if (this.isHealthy) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const settle = (): void => {
        this.startWaiter = undefined;
        if (timer !== undefined) this.disarm(timer);
        timer = undefined;
      };
      let timer: NodeJS.Timeout | undefined = this.arm(this.connectTimeoutMs, () => {
        timer = undefined;
        settle();
        this.log.warn({ timeoutMs: this.connectTimeoutMs }, 'backplane not reachable at start');
        reject(this.unavailable());
      });
      this.startWaiter = {
        resolve: () => {
          settle();
          resolve();
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      };
    });
  }

  // ---- messages ----

  private onMessage(channel: string, text: string): void {
    if (this.state !== 'running') return;
    try {
      const message: unknown = JSON.parse(text);
      if (typeof message !== 'object' || message === null) return;
      if (channel === this.layout.fanoutChannel) this.fanouts!.receive(message);
      else if (channel === this.inboxChannel) this.inbox!.receive(message);
    } catch (err) {
      this.log.warn({ err: errorMessage(err), channel }, 'unreadable backplane message');
    }
  }

  private failInFlight(err: Error): void {
    this.inbox?.failAll(err);
    this.fanouts?.failAll(err);
  }

  // ---- plumbing ----

  private publish(channel: string, message: string): Promise<number> {
    const cmd = this.connection();
    return (this.sharded ? cmd.spublish(channel, message) : cmd.publish(channel, message)) as Promise<number>;
  }

  private evalScript(script: RedisScript, keys: string[], args: (string | Buffer | number)[], buffers: boolean): Promise<unknown> {
    return this.scripts.run(script, keys, args, buffers);
  }

  /** A command on behalf of a caller: UNAVAILABLE at once while disconnected or when the connection fails. */
  private async guarded<T>(operation: () => Promise<T>): Promise<T> {
    if (!this.cmdReady || this.state !== 'running') throw this.unavailable();
    try {
      return await operation();
    } catch (err) {
      if (err instanceof Error && err.name === 'ReplyError') {
        this.log.error({ err: err.message }, 'redis refused a command');
        throw new Internal(`backplane ${this.name}: ${err.message}`);
      }
      throw this.unavailable();
    }
  }

  private connection(): Redis {
    if (this.cmd === undefined) throw this.unavailable();
    return this.cmd;
  }

  private unavailable(): Unavailable {
    return new Unavailable(`backplane ${this.name} unavailable`);
  }

  private arm(ms: number, onFire: () => void): NodeJS.Timeout {
    this.activeTimers++;
    return setTimeout(() => {
      this.activeTimers--;
      onFire();
    }, ms);
  }

  private disarm(timer: NodeJS.Timeout): void {
    clearTimeout(timer);
    this.activeTimers--;
  }
}

/** The URL without credentials or query (which may carry a password). */
function displayName(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    parsed.hash = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return 'redis';
  }
}

function listenerCount(redis: Redis | undefined): number {
  if (redis === undefined) return 0;
  return redis.eventNames().reduce((sum, event) => sum + redis.listenerCount(event), 0);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
