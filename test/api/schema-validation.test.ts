/**
 * What Fastify's schema validation adds beyond the answer corpus: a query parameter repeated
 * (an array, where the API takes one string) is 400 naming it, and the key's scope is checked
 * before any input, whatever the route.
 */
import { describe, expect, it } from 'vitest';
import { dummy, specYaml } from '../support/fixtures.js';
import { V1, type ApiResponse } from '../support/harness.js';
import { suiteNode } from '../support/scoped.js';

const ADMIN = 'schema-admin-key-0123456789abcdef';
const READ = 'schema-read-key-0123456789abcdef';

function violation(response: ApiResponse): { status: number; message: string; field: string | undefined } {
  const body = response.json as { message: string; details: { fieldViolations?: { field: string }[] }[] };
  return { status: response.status, message: body.message, field: body.details[0]?.fieldViolations?.[0]?.field };
}

describe('management API: schema validation', () => {
  const node = suiteNode({
    spec: specYaml({ '/ws': { message: dummy('') } }, 'schema-gw'),
    settings: { management: { apiKeys: [{ key: ADMIN, scopes: ['read', 'write', 'broadcast'] }, { key: READ, scopes: ['read'] }] } },
  });
  const as = (key: string) => ({ authorization: `Bearer ${key}` });

  const filters: [string, string][] = [
    ['gatewayId', 'gatewayId must be a string, got ["a","b"]'],
    ['userId', 'userId must be a string, got ["a","b"]'],
    ['topic', 'topic must be a string, got ["a","b"]'],
    // The body field's message, as users:send answers it.
    ['tenantId', 'tenantId must be a string'],
  ];
  for (const [name, message] of filters) {
    it(`a repeated ${name} filter is 400 naming it, not handed to the hub`, async () => {
      const response = await node.api('GET', `${V1}/connections?${name}=a&${name}=b`, undefined, as(ADMIN));
      expect(violation(response)).toEqual({ status: 400, message, field: name });
    });
  }

  it('a repeated epoch is 400 naming it', async () => {
    const response = await node.api('GET', `${V1}/topics/room/history?epoch=a&epoch=b`, undefined, as(ADMIN));
    expect(violation(response)).toEqual({ status: 400, message: 'epoch must be a string, got ["a","b"]', field: 'epoch' });
  });

  const writes: [string, string][] = [
    ['connections/x:send', '[]'],
    ['connections/x:subscribe', '{"topic":1}'],
    ['topics/room:publish', '{"data":1}'],
    ['users/u:send', '"x"'],
    ['users/u:disconnect', '{"tenantId":""}'],
    ['tenants/t:broadcast', '{"extra":1}'],
  ];
  for (const [path, body] of writes) {
    it(`POST ${path} with a bad body and a read-only key is 403, not 400`, async () => {
      const response = await node.api('POST', `${V1}/${path}`, body, as(READ));
      expect(response.status, response.text).toBe(403);
      expect((response.json as { code: number }).code).toBe(7);
    });
  }

  it('an unknown verb is 404 whatever the body', async () => {
    const response = await node.api('POST', `${V1}/topics/room:unpublish`, '[]', as(ADMIN));
    expect(response.status).toBe(404);
    expect((response.json as { message: string }).message).toBe('no method unpublish on topics; use :publish');
  });
});
