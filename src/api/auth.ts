import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKeySetting, Scope } from '../config/index.js';
import { PermissionDenied, Unauthenticated } from '../errors/index.js';
import type { AuthFailureGate } from './auth-failures.js';

export interface Caller {
  scopes: ReadonlySet<Scope>;
  /** Set for a tenant-bound key: the caller reaches only this tenant. */
  tenantId: string | undefined;
  /** Which configured key this is (a digest prefix, safe to log); absent when no key is configured. */
  keyId?: string;
}

/** Charges a caller for one request; throws RateLimited when its budget is spent. */
export interface CallerBudget {
  charge(caller: Caller): void;
}

const EVERYTHING: Caller = { scopes: new Set<Scope>(['read', 'write', 'broadcast']), tenantId: undefined };

interface StoredKey {
  digest: Buffer;
  caller: Caller;
}

/**
 * API keys are compared as SHA-256 digests with timingSafeEqual, over every configured key,
 * so neither the key's content nor which key matched shows in the response time.
 */
export class ApiKeyAuthenticator {
  private readonly keys: StoredKey[];

  constructor(
    keys: ApiKeySetting[],
    private readonly budget?: CallerBudget,
    private readonly failures?: AuthFailureGate,
  ) {
    this.keys = keys.map((key) => ({
      digest: digest(key.key),
      caller: { scopes: new Set(key.scopes), tenantId: key.tenantId, keyId: keyIdOf(key.key) },
    }));
  }

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /** The caller behind an Authorization header; with no key configured everyone may do everything. */
  authenticate(header: string | undefined): Caller {
    if (!this.enabled) return EVERYTHING;
    const presented = parseAuthorization(header);
    if (presented === undefined) throw new Unauthenticated('missing API key: send "Authorization: Bearer <key>" or "Authorization: Api-Key <key>"');
    const candidate = digest(presented);
    let found: Caller | undefined;
    for (const key of this.keys) {
      if (timingSafeEqual(key.digest, candidate) && found === undefined) found = key.caller;
    }
    if (found === undefined) throw new Unauthenticated('API key is not valid');
    return found;
  }

  /**
   * What every request does first: refuse an address cooling down after failed attempts,
   * authenticate, then charge the key's rate limit. A wrong key counts as a failure of
   * `address`; a missing one does not (it guesses nothing).
   */
  admit(header: string | undefined, address?: string): Caller {
    if (!this.enabled) return this.charged(EVERYTHING);
    this.failures?.admit(address);
    let caller: Caller;
    try {
      caller = this.authenticate(header);
    } catch (err) {
      if (header !== undefined) this.failures?.failed(address);
      throw err;
    }
    return this.charged(caller);
  }

  private charged(caller: Caller): Caller {
    this.budget?.charge(caller);
    return caller;
  }
}

/** A key's name in logs and rate-limit state: never the key, only a prefix of its SHA-256. */
export function keyIdOf(key: string): string {
  return digest(key).toString('hex').slice(0, 16);
}

export function requireScope(caller: Caller, scope: Scope): void {
  if (!caller.scopes.has(scope)) throw new PermissionDenied(`this API key lacks the "${scope}" scope`);
}

function parseAuthorization(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^(Bearer|Api-Key)\s+(\S+)\s*$/i.exec(header);
  return match?.[2];
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
