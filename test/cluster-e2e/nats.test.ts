/** Three nodes on a private `nats-server -js`: routing by id, fan-out, list, presence, recovery. */
import { describeClusterCore } from './cluster-suite.js';

describeClusterCore('nats');
