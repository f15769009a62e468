/** Three nodes on a private redis-server: routing by id, fan-out, list, presence, recovery. */
import { describeClusterCore } from './cluster-suite.js';

describeClusterCore('redis');
