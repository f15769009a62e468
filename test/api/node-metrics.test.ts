/**
 * GET /apigateways/websocket/v1/nodes/metrics: every node's own Prometheus text, for the
 * console's cluster-wide charts; read scope, and refused to a tenant-bound key (node-wide data).
 */
import { describe, expect, it } from 'vitest';
import { suiteNode } from '../support/scoped.js';

const PATH = '/apigateways/websocket/v1/nodes/metrics';
const KEYS = [
  { key: 'read-key', scopes: ['read' as const] },
  { key: 'write-key', scopes: ['write' as const] },
  { key: 'acme-key', scopes: ['read' as const, 'write' as const], tenantId: 'acme' },
];
const auth = (key: string): Record<string, string> => ({ authorization: `Bearer ${key}` });

describe('GET /nodes/metrics', () => {
  const node = suiteNode({ settings: { management: { apiKeys: KEYS } } as never });

  it("answers each node's own /metrics text under its node id (one node on the memory backplane)", async () => {
    const answer = await node.api('GET', PATH, undefined, auth('read-key'));
    expect(answer.status).toBe(200);
    const body = answer.json as { nodes: { nodeId: string; metrics: string }[] };
    expect(Object.keys(body)).toEqual(['nodes']);
    expect(body.nodes.map((n) => n.nodeId)).toEqual([node.node.nodeId]);
    const own = await node.api('GET', '/metrics', undefined, auth('read-key'));
    const metricNames = (text: string): string[] => text.split('\n').filter((line) => line.startsWith('# TYPE ')).sort();
    expect(metricNames(body.nodes[0]!.metrics)).toEqual(metricNames(own.text));
    expect(body.nodes[0]!.metrics).toMatch(/^switchboard_connections(\{[^}]*\})? \d+$/m);
  });

  it('needs the read scope', async () => {
    expect((await node.api('GET', PATH)).status).toBe(401);
    const refused = await node.api('GET', PATH, undefined, auth('write-key'));
    expect(refused.status).toBe(403);
  });

  it('refuses a tenant-bound key, whatever its scopes: metrics are node-wide', async () => {
    const refused = await node.api('GET', PATH, undefined, auth('acme-key'));
    expect(refused.status).toBe(403);
    expect(refused.text).toContain('tenant');
  });
});
