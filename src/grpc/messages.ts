/**
 * The service's messages as proto-loader decodes and encodes them with
 * SERVER_LOADER_OPTIONS (camelCase, int64 as string, enums by name, defaults filled in).
 */

export interface Timestamp {
  /** int64 seconds since the Unix epoch, as a decimal string. */
  seconds: string;
  nanos: number;
}

export interface ConnectionMessage {
  id: string;
  gatewayId: string;
  identity: { sourceIp: string; userAgent: string };
  connectedAt: Timestamp;
  lastActiveAt: Timestamp;
}

export interface GetConnectionRequest {
  connectionId: string;
}

export type DataTypeName = 'DATA_TYPE_UNSPECIFIED' | 'BINARY' | 'TEXT';

export interface SendToConnectionRequest {
  connectionId: string;
  data: Buffer;
  /** A name, or the number itself when the sender used a value the .proto does not define. */
  type: DataTypeName | number;
}

export interface DisconnectRequest {
  connectionId: string;
}

export type EmptyResponse = Record<string, never>;
