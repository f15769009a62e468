export { RouteTable, Route } from './routes.js';
export type { RouteMatch, MessageTarget } from './routes.js';
export { BackendPools, BackendFailure, DummyBackend, HttpBackend, createBackend, forwardableHeaders } from './backend.js';
export type { Backend, BackendRequest, BackendResponse, EventType } from './backend.js';
