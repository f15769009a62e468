/** A crashed node, a NATS outage and a partitioned node, in a three-node cluster on a private `nats-server -js`. */
import { describeClusterFaults } from './faults-suite.js';

describeClusterFaults('nats');
