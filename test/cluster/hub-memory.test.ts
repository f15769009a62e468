/** The memory Hub (one node, everything local) against the Hub contract. */
import { describeHubContract, memoryEnvironment } from './hub-contract.js';

describeHubContract('memory', memoryEnvironment());
