/**
 * The memory backplane against the backplane contract: the nodes of one process on one bus.
 * Nothing to start and nothing that can fail, so the contract's fault cases do not apply.
 */
import { MemoryBackplane, MemoryBus } from '../../src/cluster/index.js';
import { describeBackplaneContract } from './backplane-contract.js';

describeBackplaneContract('memory', {
  async setup() {
    const bus = new MemoryBus();
    return { create: () => new MemoryBackplane(bus), teardown: async () => {} };
  },
});
