export { RouteTable, Route } from './routes.js';
export type { RouteMatch, MessageTarget } from './routes.js';
export { BackendPools, BackendFailure, DummyBackend, HttpBackend, contentTypeOf, createBackend, forwardableHeaders } from './backend.js';
export type { Backend, BackendPoolsOptions, BackendRequest, BackendResponse, EventType } from './backend.js';
export { CircuitBreaker } from './circuit-breaker.js';
export type { CircuitState } from './circuit-breaker.js';
