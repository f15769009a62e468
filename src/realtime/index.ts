export { createRealtime } from './protocol.js';
export type { Realtime, RealtimeOptions } from './protocol.js';
export { createTokenVerifier } from './token-verifier.js';
export type { TokenVerifier, VerifiedClaims } from './token-verifier.js';
export { ERROR_CODES, encodeEnvelope, encodePublicationEnvelope, parseEnvelope } from './envelope.js';
export type { RealtimeProtocol, RealtimeSession } from './session.js';
export { TENANT_TOPIC_ACCESS } from './access.js';
export type { ClientAction, TopicAccess } from './access.js';
