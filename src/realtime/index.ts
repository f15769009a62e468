export { createRealtime } from './protocol.js';
export type { Realtime, RealtimeOptions } from './protocol.js';
export { createTokenVerifier } from './token-verifier.js';
export type { TokenVerifier, VerifiedClaims } from './token-verifier.js';
export { ERROR_CODES, encodeEnvelope, encodePublicationEnvelope, parseEnvelope } from './envelope.js';
export { createTopicPermissions, TopicForbidden } from './permissions.js';
export type { TopicAction, TopicIdentity, TopicPermissions, TopicPermissionsOptions } from './permissions.js';
export { TokenLifetimes } from './token-lifetime.js';
