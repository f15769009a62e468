/**
 * The NodeHub on Redis against the Hub contract: two nodes on a private redis-server, each
 * cluster under its own key prefix; classic and sharded pub/sub.
 */
import { RedisBackplane } from '../../src/cluster/index.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { clusterEnvironment, describeHubContract } from './hub-contract.js';

let server: RedisServer | undefined;

for (const shardedPubSub of [false, true]) {
  describeHubContract(shardedPubSub ? 'NodeHub on Redis (sharded pub/sub)' : 'NodeHub on Redis', clusterEnvironment({
    async setup() {
      server ??= await startRedisServer();
    },
    async teardown() {
      if (!shardedPubSub) return;
      await server?.stop();
      server = undefined;
    },
    create: (namespace) => new RedisBackplane(server!.url, { keyPrefix: `${namespace}:`, shardedPubSub, maxReconnectDelayMs: 100 }),
  }));
}
