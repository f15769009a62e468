/**
 * What the client SDK tests share: a node with realtime paths and HS256 auth,
 * a forward backend that echoes envelopes, and an event recorder.
 */
import type { TopicSettings } from '../../src/config/index.js';
import type { ClientEvents, SwitchboardClient } from '../../src/client/index.js';
import { startBackend, startTestNode, V1, type TestBackend, type TestNode } from '../support/harness.js';
import { jwtSettings } from '../support/tokens.js';

/** `/rt`: realtime only. `/rt-echo`: realtime forwarding other types to `forwardUrl`. */
export function clientSpec(forwardUrl: string): string {
  return `
openapi: 3.0.0
info: {title: client sdk tests, version: '1'}
x-switchboard: {gatewayId: client-gw}
paths:
  /rt:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration:
        type: realtime
  /rt-echo:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration:
        type: realtime
        forward:
          type: http
          url: ${forwardUrl}
`;
}

/** Five seconds of clock tolerance: the SDK's own refresh timing is what these tests watch. */
export const clientJwt = jwtSettings({ clockToleranceSeconds: 5 });

const everything: TopicSettings = { pattern: '*', historySize: 100, historyTtlSeconds: 300, presence: true, joinLeave: true };
/** Topics `acme:tiny.*` keep two publications, so recovery over more than that fails. */
const tiny: TopicSettings = { pattern: 'acme:tiny.*', historySize: 2, historyTtlSeconds: 300, presence: true, joinLeave: true };

/**
 * The forward backend: `{type: "hang"}` is never answered, `{type: "fail"}` answers 500, `{type: "mute"}` answers an envelope
 * without the requestId, anything else is echoed as `{type: "echo", data, requestId}`.
 */
export function startEchoBackend(): Promise<TestBackend> {
  return startBackend((request, res) => {
    let envelope: { type?: string; data?: unknown; requestId?: string } = {};
    try {
      envelope = JSON.parse(request.body.toString('utf8')) as typeof envelope;
    } catch {
      // answered as an echo of nothing
    }
    if (envelope.type === 'hang') return; // never answered
    if (envelope.type === 'fail') {
      res.statusCode = 500;
      res.end('backend broke');
      return;
    }
    res.setHeader('content-type', 'application/json');
    if (envelope.type === 'mute') {
      res.end(JSON.stringify({ type: 'pushed', data: envelope.data }));
      return;
    }
    res.end(JSON.stringify({ type: 'echo', data: envelope.data, requestId: envelope.requestId }));
  });
}

export function startClientNode(backend: TestBackend, extraTopics: TopicSettings[] = [tiny]): Promise<TestNode> {
  return startTestNode({ spec: clientSpec(backend.url), settings: { auth: { jwt: clientJwt }, topics: [...extraTopics, everything] } });
}

/** Publishes text to a tenant's topic through the management API; returns `{offset, epoch}`. */
export async function publish(node: TestNode, topic: string, text: string, type: 'TEXT' | 'BINARY' = 'TEXT'): Promise<{ offset: number; epoch: string }> {
  const response = await node.api('POST', `${V1}/topics/${topic}:publish`, { data: Buffer.from(text).toString('base64'), type });
  if (response.status !== 200) throw new Error(`publish ${topic}: ${response.status} ${response.text}`);
  return response.json as { offset: number; epoch: string };
}

export type Recorded = { [K in keyof ClientEvents]: { name: K; event: ClientEvents[K] } }[keyof ClientEvents];

/** Records every event of a client, in order. */
export function recordEvents(client: SwitchboardClient): Recorded[] {
  const log: Recorded[] = [];
  const names: (keyof ClientEvents)[] = [
    'connecting',
    'connected',
    'disconnected',
    'error',
    'publication',
    'subscribed',
    'recovered',
    'recoveryFailed',
    'join',
    'leave',
    'message',
    'raw',
  ];
  const add = <K extends keyof ClientEvents>(name: K): void => {
    client.on(name, (event) => log.push({ name, event } as Recorded));
  };
  for (const name of names) add(name);
  return log;
}

/** Resolves with the next event of that name (within the time). */
export function nextEvent<K extends keyof ClientEvents>(client: SwitchboardClient, name: K, timeoutMs = 5000): Promise<ClientEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no "${String(name)}" event within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.once(name, (event) => {
      clearTimeout(timer);
      resolve(event);
    });
  });
}

export interface Gate {
  promise: Promise<void>;
  open(): void;
}

export function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}
