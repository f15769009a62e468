import { describe, expect, it } from 'vitest';
import { MemoryTopicHistory } from '../../src/cluster/history-memory.js';
import { ManualClock } from '../../src/time/index.js';

// Found by `npm run soak` (docs/reliability.md): small payloads decoded from API requests are
// slices of Node's shared 8 KiB Buffer pool, so a history that kept them as they came kept a
// whole slab per publication: ~37 MiB of ArrayBuffers for 10,000 retained 150-byte ones.
describe('memory history and the shared Buffer pool', () => {
  it('keeps a small pooled payload in an allocation of its own, with the same bytes', () => {
    const history = new MemoryTopicHistory(new ManualClock(0));
    const pooled = Buffer.from('eyJoZWxsbyI6IndvcmxkIn0=', 'base64');
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
    const { publication } = history.append('t:a', { data: pooled, binary: false }, { historySize: 10, historyTtlSeconds: 0 });
    expect(publication.data.buffer.byteLength).toBe(pooled.length);
    expect(publication.data.equals(pooled)).toBe(true);
    expect(history.read('t:a').publications[0]!.data.toString()).toBe('{"hello":"world"}');
  });

  it('keeps a payload that owns its allocation without copying it', () => {
    const history = new MemoryTopicHistory(new ManualClock(0));
    const own = Buffer.alloc(16_384, 0x61);
    const { publication } = history.append('t:b', { data: own, binary: true }, { historySize: 10, historyTtlSeconds: 0 });
    expect(publication.data).toBe(own);
  });
});
