/**
 * A `history` answer is built whole in memory before the outbound buffer can refuse it: without
 * a bound, a handful of requests for a topic keeping large publications made hundreds of
 * megabytes and seconds of encoding on the node, whoever else it served.
 */
import { describe, expect, it } from 'vitest';
import { connectRealtime, expectApi, startRealtimeNode, text, topic } from '../realtime-e2e/support.js';
import { V1 } from '../support/harness.js';
import { useStarted } from '../support/scoped.js';

describe('realtime history answers', () => {
  it('a history answer over limits.outboundBufferBytes is refused with LIMIT_EXCEEDED naming the limit and data.limit; a smaller limit is answered', async () => {
    const node = await useStarted(startRealtimeNode({ topics: [topic('acme:*', { historySize: 100 })], limits: { outboundBufferBytes: 262_144 } }));
    for (let i = 0; i < 10; i++) await expectApi(node, 200, 'POST', `${V1}/topics/acme:big:publish`, text('x'.repeat(50_000)));
    const client = await connectRealtime(node, 'acme', 'alice');
    const refused = await client.request({ type: 'history', requestId: 'all', data: { topic: 'big' } });
    expect(refused).toMatchObject({ type: 'error', requestId: 'all', data: { code: 'LIMIT_EXCEEDED', field: 'limits.outboundBufferBytes' } });
    expect(refused.data.message).toBe('the history answer would carry 500000 bytes of payloads, over the 262144 one answer may carry (limits.outboundBufferBytes): ask for fewer with data.limit');
    const some = await client.request({ type: 'history', requestId: 'some', data: { topic: 'big', limit: 3 } });
    expect(some).toMatchObject({ type: 'history', requestId: 'some' });
    expect((some.data.publications as unknown[]).length).toBe(3);
  });

  it('a recovery whose missed payloads pass limits.outboundBufferBytes says recovered false (reload), with the position, instead of carrying them', async () => {
    const node = await useStarted(startRealtimeNode({ topics: [topic('acme:*', { historySize: 100 })], limits: { outboundBufferBytes: 262_144 } }));
    for (let i = 0; i < 10; i++) await expectApi(node, 200, 'POST', `${V1}/topics/acme:big:publish`, text('x'.repeat(50_000)));
    const { epoch } = await expectApi(node, 200, 'GET', `${V1}/topics/acme:big/history?limit=1`);
    const client = await connectRealtime(node, 'acme', 'alice');
    const far = await client.request({ type: 'subscribe', requestId: 'far', data: { topic: 'big', since: { offset: 0, epoch } } });
    expect(far).toMatchObject({ type: 'subscribed', requestId: 'far', data: { recovered: false, publications: [], offset: 10, epoch } });
    const near = await client.request({ type: 'subscribe', requestId: 'near', data: { topic: 'big', since: { offset: 8, epoch } } });
    expect(near).toMatchObject({ type: 'subscribed', requestId: 'near', data: { recovered: true, offset: 10 } });
    expect((near.data.publications as { offset: number }[]).map((p) => p.offset)).toEqual([9, 10]);
  });
});
