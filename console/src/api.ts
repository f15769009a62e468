/**
 * The management API as the console calls it: same origin, every call with the key in
 * `Authorization: Bearer`. Failures keep the answer exactly as it came (status and body
 * text), so the console can show the API's own error rather than a paraphrase.
 */

export const V1 = '/apigateways/websocket/v1';

export interface Identity {
  sourceIp: string;
  userAgent: string;
}

/** A connection as `?view=FULL` returns it. */
export interface Connection {
  id: string;
  gatewayId: string;
  identity: Identity;
  connectedAt: string;
  lastActiveAt: string;
  tenantId?: string;
  userId?: string;
  subscriptions?: string[];
  isAlive?: boolean;
  lastPing?: string;
}

export interface ConnectionPage {
  connections: Connection[];
  nextPageToken: string;
}

export interface ConnectionFilter {
  gatewayId?: string;
  tenantId?: string;
  userId?: string;
  topic?: string;
}

export type PayloadType = 'TEXT' | 'BINARY';

export interface PublishResult {
  offset: number;
  epoch: string;
  delivered: number;
}

export interface Presence {
  connections: { connectionId: string; tenantId?: string; userId?: string }[];
  users: string[];
}

export interface NodeMetrics {
  nodeId: string;
  /** The Prometheus text exposition of that node's /metrics. */
  metrics: string;
}

export interface HistoryPublication {
  offset: number;
  data: string;
  type: PayloadType;
  publishedAt: string;
}

export interface History {
  offset: number;
  epoch: string;
  complete: boolean;
  publications: HistoryPublication[];
}

/** An answer other than 2xx, or no answer at all (status 0). */
export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly statusText: string,
    /** The response body exactly as received; for status 0, what the browser reported. */
    readonly body: string,
  ) {
    super(status === 0 ? `${method} ${path}: no answer (${body})` : `${method} ${path}: HTTP ${status}`);
    this.name = 'ApiError';
  }

  /** `message` of a google.rpc.Status body, when the body is one. */
  get rpcMessage(): string | undefined {
    try {
      const parsed = JSON.parse(this.body) as unknown;
      if (parsed !== null && typeof parsed === 'object' && typeof (parsed as { message?: unknown }).message === 'string') {
        return (parsed as { message: string }).message;
      }
    } catch {
      // not JSON: shown raw
    }
    return undefined;
  }
}

export class ManagementApi {
  constructor(
    private readonly key: string,
    /** Called on any 401 after sign-in: the key was revoked or the node restarted with others. */
    private readonly onUnauthenticated: (error: ApiError) => void = () => undefined,
  ) {}

  listConnections(filter: ConnectionFilter, pageSize: number, pageToken: string, signal?: AbortSignal): Promise<ConnectionPage> {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(filter)) if (value !== undefined && value !== '') query.set(name, value);
    query.set('pageSize', String(pageSize));
    if (pageToken !== '') query.set('pageToken', pageToken);
    query.set('view', 'FULL');
    return this.json('GET', `${V1}/connections?${query.toString()}`, undefined, signal);
  }

  getConnection(id: string, signal?: AbortSignal): Promise<Connection> {
    return this.json('GET', `${V1}/connections/${encodeURIComponent(id)}?view=FULL`, undefined, signal);
  }

  send(id: string, data: string, type: PayloadType): Promise<Record<string, never>> {
    return this.json('POST', `${V1}/connections/${encodeURIComponent(id)}:send`, { data, type });
  }

  disconnect(id: string): Promise<Record<string, never>> {
    return this.json('DELETE', `${V1}/connections/${encodeURIComponent(id)}`);
  }

  /** Every connection of the user on every node (of one tenant when given), closed with 4001. */
  disconnectUser(userId: string, tenantId?: string): Promise<{ disconnected: number }> {
    return this.json('POST', `${V1}/users/${encodeURIComponent(userId)}:disconnect`, tenantId ? { tenantId } : {});
  }

  publish(topic: string, data: string, type: PayloadType, idempotencyKey?: string): Promise<PublishResult> {
    return this.json('POST', `${V1}/topics/${encodeURIComponent(topic)}:publish`, { data, type, ...(idempotencyKey ? { idempotencyKey } : {}) });
  }

  presence(topic: string, signal?: AbortSignal): Promise<Presence> {
    return this.json('GET', `${V1}/topics/${encodeURIComponent(topic)}/presence`, undefined, signal);
  }

  history(topic: string, query: { sinceOffset?: number; limit?: number }, signal?: AbortSignal): Promise<History> {
    const params = new URLSearchParams();
    if (query.sinceOffset !== undefined) params.set('sinceOffset', String(query.sinceOffset));
    if (query.limit !== undefined) params.set('limit', String(query.limit));
    const suffix = params.toString() === '' ? '' : `?${params.toString()}`;
    return this.json('GET', `${V1}/topics/${encodeURIComponent(topic)}/history${suffix}`, undefined, signal);
  }

  /** Every live node's own Prometheus text (its /metrics), gathered by the serving node. */
  nodeMetrics(signal?: AbortSignal): Promise<{ nodes: NodeMetrics[] }> {
    return this.json('GET', `${V1}/nodes/metrics`, undefined, signal);
  }

  private async json<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const { text } = await this.call(method, path, body, signal);
    return (text === '' ? {} : JSON.parse(text)) as T;
  }

  private async call(method: string, path: string, body: unknown, signal: AbortSignal | undefined): Promise<{ text: string }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.key !== '') headers.authorization = `Bearer ${this.key}`;
    const init: RequestInit = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (signal !== undefined) init.signal = signal;
    let response: Response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ApiError(method, path, 0, '', err instanceof Error ? err.message : String(err));
    }
    const text = await response.text();
    if (!response.ok) {
      const error = new ApiError(method, path, response.status, response.statusText, text);
      if (response.status === 401) this.onUnauthenticated(error);
      throw error;
    }
    return { text };
  }
}

export function isAbort(err: unknown): boolean {
  return err instanceof DOMException && err.name === 'AbortError';
}
