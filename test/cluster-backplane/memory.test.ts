/**
 * The memory backplane against the backplane contract: the nodes of one process on one bus.
 * Nothing to start and no connection to lose; the faults a peer can have here (a delivery
 * that throws, a request never answered) are the contract's. A silent peer cannot exist: the
 * bus delivers synchronously.
 */
import { describe, expect, it } from 'vitest';
import { MemoryBackplane, MemoryBus } from '../../src/cluster/index.js';
import { NodeIdInUse } from '../../src/errors/index.js';
import { describeBackplaneContract } from './backplane-contract.js';

describeBackplaneContract('memory', {
  async setup() {
    const bus = new MemoryBus();
    return {
      create: () => new MemoryBackplane(bus),
      teardown: async () => {},
      inFlight: (backplane) => {
        if (!(backplane instanceof MemoryBackplane)) throw new Error(`${backplane.name} is not a memory backplane`);
        return backplane.diagnostics;
      },
    };
  },
});

describe('memory backplane node ids', () => {
  it('refuses a node id another node on the bus holds, naming it, and frees it at stop', async () => {
    const bus = new MemoryBus();
    const handlers = { request: async () => ({ ok: true as const, value: {} }), fanout: (events: unknown[]) => events.map(() => 0) };
    const first = new MemoryBackplane(bus);
    await first.start('node-a', handlers, { hostname: 'h1', pid: 11, listen: '127.0.0.1:8080' });
    const second = new MemoryBackplane(bus);
    await expect(second.start('node-a', handlers)).rejects.toThrow(NodeIdInUse);
    await expect(second.start('node-a', handlers)).rejects.toThrow(/node id "node-a" is held by a live node \(listen 127\.0\.0\.1:8080, host h1, pid 11\)/);
    expect(await first.liveNodes()).toEqual(['node-a']);
    await first.stop();
    await second.start('node-a', handlers);
    expect(await second.liveNodes()).toEqual(['node-a']);
  });
});
