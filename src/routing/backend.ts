import { Pool } from 'undici';
import type { BackendIntegrationSpec, CircuitBreakerSetting, DummyIntegrationSpec, HttpIntegrationSpec } from '../config/index.js';
import { CircuitBreaker, type CircuitState } from './circuit-breaker.js';

/** AUTHORIZE: a topic's authorize integration asked whether a client may act on the topic. */
export type EventType = 'CONNECT' | 'MESSAGE' | 'DISCONNECT' | 'AUTHORIZE';

export interface BackendRequest {
  eventType: EventType;
  /** Switchboard's headers plus, on CONNECT, the client's own. Lower-case names. */
  headers: Record<string, string>;
  body?: Buffer;
  contentType?: string;
  pathParams: Record<string, string>;
  /** The client's query string without '?', forwarded on CONNECT. */
  query?: string;
  /**
   * What the caller will wait at most (the handshake timeout on CONNECT): a remote backend cuts
   * the call there itself (504), even when the integration's read timeout is longer, so the
   * breaker counts it as the timeout it is and the caller needs no timer of its own.
   */
  timeoutMs?: number;
}

export interface BackendResponse {
  status: number;
  /** Lower-case names, repeated ones joined with ", ". */
  readonly headers: Record<string, string>;
  /**
   * The `content-type` header, when the backend read it apart from the others (an http
   * backend does, and builds `headers` only when they are read): see contentTypeOf.
   */
  readonly contentType?: string | undefined;
  body: Buffer;
}

/** A backend answer's content type, without building its header object when it was read apart. */
export function contentTypeOf(response: BackendResponse): string | undefined {
  return 'contentType' in response ? response.contentType : response.headers['content-type'];
}

/** A backend that could not be asked: down (502), behind an open circuit breaker (503) or too slow (504). */
export class BackendFailure extends Error {
  constructor(
    readonly status: 502 | 503 | 504,
    message: string,
    /** Set when the breaker is open: when a call may go again. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'BackendFailure';
  }
}

export interface Backend {
  /** False for answers made in process (dummy): callers skip building headers and timing them. */
  readonly remote: boolean;
  call(request: BackendRequest): Promise<BackendResponse>;
  /** The answer at once, for backends whose answer does not depend on the request (dummy). */
  fixedAnswer?(): BackendResponse;
}

const EMPTY = Buffer.alloc(0);

export class DummyBackend implements Backend {
  readonly remote = false;
  private readonly response: BackendResponse;
  constructor(spec: DummyIntegrationSpec) {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(spec.httpHeaders)) headers[name.toLowerCase()] = value;
    // A fixed answer written in a spec is text unless the spec says otherwise.
    headers['content-type'] ??= 'text/plain; charset=utf-8';
    this.response = { status: spec.httpCode, headers, body: spec.content === '' ? EMPTY : Buffer.from(spec.content) };
  }
  call(): Promise<BackendResponse> {
    return Promise.resolve(this.response);
  }
  fixedAnswer(): BackendResponse {
    return this.response;
  }
}

/**
 * Client headers never forwarded. Hop-by-hop and framing headers (RFC 9110 §7.6.1) belong to
 * the client's own connection; `expect` and the others undici refuses to send would fail the
 * call before it leaves (and a failure a client can cause must not look like the backend's);
 * `sec-websocket-*` is the client's handshake with the gateway, not with the backend.
 */
const NOT_FORWARDED = new Set([
  'connection', 'upgrade', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'expect', 'host',
  'content-length', 'content-type', 'forwarded', 'x-real-ip', 'x-http-method-override',
]);
/**
 * Name prefixes the gateway owns: its own identity and event headers (`x-switchboard-*`,
 * `x-yc-apigateway-*`), the proxy chain (`x-forwarded-*`: X-Forwarded-For is the gateway's,
 * built from the trusted-proxies setting), and proxy and WebSocket handshake headers. A client
 * that sends one would forge what a backend trusts.
 */
const NOT_FORWARDED_PREFIXES = ['x-switchboard-', 'x-yc-apigateway-', 'x-forwarded-', 'proxy-', 'sec-websocket-'];

/** Whether a client header (lower-case name) may reach a backend. */
export function isForwardable(name: string): boolean {
  if (NOT_FORWARDED.has(name)) return false;
  for (const prefix of NOT_FORWARDED_PREFIXES) if (name.startsWith(prefix)) return false;
  return true;
}

/** Headers of the client worth forwarding to a backend on CONNECT (names as Node gives them: lower case). */
export function forwardableHeaders(raw: NodeJS.Dict<string | string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in raw) {
    if (!isForwardable(name)) continue;
    const value = raw[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export interface BackendPoolsOptions {
  /** Default: 5 consecutive failures, 10 s cool-down. A threshold of 0 turns breakers off. */
  circuitBreaker?: CircuitBreakerSetting;
  /** Monotonic milliseconds, for the breakers' cool-downs. */
  now?: () => number;
  onCircuitChange?: (origin: string, state: CircuitState, failures: number) => void;
}

/** The keep-alive pools and circuit breakers of one node, per backend origin. */
export class BackendPools {
  private readonly pools = new Map<string, Pool>();
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly options: BackendPoolsOptions = {}) {}

  /** The origin's breaker; undefined when breakers are off. */
  breaker(origin: string): CircuitBreaker | undefined {
    const setting = this.options.circuitBreaker ?? { failureThreshold: 5, cooldownSeconds: 10 };
    if (setting.failureThreshold === 0) return undefined;
    let breaker = this.breakers.get(origin);
    if (breaker === undefined) {
      const onChange = this.options.onCircuitChange;
      breaker = new CircuitBreaker(origin, { ...setting, now: this.options.now ?? (() => performance.now()), ...(onChange ? { onChange } : {}) });
      this.breakers.set(origin, breaker);
    }
    return breaker;
  }

  /** Every breaker's state, for metrics. */
  *circuits(): Iterable<[string, CircuitState]> {
    for (const [origin, breaker] of this.breakers) yield [origin, breaker.current];
  }

  pool(origin: string, connectMs: number): Pool {
    const key = `${origin}|${connectMs}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new Pool(origin, { connections: 128, connect: { timeout: connectMs }, keepAliveTimeout: 30_000, pipelining: 1 });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /**
   * Called once the edge has waited for what it means to wait for (drain's bounded disconnects):
   * calls still in flight are aborted, since a graceful close would wait out their read timeouts.
   */
  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((pool) => pool.destroy()));
  }
}

export class HttpBackend implements Backend {
  readonly remote = true;
  private readonly urlTemplate: string;
  private readonly hasPlaceholders: boolean;
  /** The spec forbids placeholders in the authority: every call goes to this one origin. */
  private readonly origin: string;
  /** The request target when the URL has no placeholders: read once, not per call. */
  private readonly fixedTarget: string | undefined;
  /** The spec's own headers, names lower-cased once (the last of a name repeated in other cases). */
  private readonly specHeaders: [string, string][];
  /** Their names; undefined when the spec sets none. */
  private readonly specHeaderNames: ReadonlySet<string> | undefined;
  /** Query parameter names the integration URL sets itself (lower case); undefined when it sets none. */
  private readonly ownQueryNames: ReadonlySet<string> | undefined;
  private readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  private pool: Pool | undefined;
  private breakerOf: CircuitBreaker | undefined | null = null;

  constructor(
    private readonly spec: HttpIntegrationSpec,
    private readonly pools: BackendPools,
    private readonly maxResponseBytes: number,
  ) {
    this.urlTemplate = spec.url;
    this.hasPlaceholders = spec.url.includes('{');
    this.origin = new URL(spec.url.replace(/\{[^{}]*\}/g, 'p')).origin;
    if (!this.hasPlaceholders) {
      const url = new URL(spec.url);
      this.fixedTarget = url.pathname + url.search;
    }
    const query = spec.url.indexOf('?');
    this.ownQueryNames = query < 0 ? undefined : new Set(spec.url.slice(query + 1).split('#')[0]!.split('&').map(parameterName));
    const specHeaders = new Map<string, string>();
    for (const [name, value] of Object.entries(spec.headers)) specHeaders.set(name.toLowerCase(), value);
    this.specHeaders = [...specHeaders];
    this.specHeaderNames = specHeaders.size === 0 ? undefined : new Set(specHeaders.keys());
    this.method = spec.method as 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  }

  call(request: BackendRequest): Promise<BackendResponse> {
    // Whatever goes wrong before the request leaves is the returned promise's rejection, as
    // from an async function: callers chain on it without a try around the call.
    try {
      return this.send(request);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The request target (path and query) of this call. */
  private target(request: BackendRequest): string {
    if (this.fixedTarget !== undefined && !request.query) return this.fixedTarget;
    const url = new URL(this.hasPlaceholders ? fillPlaceholders(this.urlTemplate, request.pathParams) : this.urlTemplate);
    if (request.query) {
      const query = this.ownQueryNames === undefined ? request.query : withoutParameters(request.query, this.ownQueryNames);
      if (query !== '') url.search = url.search ? `${url.search}&${query}` : `?${query}`;
    }
    return url.pathname + url.search;
  }

  /**
   * The call's headers as undici's flat `[name, value, …]` list, which it reads as it is: no
   * merged copy of the caller's object. The spec's headers win over the caller's, the
   * request's content type over both, each name sent once.
   */
  private headerList(request: BackendRequest): string[] {
    const list: string[] = [];
    const given = request.headers;
    const contentType = request.contentType;
    const overridden = this.specHeaderNames;
    if (overridden === undefined && contentType === undefined) {
      for (const name in given) list.push(name, given[name]!);
      return list;
    }
    for (const name in given) {
      if (overridden?.has(name) === true || (contentType !== undefined && name === 'content-type')) continue;
      list.push(name, given[name]!);
    }
    const specHeaders = this.specHeaders;
    for (let i = 0; i < specHeaders.length; i++) {
      const [name, value] = specHeaders[i]!;
      if (contentType === undefined || name !== 'content-type') list.push(name, value);
    }
    if (contentType !== undefined) list.push('content-type', contentType);
    return list;
  }

  private send(request: BackendRequest): Promise<BackendResponse> {
    const path = this.target(request);
    const headers = this.headerList(request);
    const method = this.method;
    const sendsBody = method !== 'GET' && request.body !== undefined;
    const origin = this.origin;
    // The breaker of an origin lives as long as the pools: looked up once.
    if (this.breakerOf === null) this.breakerOf = this.pools.breaker(origin);
    const breaker = this.breakerOf;
    const waitMs = breaker?.admit();
    if (waitMs !== undefined) {
      throw new BackendFailure(
        503,
        `backend ${origin} is unavailable: its circuit breaker is open after ${breaker!.consecutiveFailures} consecutive failures; next attempt in ${Math.ceil(waitMs / 1000)} s`,
        waitMs,
      );
    }
    // A pool destroyed by BackendPools.close() is asked for again, as every call used to.
    let pool = this.pool;
    if (pool === undefined || pool.destroyed) pool = this.pool = this.pools.pool(origin, this.spec.timeouts.connectMs);
    return new Promise<BackendResponse>((resolve, reject) => {
      const call = new BackendCall(origin, breaker, this.maxResponseBytes, resolve, reject);
      const readMs = this.spec.timeouts.readMs;
      // undici checks its own timeouts coarsely (about once a second); the caller's deadline is
      // kept to the millisecond, whatever the read timeout, so the call never outlives it and
      // the breaker counts the timeout when the client hears of it.
      if (request.timeoutMs !== undefined) call.deadline(Math.max(1, request.timeoutMs));
      pool.dispatch({ path, method, headers, body: sendsBody ? request.body! : null, headersTimeout: readMs, bodyTimeout: readMs }, call);
    });
  }
}

/**
 * One call's undici handler: the answer is gathered straight from the parser's callbacks,
 * without the stream, async iterator and header object `Pool.request` makes per response.
 * Breaker bookkeeping as before: transport errors, timeouts and 502/503/504 count as failures,
 * an answer too large does not.
 */
class BackendCall {
  private abortCall: ((err?: Error) => void) | undefined;
  private abortReason: Error | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** When undici gave the call a connection (performance.now()). */
  private connectedAt = 0;
  /** Settled at its deadline, uncharged, before the backend had the time (expiredWaiting). */
  private expired = false;
  private status = 0;
  private rawHeaders: Buffer[] = [];
  private chunks: Buffer[] = [];
  private size = 0;
  private done = false;

  constructor(
    private readonly origin: string,
    private readonly breaker: CircuitBreaker | undefined,
    private readonly maxResponseBytes: number,
    private readonly resolve: (response: BackendResponse) => void,
    private readonly reject: (err: BackendFailure) => void,
  ) {}

  deadline(ms: number): void {
    const dispatchedAt = performance.now();
    this.timer = setTimeout(() => {
      const now = performance.now();
      // The backend had less than half the time (the rest went waiting for one of the pool's
      // connections): not its timeout, see expiredWaiting.
      if (this.abortCall === undefined || now - this.connectedAt < ms / 2) return this.expiredWaiting(ms, Math.round(this.abortCall === undefined ? now - dispatchedAt : this.connectedAt - dispatchedAt));
      const err = new Error(`backend ${this.origin} did not answer within ${ms} ms`);
      err.name = 'TimeoutError';
      this.abort(err);
    }, ms);
  }

  /**
   * The deadline passed while the call spent most of it waiting for one of the pool's
   * connections: the backend is not charged (clients asking for more calls at once than the
   * pool holds would otherwise open its breaker for everyone), and the caller hears now rather
   * than when a connection comes free. undici drops the call (at once, or when it gets one).
   */
  private expiredWaiting(ms: number, waitedMs: number): void {
    const err = new BackendFailure(504, `backend ${this.origin} did not answer within ${ms} ms, ${waitedMs} ms of them waiting for a free connection to it (all busy with other calls)`);
    if (this.finish()) return;
    this.expired = true;
    this.breaker?.released();
    this.reject(err);
    this.abort(err);
  }

  private abort(err: Error): void {
    if (this.abortCall !== undefined) this.abortCall(err);
    else this.abortReason = err;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.connectedAt = performance.now();
    if (this.abortReason !== undefined) abort(this.abortReason);
    else this.abortCall = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    // 1xx answers are informational: the real one follows.
    if (statusCode < 200) return true;
    this.status = statusCode;
    this.rawHeaders = rawHeaders;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.size += chunk.length;
    if (this.size > this.maxResponseBytes) {
      this.abort(new BackendFailure(502, `backend response is larger than ${this.maxResponseBytes} bytes`));
      return false;
    }
    this.chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.finish()) return;
    // Gateway failures (as a proxy in front of the backend answers them) count; any other answer
    // shows the backend alive, 4xx and 500 included.
    const status = this.status;
    if (status === 502 || status === 503 || status === 504) this.breaker?.failed();
    else this.breaker?.succeeded();
    const chunks = this.chunks;
    const body = chunks.length === 1 ? chunks[0]! : chunks.length === 0 ? EMPTY : Buffer.concat(chunks, this.size);
    this.resolve(new HttpAnswer(status, this.rawHeaders, body));
  }

  onError(err: Error): void {
    if (this.finish()) {
      // Expired while its connection was still being made: how that connection ends (refused,
      // timed out) is still the backend's to answer for; our own abort (a BackendFailure) is not.
      if (this.expired && !(err instanceof BackendFailure)) charged(this.breaker, err, this.origin);
      return;
    }
    // An answer too large is the backend's mistake, not its absence: the breaker stays shut.
    if (err instanceof BackendFailure) {
      this.breaker?.succeeded();
      this.reject(err);
      return;
    }
    this.reject(charged(this.breaker, err, this.origin));
  }

  /** True when the call was already settled. */
  private finish(): boolean {
    if (this.done) return true;
    this.done = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    return false;
  }
}

/**
 * An http backend's answer. Callers read the content type and seldom anything else, so it is
 * read from the raw headers alone and the header object is built when first asked for.
 */
class HttpAnswer implements BackendResponse {
  readonly contentType: string | undefined;
  private decoded: Record<string, string> | undefined;

  constructor(
    public status: number,
    private readonly rawHeaders: Buffer[],
    public body: Buffer,
  ) {
    this.contentType = contentTypeIn(rawHeaders);
  }

  get headers(): Record<string, string> {
    return (this.decoded ??= headersOf(this.rawHeaders));
  }
}

const CONTENT_TYPE_LENGTH = 'content-type'.length;

/** The content-type of raw response headers (repeated ones joined with ", ", as headersOf does). */
function contentTypeIn(raw: Buffer[]): string | undefined {
  let found: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== CONTENT_TYPE_LENGTH || name.toString('latin1').toLowerCase() !== 'content-type') continue;
    const value = raw[i + 1]!.toString('latin1');
    found = found === undefined ? value : `${found}, ${value}`;
  }
  return found;
}

/** Response headers as one lower-case name each, repeated ones joined with ", ". */
function headersOf(raw: Buffer[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    if (name === '__proto__') continue;
    const value = raw[i + 1]!.toString('latin1');
    const seen = out[name];
    out[name] = seen === undefined ? value : `${seen}, ${value}`;
  }
  return out;
}

/** The decoded, lower-cased name of one `name=value` piece of a query string. */
function parameterName(piece: string): string {
  const equals = piece.indexOf('=');
  const raw = (equals < 0 ? piece : piece.slice(0, equals)).replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw).toLowerCase();
  } catch {
    return raw.toLowerCase();
  }
}

/**
 * The client's query without the parameters the integration URL sets: backends disagree on
 * which of two values wins, so a client could otherwise override what the operator wrote.
 */
function withoutParameters(query: string, names: ReadonlySet<string>): string {
  return query
    .split('&')
    .filter((piece) => piece !== '' && !names.has(parameterName(piece)))
    .join('&');
}

function fillPlaceholders(template: string, params: Record<string, string>): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
}

/**
 * Error codes that say the backend could not be reached or did not answer in time: refused,
 * reset, unreachable, DNS, TLS (certificate or handshake), a socket closed mid-answer, an
 * answer that is not HTTP. Only these (and timeouts) open a breaker: anything else undici
 * throws is a request it refused to build or a call the node itself cut, which a client
 * could otherwise cause on purpose to shut a backend off for everyone.
 */
const UNREACHABLE = /^(E[A-Z]+|UND_ERR_SOCKET|HPE_[A-Z_]+|ERR_TLS_[A-Z_]+|ERR_SSL_[A-Z_]+|[A-Z_]*CERT[A-Z_]*|[A-Z_]*SELF_SIGNED[A-Z_]*|UNABLE_TO_[A-Z_]+)$/;
const TIMEOUTS = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** The failure a caller sees, charged to the origin's breaker only when the backend is to blame. */
function charged(breaker: CircuitBreaker | undefined, err: unknown, origin: string): BackendFailure {
  const code = (err as { code?: unknown }).code;
  const codeText = typeof code === 'string' ? code : '';
  if ((err as Error).name === 'TimeoutError' || TIMEOUTS.has(codeText)) {
    breaker?.failed();
    return new BackendFailure(504, `backend ${origin} timed out`);
  }
  if (UNREACHABLE.test(codeText)) {
    breaker?.failed();
    return new BackendFailure(502, `backend ${origin} unavailable (${codeText})`);
  }
  breaker?.released();
  const detail = codeText || (err as Error).name || 'error';
  return new BackendFailure(502, `request to backend ${origin} could not be sent (${detail}): ${(err as Error).message}`);
}


export function createBackend(spec: BackendIntegrationSpec, pools: BackendPools, maxResponseBytes: number): Backend {
  return spec.type === 'http' ? new HttpBackend(spec, pools, maxResponseBytes) : new DummyBackend(spec);
}
