/** Who asks to act on a topic, and the refusal the permission rules answer with. */
import { PermissionDenied } from '../errors/index.js';

/** Who asks: a realtime connection, as its record and token describe it. */
export interface TopicIdentity {
  readonly connectionId: string;
  readonly tenantId?: string | undefined;
  readonly userId?: string | undefined;
  /** The verified token's claims set; absent on paths without auth.jwt. */
  readonly claims?: Readonly<Record<string, unknown>> | undefined;
  /** The identity headers every backend call carries; built only when an authorize backend is asked. */
  backendHeaders?(): Record<string, string>;
}

/** A client action the rules refuse: the `error` envelope's code is `FORBIDDEN`. */
export class TopicForbidden extends PermissionDenied {}
