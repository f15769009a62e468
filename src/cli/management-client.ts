/** A thin client of the management API for operators' commands; errors keep the API's words. */

export class ApiError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly rpcCode: number | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class EndpointUnreachable extends Error {
  constructor(endpoint: string, cause: string) {
    super(`cannot reach the management API at ${endpoint}: ${cause}`);
    this.name = 'EndpointUnreachable';
  }
}

/** What the usual network failures mean to someone at the command line (the bare code tells little). */
const UNREACHABLE_PROBLEMS: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing listens there (is the gateway running? point --endpoint or SWITCHBOARD_ENDPOINT at its management listener)',
  ENOTFOUND: 'host not found; check the host in --endpoint or SWITCHBOARD_ENDPOINT',
  EAI_AGAIN: 'host not found; check the host in --endpoint or SWITCHBOARD_ENDPOINT',
  ETIMEDOUT: 'timed out: no answer',
  ECONNRESET: 'the connection was reset',
};

const RPC_NAMES: Record<number, string> = { 3: 'INVALID_ARGUMENT', 5: 'NOT_FOUND', 7: 'PERMISSION_DENIED', 8: 'RESOURCE_EXHAUSTED', 9: 'FAILED_PRECONDITION', 13: 'INTERNAL', 14: 'UNAVAILABLE', 16: 'UNAUTHENTICATED' };

export class ManagementClient {
  private readonly base: string;

  constructor(
    endpoint: string,
    private readonly apiKey: string | undefined,
  ) {
    this.base = endpoint.replace(/\/+$/, '');
  }

  /** A 401 says which flag or variable carries the key, since the message alone does not say where it should come from. */
  private keyHint(): string {
    return this.apiKey === undefined
      ? 'no API key was given: pass --api-key KEY or set SWITCHBOARD_API_KEY (a key the node was started with: its --api-key, SWITCHBOARD_API_KEYS or management.apiKeys)'
      : 'the node does not accept this key: check --api-key or SWITCHBOARD_API_KEY against the keys the node was started with (its --api-key, SWITCHBOARD_API_KEYS or management.apiKeys)';
  }

  async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = {};
    if (this.apiKey !== undefined) headers.authorization = `Bearer ${this.apiKey}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.base}/apigateways/websocket/v1${path}`, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const problem = cause?.code !== undefined ? UNREACHABLE_PROBLEMS[cause.code] : undefined;
      throw new EndpointUnreachable(this.base, problem ?? cause?.code ?? cause?.message ?? (err as Error).message);
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === '' ? {} : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const status = json as { code?: number; message?: string } | undefined;
      const code = typeof status?.code === 'number' ? status.code : undefined;
      const name = code === undefined ? `HTTP ${response.status}` : `${RPC_NAMES[code] ?? `code ${code}`} (HTTP ${response.status})`;
      const hint = response.status === 401 ? `; ${this.keyHint()}` : '';
      throw new ApiError(response.status, code, `${name}: ${status?.message ?? text}${hint}`);
    }
    return json;
  }
}

/** Path segment for a connection id, topic, user or tenant: colons stay readable, the rest is encoded. */
export function segment(value: string): string {
  return encodeURIComponent(value).replace(/%3A/gi, ':');
}
