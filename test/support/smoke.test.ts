import { afterEach, describe, expect, it } from 'vitest';
import { connectClient, startTestNode, type TestNode } from './harness.js';

describe('the embedded demo', () => {
  let node: TestNode | undefined;
  afterEach(async () => {
    await node?.close();
  });

  it('greets a client on /demo and acknowledges its messages', async () => {
    node = await startTestNode();
    const client = await connectClient(node.wsUrl('/demo'));
    expect(JSON.parse((await client.next()).text)).toMatchObject({ type: 'welcome' });
    client.ws.send('hello');
    expect(await client.nextJson()).toEqual({ type: 'ack' });
    await client.close();
  });
});
