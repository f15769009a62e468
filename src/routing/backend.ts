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
   * What the caller will wait at most (the handshake timeout on CONNECT): the call is cut there
   * even when the integration's read timeout is longer, so the breaker counts it as the timeout it is.
   */
  timeoutMs?: number;
}

export interface BackendResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
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

const HOP_BY_HOP = new Set([
  'connection', 'upgrade', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'proxy-authorization',
  'proxy-connection', 'host', 'content-length', 'content-type',
  'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'sec-websocket-protocol',
]);

/** Headers of the client worth forwarding to a backend on CONNECT. */
export function forwardableHeaders(raw: NodeJS.Dict<string | string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name in raw) {
    if (HOP_BY_HOP.has(name)) continue;
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

  constructor(
    private readonly spec: HttpIntegrationSpec,
    private readonly pools: BackendPools,
    private readonly maxResponseBytes: number,
  ) {
    this.urlTemplate = spec.url;
    this.hasPlaceholders = spec.url.includes('{');
  }

  async call(request: BackendRequest): Promise<BackendResponse> {
    const url = new URL(this.hasPlaceholders ? fillPlaceholders(this.urlTemplate, request.pathParams) : this.urlTemplate);
    if (request.query) url.search = url.search ? `${url.search}&${request.query}` : `?${request.query}`;
    const headers: Record<string, string> = { ...request.headers };
    for (const [name, value] of Object.entries(this.spec.headers)) headers[name.toLowerCase()] = value;
    if (request.contentType !== undefined) headers['content-type'] = request.contentType;
    const method = this.spec.method as 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
    const sendsBody = method !== 'GET' && request.body !== undefined;
    const breaker = this.pools.breaker(url.origin);
    const waitMs = breaker?.admit();
    if (waitMs !== undefined) {
      throw new BackendFailure(
        503,
        `backend ${url.origin} is unavailable: its circuit breaker is open after ${breaker!.consecutiveFailures} consecutive failures; next attempt in ${Math.ceil(waitMs / 1000)} s`,
        waitMs,
      );
    }
    const readMs = this.spec.timeouts.readMs;
    // undici checks its own timeouts coarsely (about once a second); the caller's deadline is
    // kept to the millisecond so the breaker counts the timeout when the client hears of it.
    const deadline = request.timeoutMs !== undefined && request.timeoutMs < readMs ? AbortSignal.timeout(Math.max(1, request.timeoutMs)) : undefined;
    let response;
    try {
      response = await this.pools.pool(url.origin, this.spec.timeouts.connectMs).request({
        path: url.pathname + url.search,
        method,
        headers,
        body: sendsBody ? request.body : null,
        headersTimeout: readMs,
        bodyTimeout: readMs,
        ...(deadline ? { signal: deadline } : {}),
      });
    } catch (err) {
      breaker?.failed();
      throw classify(err, url.origin);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > this.maxResponseBytes) {
          response.body.destroy();
          // An answer too large is the backend's mistake, not its absence: the breaker stays shut.
          breaker?.succeeded();
          throw new BackendFailure(502, `backend response is larger than ${this.maxResponseBytes} bytes`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (err instanceof BackendFailure) throw err;
      breaker?.failed();
      throw classify(err, url.origin);
    }
    // Gateway failures (as a proxy in front of the backend answers them) count; any other answer
    // shows the backend alive, 4xx and 500 included.
    if (response.statusCode === 502 || response.statusCode === 503 || response.statusCode === 504) breaker?.failed();
    else breaker?.succeeded();
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(response.headers)) {
      if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { status: response.statusCode, headers: out, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) };
  }
}

function fillPlaceholders(template: string, params: Record<string, string>): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
}

function classify(err: unknown, origin: string): BackendFailure {
  const code = (err as { code?: string }).code ?? '';
  if ((err as Error).name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new BackendFailure(504, `backend ${origin} timed out`);
  }
  return new BackendFailure(502, `backend ${origin} unavailable${code ? ` (${code})` : ''}`);
}

export function createBackend(spec: BackendIntegrationSpec, pools: BackendPools, maxResponseBytes: number): Backend {
  return spec.type === 'http' ? new HttpBackend(spec, pools, maxResponseBytes) : new DummyBackend(spec);
}
