/** Rate limiting shared by the client listener (accepts per second) and the management surfaces (requests per key). */
export { TokenBucket, monotonicNow, retryAfterSeconds } from './token-bucket.js';
/** Failed authentications per source address, on every surface that authenticates. */
export { AuthFailureThrottle } from './auth-failure-throttle.js';
export type { AuthFailureThrottleOptions } from './auth-failure-throttle.js';
