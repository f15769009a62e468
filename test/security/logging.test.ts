import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { defaultSettings, parseGatewaySpec, SwitchboardNode, type Settings } from '../../src/index.js';
import { createLogger } from '../../src/observability/index.js';
import { apiCall, V1 } from '../support/harness.js';

/** A pino destination that keeps every line. */
function capture(): { stream: Writable; text: () => string } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream, text: () => lines.join('') };
}

const SECRETS = {
  apiKey: 'sbk_live_9f2b7c1e4d8a6f30',
  tenantKey: 'sbk_tenant_1c0ffee5ca1ab1e',
  awsSecret: 'aws/Secret+Access/Key0123456789',
  jwtSecret: 'jwt-hmac-secret-5b3d',
  keyPem: '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n',
};

function settingsWithSecrets(): Settings {
  const settings = defaultSettings();
  settings.management.apiKeys = [
    { key: SECRETS.apiKey, scopes: ['read', 'write', 'broadcast'], rateLimit: { requestsPerSecond: 1, burst: 2 } },
    { key: SECRETS.tenantKey, scopes: ['read'], tenantId: 'acme' },
  ];
  settings.management.awsAccessKeys = [{ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: SECRETS.awsSecret }];
  settings.auth.jwt = { secret: SECRETS.jwtSecret, algorithms: ['HS256'], claims: { tenantId: 'tid', userId: 'sub' }, clockToleranceSeconds: 30 };
  settings.management.tls = { certFile: '/c.pem', keyFile: '/k.pem', certPem: 'CERT', keyPem: SECRETS.keyPem };
  return settings;
}

function expectNoSecret(text: string): void {
  for (const [name, secret] of Object.entries(SECRETS)) expect(text.includes(secret), `${name} appears in the logs`).toBe(false);
  expect(text).not.toContain('MIGHAgEAMBMGByqGSM49');
}

describe('keys never reach the logs', () => {
  it('redaction covers API keys, AWS and JWT secrets, TLS keys and Authorization headers wherever a log call puts them', () => {
    const out = capture();
    const log = createLogger('trace', out.stream);
    const settings = settingsWithSecrets();
    log.info({ settings }, 'settings as an object');
    log.info(settings, 'settings as the merge object');
    log.info({ management: settings.management }, 'management');
    log.info({ apiKeys: settings.management.apiKeys, awsAccessKeys: settings.management.awsAccessKeys }, 'keys');
    log.warn({ req: { headers: { authorization: `Bearer ${SECRETS.apiKey}`, Authorization: `Api-Key ${SECRETS.tenantKey}` } } }, 'request');
    log.warn({ headers: { authorization: `Bearer ${SECRETS.apiKey}` } }, 'headers');
    log.warn({ authorization: `Bearer ${SECRETS.apiKey}`, key: SECRETS.tenantKey, token: SECRETS.jwtSecret }, 'flat');
    log.warn({ call: { metadata: { authorization: `Bearer ${SECRETS.apiKey}` } } }, 'grpc-ish');
    const text = out.text();
    expectNoSecret(text);
    expect(text).toContain('[redacted]');
    // What is not secret stays readable.
    expect(text).toContain('"maxMessageBytes":131072');
  });

  it('a node at trace level logs none of them while keys are used, refused and rate limited', async () => {
    const out = capture();
    const settings = settingsWithSecrets();
    delete settings.management.tls;
    settings.listen = { host: '127.0.0.1', port: 0 };
    settings.management.listen = { host: '127.0.0.1', port: 0 };
    const spec = parseGatewaySpec(
      'openapi: 3.0.0\ninfo: {title: t, version: "1"}\npaths:\n  /ws:\n    x-yc-apigateway-websocket-message:\n      x-yc-apigateway-integration: {type: dummy, http_code: 200, content: ok}\n',
      'spec.yaml',
    );
    const node = await SwitchboardNode.start(settings, { specs: [spec], log: createLogger('trace', out.stream) });
    try {
      const base = `http://127.0.0.1:${node.managementAddress.port}`;
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await apiCall(base, 'GET', `${V1}/connections`, undefined, { authorization: `Bearer ${SECRETS.apiKey}` })).status);
      expect(statuses).toEqual([200, 200, 429]);
      expect((await apiCall(base, 'GET', `${V1}/connections`, undefined, { authorization: `Bearer ${SECRETS.apiKey}x` })).status).toBe(401);
      expect((await apiCall(base, 'DELETE', `${V1}/connections/nope`, undefined, { authorization: `Api-Key ${SECRETS.tenantKey}` })).status).toBe(403);
      expect((await apiCall(base, 'POST', `${V1}/connections/nope:send`, '{not json', { authorization: `Bearer ${SECRETS.tenantKey}`, 'content-type': 'application/json' })).status).toBe(400);
    } finally {
      await node.stop();
    }
    const text = out.text();
    expect(text).toContain('switchboard node started');
    expectNoSecret(text);
  });
});
