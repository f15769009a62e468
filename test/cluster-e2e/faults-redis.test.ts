/** A crashed node, a Redis outage and a partitioned node, in a three-node cluster on a private redis-server. */
import { describeClusterFaults } from './faults-suite.js';

describeClusterFaults('redis');
