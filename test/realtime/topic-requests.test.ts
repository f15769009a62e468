import { describe, expect, it } from 'vitest';
import type { Hub } from '../../src/cluster/index.js';
import { ConnectionRecord, type ClientTransport } from '../../src/connections/index.js';
import { TopicForbidden, type RealtimeSession, type TopicAction } from '../../src/realtime/index.js';
import { handleHistory, handlePresence, handlePublish, type TopicRequestContext } from '../../src/realtime/topic-requests.js';

const transport: ClientTransport = { write: () => true, close: () => undefined };

function session(): RealtimeSession {
  const record = new ConnectionRecord('n.1', 'g', '127.0.0.1', 'ua', 0, 'realtime', transport, 'acme', 'alice');
  return { record, route: {} as RealtimeSession['route'], sendText: () => true, forward: () => undefined, open: true, close: () => undefined, backendHeaders: () => ({}) };
}

/** Allows or refuses every action, as the permission rules' check does (refusal: TopicForbidden). */
type Check = (action: TopicAction, topic: string) => Promise<void>;

/** Records what the protocol asked the permission check and the Hub, and what it answered the client. */
function context(check: Check): { ctx: TopicRequestContext; asked: string[]; hubCalls: string[]; answered: Promise<[string, unknown]> } {
  const asked: string[] = [];
  const hubCalls: string[] = [];
  let settle!: (value: [string, unknown]) => void;
  const answered = new Promise<[string, unknown]>((resolve) => (settle = resolve));
  const hub = {
    publish: async (topic: string) => (hubCalls.push(`publish ${topic}`), { offset: 1, epoch: 'e', delivered: 0 }),
    presence: async (topic: string) => (hubCalls.push(`presence ${topic}`), { connections: [], users: [] }),
    history: async (topic: string) => (hubCalls.push(`history ${topic}`), { offset: 0, epoch: 'e', complete: true, publications: [] }),
  } as unknown as Hub;
  const ctx: TopicRequestContext = {
    maxAnswerBytes: 4_194_304,
    hub: () => hub,
    check: (_s, action, topic) => {
      asked.push(`${action} ${topic}`);
      return check(action, topic);
    },
    reply: (_s, type, data) => settle([type, data]),
    fail: (_s, err) => settle(['error', (err as Error).message]),
  };
  return { ctx, asked, hubCalls, answered };
}

describe('the topic access hook of client publish, presence and history', () => {
  it('asks once per request with the tenant-scoped topic, and a refusal reaches neither the Hub nor subscribers', async () => {
    const denyAll: Check = async (action) => {
      throw new TopicForbidden(`${action} is not allowed on this topic`);
    };
    for (const [handle, action] of [
      [handlePublish, 'publish'],
      [handlePresence, 'presence'],
      [handleHistory, 'history'],
    ] as const) {
      const { ctx, asked, hubCalls, answered } = context(denyAll);
      handle(ctx, session(), { topic: 'orders', data: 1 }, 'r');
      expect(await answered).toEqual(['error', `${action} is not allowed on this topic`]);
      expect(asked).toEqual([`${action} acme:orders`]);
      expect(hubCalls).toEqual([]);
    }
  });

  it('goes to the Hub when the rule allows', async () => {
    const { ctx, hubCalls, answered } = context(async () => undefined);
    handlePublish(ctx, session(), { topic: 'orders', data: { a: 1 } });
    expect(await answered).toEqual(['published', { topic: 'acme:orders', offset: 1, epoch: 'e' }]);
    expect(hubCalls).toEqual(['publish acme:orders']);
  });
});
