import type { TopicSettings } from '../config/index.js';
import type { ConnectionRegistry } from '../connections/index.js';
import type { Logger } from '../observability/index.js';
import type { Clock } from '../time/index.js';
import { thisProcess, type Backplane } from './backplane.js';
import type { EnvelopeFramer } from './delivery.js';
import { MemoryBackplane, MemoryBus } from './memory-backplane.js';
import { NatsBackplane } from './nats-backplane.js';
import { NodeHub } from './node-hub.js';
import { RedisBackplane } from './redis-backplane.js';

export interface HubOptions {
  nodeId: string;
  registry: ConnectionRegistry;
  clock: Clock;
  topics: TopicSettings[];
  framer: EnvelopeFramer;
  log: Logger;
  /** `redis://…`, `rediss://…` or `nats://…`; absent: the memory backplane, one node. */
  backplane?: string;
  /** The client listener as configured: a node refused this node's id names it. */
  listen?: string;
  /** `limits.maxSubscriptionsPerConnection`; default 128. */
  maxSubscriptionsPerConnection?: number;
  /** This node's Prometheus text (the composition root renders it from its Metrics). */
  metricsText?: () => Promise<string>;
  /** For tests: a backplane built elsewhere (its URL is then ignored). */
  backplaneInstance?: Backplane;
}

/** Builds and starts the node's Hub over the configured backplane (memory when none is). */
export async function createHub(options: HubOptions): Promise<NodeHub> {
  const { nodeId, registry, clock, topics, framer, log } = options;
  const limits = options.maxSubscriptionsPerConnection === undefined ? {} : { maxSubscriptionsPerConnection: options.maxSubscriptionsPerConnection };
  const backplane = options.backplaneInstance ?? backplaneFor(options.backplane, clock, log);
  const holder = { ...thisProcess(), ...(options.listen === undefined ? {} : { listen: options.listen }) };
  const metricsText = options.metricsText === undefined ? {} : { metricsText: options.metricsText };
  const hub = new NodeHub({ nodeId, registry, backplane, topics, framer, log, holder, ...limits, ...metricsText });
  await hub.start();
  backplane.onHealthChange((healthy) => {
    if (healthy) log.info({ backplane: backplane.name }, 'backplane connected');
    else log.warn({ backplane: backplane.name }, 'backplane lost: cross-node calls answer UNAVAILABLE until it returns');
  });
  return hub;
}

function backplaneFor(url: string | undefined, clock: Clock, log: Logger): Backplane {
  if (url === undefined) return new MemoryBackplane(new MemoryBus(clock), log);
  if (/^rediss?:\/\//.test(url)) return new RedisBackplane(url, { log });
  if (url.startsWith('nats://')) return new NatsBackplane(url, { log });
  throw new Error(`backplane ${url}: use redis://, rediss:// or nats://`);
}
