import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSync, type Options, type PackageDefinition, type ServiceDefinition } from '@grpc/proto-loader';

/** The service's full name: the `:path` prefix of every call on the wire. */
export const CONNECTION_SERVICE_NAME = 'yandex.cloud.serverless.apigateway.websocket.v1.ConnectionService';

/** The service's .proto file, relative to {@link protoDirectory}. */
export const CONNECTION_SERVICE_PROTO = 'yandex/cloud/serverless/apigateway/websocket/v1/connection_service.proto';

/**
 * How the server sees messages: camelCase fields as the REST JSON has them, int64 as strings,
 * enum values by name (an unknown number stays a number, which Send rejects) and every field
 * present, so a handler never meets `undefined`.
 */
export const SERVER_LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  keepCase: false,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: true,
  oneofs: true,
});

/**
 * The package's `proto/` folder: the nearest folder above this module holding package.json
 * and the service's .proto. Walking up works from src/grpc (vitest) and dist/src/grpc (after
 * tsc) alike. google/protobuf/timestamp.proto comes with proto-loader's protobufjs.
 */
export function protoDirectory(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let folder = start; ; folder = dirname(folder)) {
    const candidate = join(folder, 'proto');
    if (existsSync(join(folder, 'package.json')) && existsSync(join(candidate, CONNECTION_SERVICE_PROTO))) return candidate;
    if (dirname(folder) === folder) throw new Error(`proto/${CONNECTION_SERVICE_PROTO} not found above ${start}`);
  }
}

/** Loads the service's package definition; clients may pass their own loader options. */
export function loadConnectionServicePackage(options: Options = SERVER_LOADER_OPTIONS): PackageDefinition {
  return loadSync(CONNECTION_SERVICE_PROTO, { ...options, includeDirs: [protoDirectory(), ...(options.includeDirs ?? [])] });
}

export function connectionServiceOf(definition: PackageDefinition): ServiceDefinition {
  const service = definition[CONNECTION_SERVICE_NAME];
  if (service === undefined || !('Get' in service)) throw new Error(`${CONNECTION_SERVICE_NAME} missing from its .proto`);
  return service as ServiceDefinition;
}
