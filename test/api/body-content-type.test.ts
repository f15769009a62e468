/**
 * JSON bodies without the JSON content type: `curl -d` sends
 * `application/x-www-form-urlencoded`, and a bare client may send no Content-Type at all.
 * The management API reads such a body as JSON, as HTTP/JSON transcoding gateways do; a body
 * that is not JSON gets 400 INVALID_ARGUMENT naming the field and the header to send. The
 * `@connections` surface keeps its raw body.
 */
import { request } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { dummy, specYaml } from '../support/fixtures.js';
import { b64, connectClient, V1, type TestClient } from '../support/harness.js';
import { forSuite, suiteNode } from '../support/scoped.js';

/** A POST with exactly the headers given (fetch would add a text/plain content type). */
function rawPost(base: string, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: 'POST', headers: { 'content-length': String(Buffer.byteLength(body)), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, json: text === '' ? undefined : (JSON.parse(text) as unknown) });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('management API bodies sent without Content-Type: application/json', () => {
  const node = suiteNode({ spec: specYaml({ '/ws': { message: dummy('') } }, 'ctype-gw') });
  const client: TestClient = forSuite(() => connectClient(node.wsUrl('/ws')));
  let id: string;

  beforeAll(() => {
    id = client.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string;
  });

  const cases: [string, Record<string, string>][] = [
    ['the form type curl -d sends', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['no Content-Type at all', {}],
  ];

  for (const [name, headers] of cases) {
    it(`${name}: a JSON body is read as JSON and :send delivers it`, async () => {
      const answer = await rawPost(node.apiUrl, `${V1}/connections/${id}:send`, JSON.stringify({ data: b64(name), type: 'TEXT' }), headers);
      expect(answer).toEqual({ status: 200, json: {} });
      expect((await client.next()).text).toBe(name);
    });

    it(`${name}: a body that is not JSON is 400 INVALID_ARGUMENT naming the field and the header to send`, async () => {
      const answer = await rawPost(node.apiUrl, `${V1}/connections/${id}:send`, 'data=aGk&type=TEXT', headers);
      expect(answer.status).toBe(400);
      const status = answer.json as { code: number; message: string; details: { '@type': string; fieldViolations: { field: string; description: string }[] }[] };
      expect(status.code).toBe(3);
      expect(status.message).toContain('Content-Type: application/json');
      expect(status.details).toEqual([
        { '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: [{ field: 'body', description: status.message }] },
      ]);
    });
  }

  it('another media type is refused with the same advice', async () => {
    const answer = await rawPost(node.apiUrl, `${V1}/connections/${id}:send`, JSON.stringify({ data: b64('x'), type: 'TEXT' }), { 'content-type': 'text/csv' });
    expect(answer.status).toBe(400);
    expect((answer.json as { message: string }).message).toContain('Content-Type: application/json');
  });

  it('application/json still works, and bad JSON under it is still 400', async () => {
    expect(await rawPost(node.apiUrl, `${V1}/connections/${id}:send`, JSON.stringify({ data: b64('typed'), type: 'TEXT' }), { 'content-type': 'application/json' })).toEqual({ status: 200, json: {} });
    expect((await client.next()).text).toBe('typed');
    expect((await rawPost(node.apiUrl, `${V1}/connections/${id}:send`, '{', { 'content-type': 'application/json' })).status).toBe(400);
  });

  it('@connections keeps its raw body whatever the content type (SigV4 refusal, not a JSON error)', async () => {
    const answer = await rawPost(node.apiUrl, `/@connections/${id}`, 'raw bytes, not JSON', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(answer.status).toBe(403);
    expect(answer.json).toEqual({ message: expect.stringContaining('no AWS access keys configured') });
  });
});
