/**
 * The NodeHub on NATS against the Hub contract: two nodes on a private `nats-server -js`,
 * each cluster under its own subject prefix (hence its own stream and buckets).
 */
import { NatsBackplane } from '../../src/cluster/index.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { clusterEnvironment, describeHubContract } from './hub-contract.js';

let server: NatsServer | undefined;

describeHubContract('NodeHub on NATS', clusterEnvironment({
  async setup() {
    server = await startNatsServer();
  },
  async teardown() {
    await server?.stop();
  },
  create: (namespace) => new NatsBackplane(server!.url, { subjectPrefix: namespace, reconnectTimeWaitMs: 100, operationTimeoutMs: 3000 }),
}));
