import type { TopicSettings } from '../config/index.js';
import type { ConnectionRecord, ConnectionRegistry } from '../connections/index.js';
import type { Logger } from '../observability/index.js';
import type { Clock } from '../time/index.js';
import { thisProcess, type Backplane } from './backplane.js';
import { ClusterHub } from './cluster-hub.js';
import type { EnvelopeFramer } from './delivery.js';
import type { Hub } from './hub.js';
import { MemoryHub } from './memory-hub.js';
import { NatsBackplane } from './nats-backplane.js';
import { RedisBackplane } from './redis-backplane.js';

/** The Hub a node runs: it also hears from the edge when one of its connections goes. */
export interface NodeHub extends Hub {
  connectionGone(record: ConnectionRecord): void;
  /** The backplane and whether it is reachable now; undefined for the memory Hub. */
  backplaneStatus(): { name: string; healthy: boolean } | undefined;
}

export interface HubOptions {
  nodeId: string;
  registry: ConnectionRegistry;
  clock: Clock;
  topics: TopicSettings[];
  framer: EnvelopeFramer;
  log: Logger;
  /** `redis://…`, `rediss://…` or `nats://…`; absent: the memory Hub, one node. */
  backplane?: string;
  /** The client listener as configured: a node refused this node's id names it. */
  listen?: string;
  /** `limits.maxSubscriptionsPerConnection`; default 128. */
  maxSubscriptionsPerConnection?: number;
  /** For tests: a backplane built elsewhere (its URL is then ignored). */
  backplaneInstance?: Backplane;
}

/** Builds and starts the node's Hub: in memory, or clustered over the configured backplane. */
export async function createHub(options: HubOptions): Promise<NodeHub> {
  const { nodeId, registry, clock, topics, framer, log } = options;
  const limits = options.maxSubscriptionsPerConnection === undefined ? {} : { maxSubscriptionsPerConnection: options.maxSubscriptionsPerConnection };
  if (options.backplane === undefined && options.backplaneInstance === undefined) {
    return new MemoryHub({ nodeId, registry, clock, topics, framer, ...limits });
  }
  const backplane = options.backplaneInstance ?? backplaneFor(options.backplane!, log);
  const holder = { ...thisProcess(), ...(options.listen === undefined ? {} : { listen: options.listen }) };
  const hub = new ClusterHub({ nodeId, registry, backplane, topics, framer, log, holder, ...limits });
  await hub.start();
  backplane.onHealthChange((healthy) => {
    if (healthy) log.info({ backplane: backplane.name }, 'backplane connected');
    else log.warn({ backplane: backplane.name }, 'backplane lost: cross-node calls answer UNAVAILABLE until it returns');
  });
  return hub;
}

function backplaneFor(url: string, log: Logger): Backplane {
  if (/^rediss?:\/\//.test(url)) return new RedisBackplane(url, { log });
  if (url.startsWith('nats://')) return new NatsBackplane(url, { log });
  throw new Error(`backplane ${url}: use redis://, rediss:// or nats://`);
}
