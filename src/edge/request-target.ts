/** What the handshake reads of a request target: the path to route on and the query. */
export interface RequestTarget {
  readonly pathname: string;
  /** `?…` or empty, as WHATWG URL gives it. */
  readonly search: string;
  readonly searchParams: URLSearchParams;
}

/**
 * Targets whose WHATWG URL form is the text itself: segments of unreserved characters that do
 * not start with a dot (so no `.`/`..` to resolve), and a query of characters URL leaves
 * alone. Most handshakes look like this; parsing them needs no URL object.
 */
const PLAIN_TARGET = /^((?:\/(?:[A-Za-z0-9_~-][A-Za-z0-9._~-]*)?)+)(\?[A-Za-z0-9._~%=&+,;:@/!$*()-]*)?$/;

class PlainTarget implements RequestTarget {
  private params: URLSearchParams | undefined = undefined;
  constructor(
    readonly pathname: string,
    readonly search: string,
  ) {}
  get searchParams(): URLSearchParams {
    return (this.params ??= new URLSearchParams(this.search));
  }
}

/** The origin-form target of a request (RFC 9112 §3.2.1), or undefined when it is not one. */
export function parseRequestTarget(target: string | undefined): RequestTarget | undefined {
  if (target === undefined || target.charCodeAt(0) !== 0x2f /* / */) return undefined;
  const plain = PLAIN_TARGET.exec(target);
  if (plain !== null) {
    const search = plain[2] ?? '';
    return new PlainTarget(plain[1]!, search === '?' ? '' : search);
  }
  try {
    // Appended to an origin, not resolved against one: `//host/x` is a path here, not a
    // network-path reference naming another host.
    return new URL(`http://switchboard.invalid${target}`);
  } catch {
    return undefined;
  }
}

/** Query parameters that say who the client is; `name` is how the gateway reads them. */
const IDENTITY_PARAMETERS = ['tenantId', 'userId', 'token'] as const;
/** A query that may name one of them: a literal name (any case) or something percent-encoded. */
const MAY_NAME_IDENTITY = /tenantid|userid|token|%/i;

/**
 * An identity parameter the query holds more than once (names compared without case, after
 * decoding), else undefined. The gateway reads the first; a backend may read the last, or
 * either without regard to case: refused, so both always agree on who the client is.
 */
export function repeatedIdentityParameter(target: RequestTarget): string | undefined {
  if (target.search === '' || !MAY_NAME_IDENTITY.test(target.search)) return undefined;
  let seen = 0;
  for (const key of target.searchParams.keys()) {
    if (key.length < 5 || key.length > 8) continue;
    const lower = key.toLowerCase();
    for (let i = 0; i < IDENTITY_PARAMETERS.length; i++) {
      if (lower !== IDENTITY_PARAMETERS[i]!.toLowerCase()) continue;
      if (seen & (1 << i)) return IDENTITY_PARAMETERS[i];
      seen |= 1 << i;
    }
  }
  return undefined;
}
