/** Rate limiting shared by the client listener (accepts per second) and the management surfaces (requests per key). */
export { TokenBucket, monotonicNow, retryAfterSeconds } from './token-bucket.js';
