import { describeHubContract, memoryBusEnvironment, memoryEnvironment } from './hub-contract.js';

describeHubContract('memory backplane, one node', memoryEnvironment());
describeHubContract('memory backplane, two nodes on one bus', memoryBusEnvironment());
