/**
 * A gRPC client built from Switchboard's own .proto files (proto-loader + grpc-js), the way
 * any third-party client would build one, and helpers to call it with an API key.
 */
import type { AddressInfo } from 'node:net';
import { Metadata, credentials, loadPackageDefinition, type Client, type ServiceClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'vitest';
import { CONNECTION_SERVICE_NAME, loadConnectionServicePackage, type Timestamp } from '../../src/grpc/index.js';
import { connectClient, startTestNode, type SettingsOverrides, type TestClient, type TestNode } from '../support/harness.js';

export const STATUS = { OK: 0, INVALID_ARGUMENT: 3, NOT_FOUND: 5, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

export const GRPC_LOOPBACK = { grpc: { listen: { host: '127.0.0.1', port: 0 } } } satisfies SettingsOverrides;

export const RAW_SPEC = `
openapi: 3.0.0
info: {title: grpc under test, version: '1'}
x-switchboard: {gatewayId: grpc-gw}
paths:
  /ws:
    x-yc-apigateway-websocket-message:
      x-yc-apigateway-integration:
        type: dummy
        http_code: 200
        content:
          text/plain: ok
`;

export type Method = 'Get' | 'Send' | 'Disconnect';

export interface ConnectionServiceClient {
  client: Client;
  call<T = Record<string, unknown>>(method: Method, request: Record<string, unknown>, key?: string): Promise<T>;
  close(): void;
}

/** A client of `address` built from proto/ with the options a typical client uses. */
export function protoClient(address: AddressInfo, authorization?: (key: string) => string): ConnectionServiceClient {
  const definition = loadConnectionServicePackage({ keepCase: false, longs: String, enums: String, defaults: true });
  const root = loadPackageDefinition(definition);
  const Service = CONNECTION_SERVICE_NAME.split('.').reduce<unknown>((scope, name) => (scope as Record<string, unknown>)[name], root) as ServiceClientConstructor;
  const client = new Service(`127.0.0.1:${address.port}`, credentials.createInsecure());
  const header = authorization ?? ((key: string) => `Bearer ${key}`);
  return {
    client,
    call<T>(method: Method, request: Record<string, unknown>, key?: string): Promise<T> {
      const metadata = new Metadata();
      if (key !== undefined) metadata.set('authorization', header(key));
      return new Promise<T>((resolve, reject) => {
        const invoke = (client as unknown as Record<Method, (req: unknown, md: Metadata, cb: (err: ServiceError | null, res: T) => void) => void>)[method];
        invoke.call(client, request, metadata, (err, response) => (err ? reject(err) : resolve(response)));
      });
    },
    close: () => client.close(),
  };
}

/** The call fails with this gRPC status; returns its message. */
export async function expectCode(pending: Promise<unknown>, code: number): Promise<string> {
  const err = (await pending.then(
    (response) => {
      throw new Error(`expected status ${code}, the call succeeded with ${JSON.stringify(response)}`);
    },
    (e: unknown) => e,
  )) as ServiceError;
  expect(err.code, err.details).toBe(code);
  return err.details;
}

/** Epoch milliseconds of a Timestamp, for comparing with the REST get's RFC 3339 strings. */
export function millisOf(timestamp: Timestamp): number {
  return Number(timestamp.seconds) * 1000 + timestamp.nanos / 1e6;
}

export function grpcAddressOf(node: TestNode): AddressInfo {
  const address = node.node.grpcAddress;
  if (address === undefined) throw new Error('the node runs no gRPC listener');
  return address;
}

export interface ConnectedClient {
  client: TestClient;
  id: string;
}

export async function connectRaw(node: TestNode, headers: Record<string, string> = {}): Promise<ConnectedClient> {
  const client = await connectClient(node.wsUrl('/ws'), { headers });
  return { client, id: client.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string };
}

export function startGrpcNode(settings: SettingsOverrides = {}, spec: string = RAW_SPEC): Promise<TestNode> {
  return startTestNode({ spec, settings: { ...GRPC_LOOPBACK, ...settings } });
}
