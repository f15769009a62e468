export { createManagementApi } from './server.js';
export type { ManagementApiOptions } from './server.js';
// The API-key auth and the Send payload rules, shared with the gRPC ConnectionService (src/grpc).
export { ApiKeyAuthenticator, requireScope } from './auth.js';
export type { Caller, CallerBudget } from './auth.js';
export { AuthFailureGate } from './auth-failures.js';
export { HostAllowList, hostAllowListFor } from './host-allowlist.js';
export { AccessKeyRateLimiter, ApiKeyRateLimiter } from './rate-limits.js';
export { MAX_SEND_BYTES, isValidUtf8 } from './payload.js';
