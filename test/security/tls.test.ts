import fs from 'node:fs';
import path from 'node:path';
import { credentials, loadPackageDefinition, Metadata, type Client, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadSettings } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors/index.js';
import { CONNECTION_SERVICE_NAME, loadConnectionServicePackage } from '../../src/grpc/index.js';
import { connectClient, type TestNode } from '../support/harness.js';
import { useClient, useNode } from '../support/scoped.js';
import { selfSignedCertificate, type Certificate } from './support.js';
import { heldOpen } from '../support/raw-http.js';

const SPEC = `
openapi: 3.0.0
info: {title: tls, version: '1'}
x-switchboard: {gatewayId: tls-gw}
paths:
  /ws:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration: {type: dummy, http_code: 200, content: pong}
`;

let cert: Certificate;
let other: Certificate;
beforeAll(() => {
  cert = selfSignedCertificate();
  other = selfSignedCertificate('other.invalid');
});
afterAll(() => {
  cert.remove();
  other.remove();
});

function writeConfig(text: string): string {
  const file = path.join(cert.dir, `switchboard-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, text);
  return file;
}

function problemOf(text: string): string {
  const file = writeConfig(text);
  try {
    loadSettings({ configFile: file, flags: {}, env: {} });
  } catch (err) {
    if (err instanceof ConfigError) return err.message.replace(file, 'FILE').replaceAll(cert.dir, 'DIR').replaceAll(other.dir, 'OTHER');
    throw err;
  }
  throw new Error('no ConfigError');
}

describe('tls settings', () => {
  it('read tls, management.tls and grpc.tls, paths relative to the config file', () => {
    const file = writeConfig(`
tls: {cert: ./cert.pem, key: ./key.pem}
management:
  tls: {cert: ${cert.certFile}, key: ${cert.keyFile}}
grpc:
  listen: 127.0.0.1:0
  tls: {cert: ${other.certFile}, key: ${other.keyFile}}
`);
    const settings = loadSettings({ configFile: file, flags: {}, env: {} });
    expect(settings.tls).toEqual({ certFile: cert.certFile, keyFile: cert.keyFile, certPem: cert.certPem, keyPem: cert.keyPem });
    expect(settings.management.tls?.certPem).toBe(cert.certPem);
    expect(settings.grpc?.tls?.keyPem).toBe(other.keyPem);
  });

  it.each([
    ['a missing key', 'tls: {cert: ./cert.pem}\n', 'FILE: tls.key: is required: a PEM private key file'],
    ['a missing file', 'tls: {cert: ./nope.pem, key: ./key.pem}\n', 'FILE: tls.cert: cannot read "DIR/nope.pem": file not found'],
    ['a key where the certificate belongs', 'management:\n  tls: {cert: ./key.pem, key: ./key.pem}\n', 'FILE: management.tls.cert: "DIR/key.pem" is not a PEM certificate'],
    ['a certificate where the key belongs', 'tls: {cert: ./cert.pem, key: ./cert.pem}\n', 'FILE: tls.key: "DIR/cert.pem" is not an unencrypted PEM private key'],
    ['an unknown key', 'tls: {cert: ./cert.pem, key: ./key.pem, ca: ./ca.pem}\n', 'FILE: tls.ca: unknown key "ca"; allowed keys: cert, key'],
  ])('%s is an error naming the key path', (_name, text, message) => {
    expect(problemOf(text)).toBe(message);
  });

  it('a key that is not the certificate\'s is an error naming both', () => {
    expect(problemOf(`grpc:\n  listen: 127.0.0.1:0\n  tls: {cert: ./cert.pem, key: ${other.keyFile}}\n`)).toBe(
      'FILE: grpc.tls.key: "OTHER/key.pem" is not the key of the certificate in grpc.tls.cert',
    );
  });
});

type Grpc = Client & { Get(request: unknown, metadata: Metadata, callback: (err: ServiceError | null, response: unknown) => void): void };

function grpcClient(port: number, secure: boolean): Grpc {
  const root = loadPackageDefinition(loadConnectionServicePackage());
  const Service = CONNECTION_SERVICE_NAME.split('.').reduce<unknown>((scope, name) => (scope as Record<string, unknown>)[name], root) as ServiceClientConstructor;
  const channel = secure ? credentials.createSsl(Buffer.from(cert.certPem)) : credentials.createInsecure();
  return new Service(`127.0.0.1:${port}`, channel) as unknown as Grpc;
}

function grpcGet(client: Grpc, key: string): Promise<ServiceError> {
  const metadata = new Metadata();
  metadata.set('authorization', `Bearer ${key}`);
  return new Promise((resolve, reject) => {
    client.Get({ connectionId: 'nope' }, metadata, (err) => (err ? resolve(err) : reject(new Error('expected an error'))));
  });
}

describe('TLS listeners', () => {
  async function start(handshakeTimeoutSeconds = 10): Promise<{ node: TestNode; client: number; management: number; grpc: number }> {
    const tls = { certFile: cert.certFile, keyFile: cert.keyFile, certPem: cert.certPem, keyPem: cert.keyPem };
    const node = await useNode({
      spec: SPEC,
      settings: {
        limits: { handshakeTimeoutSeconds },
        tls,
        management: { tls, apiKeys: [{ key: 'k', scopes: ['read', 'write', 'broadcast'] }] },
        grpc: { listen: { host: '127.0.0.1', port: 0 } },
      },
    });
    return { node, client: node.node.clientAddress.port, management: node.node.managementAddress.port, grpc: node.node.grpcAddress!.port };
  }

  it('the client listener speaks wss:// with the configured certificate, and only that', async () => {
    const { client: port } = await start();
    const client = await useClient(`wss://127.0.0.1:${port}/ws`, { ca: cert.certPem });
    client.ws.send('ping');
    expect((await client.next()).text).toBe('pong');
    expect(client.upgradeHeaders['x-yc-apigateway-websocket-connection-id']).toBeTruthy();
    // A client that does not trust the certificate is refused by its own TLS stack.
    await expect(connectClient(`wss://127.0.0.1:${port}/ws`)).rejects.toThrow(/self[- ]signed/i);
    // Plain ws:// to the TLS port never opens.
    await expect(
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
        ws.on('open', () => resolve('opened'));
        ws.on('error', reject);
        ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      }),
    ).rejects.toThrow();
  });

  it('drops a client that never starts its TLS handshake within handshakeTimeoutSeconds (Node\'s own default is 120 s)', async () => {
    const { client: port } = await start(1);
    const { closedAfter } = heldOpen(port, '');
    const ms = await closedAfter;
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(2500);
  });

  it('a hard stop does not wait for a client stuck before its TLS handshake', async () => {
    const { node, client: port } = await start();
    const held = heldOpen(port, '');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    await node.close();
    expect(performance.now() - started).toBeLessThan(2000);
    expect(await held.closedAfter).toBeLessThan(3000);
  });

  it('the management listener speaks HTTPS; plain HTTP gets no answer from the API', async () => {
    const { management } = await start();
    const dispatcher = new Agent({ connect: { ca: cert.certPem } });
    try {
      const health = await request(`https://127.0.0.1:${management}/healthz`, { dispatcher });
      expect(health.statusCode).toBe(200);
      expect(await health.body.json()).toEqual({ status: 'ok' });
      const list = await request(`https://127.0.0.1:${management}/apigateways/websocket/v1/connections`, { dispatcher, headers: { authorization: 'Bearer k' } });
      expect(list.statusCode).toBe(200);
      await list.body.dump();
    } finally {
      await dispatcher.close();
    }
    const plain = await fetch(`http://127.0.0.1:${management}/healthz`).then(
      (response) => response.status,
      () => 'refused',
    );
    expect(plain).not.toBe(200);
  });

  it('the gRPC listener takes the management certificate when it has none of its own', async () => {
    const { grpc } = await start();
    const secure = grpcClient(grpc, true);
    const insecure = grpcClient(grpc, false);
    try {
      const reached = await grpcGet(secure, 'k');
      expect(reached.code).toBe(5); // NOT_FOUND: the call went through TLS to the service
      const refused = await grpcGet(insecure, 'k');
      expect(refused.code).toBe(14); // UNAVAILABLE: no plaintext HTTP/2 here
    } finally {
      secure.close();
      insecure.close();
    }
  });
});
