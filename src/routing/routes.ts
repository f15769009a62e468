import type { GatewaySpec, IntegrationSpec, RealtimeIntegrationSpec, WebSocketRouteSpec } from '../config/index.js';
import { createBackend, type Backend, type BackendPools } from './backend.js';

/** A message handler: a backend to call, or the built-in realtime protocol. */
export type MessageTarget = { kind: 'backend'; backend: Backend } | { kind: 'realtime'; spec: RealtimeIntegrationSpec; forward?: Backend };

/** One WebSocket path of one gateway, with its integrations built once. */
export class Route {
  readonly connect: Backend | undefined;
  readonly disconnect: Backend | undefined;
  private readonly selection: string[] | undefined;
  private readonly byKey = new Map<string, MessageTarget>();
  private readonly fallback: MessageTarget | undefined;
  /** Set when the path speaks the realtime protocol (its fallback integration is `realtime`). */
  readonly realtime: Extract<MessageTarget, { kind: 'realtime' }> | undefined;

  constructor(
    readonly gatewayId: string,
    readonly spec: WebSocketRouteSpec,
    pools: BackendPools,
    maxResponseBytes: number,
  ) {
    const target = (integration: IntegrationSpec): MessageTarget =>
      integration.type === 'realtime'
        ? { kind: 'realtime', spec: integration, ...(integration.forward ? { forward: createBackend(integration.forward, pools, maxResponseBytes) } : {}) }
        : { kind: 'backend', backend: createBackend(integration, pools, maxResponseBytes) };
    this.connect = spec.connect ? createBackend(spec.connect, pools, maxResponseBytes) : undefined;
    this.disconnect = spec.disconnect ? createBackend(spec.disconnect, pools, maxResponseBytes) : undefined;
    this.selection = spec.message.selection;
    for (const [key, integration] of Object.entries(spec.message.routes)) this.byKey.set(key, target(integration));
    this.fallback = spec.message.fallback ? target(spec.message.fallback) : undefined;
    this.realtime = this.fallback?.kind === 'realtime' ? this.fallback : undefined;
  }

  /**
   * Picks the integration for one message. The frame is parsed as JSON only when the path
   * selects routes by a body property; a raw path never pays for a parse.
   */
  select(data: Buffer, binary: boolean): MessageTarget | undefined {
    if (this.selection === undefined || binary) return this.fallback;
    let value: unknown;
    try {
      value = JSON.parse(data.toString('utf8'));
    } catch {
      return this.fallback;
    }
    for (const property of this.selection) {
      if (value === null || typeof value !== 'object') return this.fallback;
      value = (value as Record<string, unknown>)[property];
    }
    if (typeof value !== 'string') return this.fallback;
    return this.byKey.get(value) ?? this.fallback;
  }
}

/** A backslash, or a C0 control character or DEL. */
// eslint-disable-next-line no-control-regex
const UNSAFE_IN_PARAMETER = /[\\\x00-\x1f\x7f]/;

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

interface TemplateRoute {
  route: Route;
  pattern: RegExp;
  names: string[];
}

/** Every WebSocket path of every gateway this node serves. Literal paths are one Map lookup. */
export class RouteTable {
  private readonly literal = new Map<string, Route>();
  private readonly templated: TemplateRoute[] = [];

  constructor(specs: GatewaySpec[], pools: BackendPools, maxResponseBytes: number) {
    const owner = new Map<string, string>();
    for (const spec of specs) {
      for (const routeSpec of spec.routes) {
        const shape = routeSpec.path.replace(/\{[^}]+\}/g, '{}');
        const previous = owner.get(shape);
        if (previous !== undefined) {
          throw new Error(`path ${routeSpec.path} of gateway ${spec.gatewayId} is also served by gateway ${previous}`);
        }
        owner.set(shape, spec.gatewayId);
        const route = new Route(spec.gatewayId, routeSpec, pools, maxResponseBytes);
        const names: string[] = [];
        if (!routeSpec.path.includes('{')) {
          this.literal.set(routeSpec.path, route);
          continue;
        }
        const source = routeSpec.path
          .split(/(\{[A-Za-z_][A-Za-z0-9_]*\})/)
          .map((part) => {
            const param = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(part);
            if (param) {
              names.push(param[1]!);
              return '([^/]+)';
            }
            return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          })
          .join('');
        this.templated.push({ route, pattern: new RegExp(`^${source}$`), names });
      }
    }
  }

  /** Matches a request path (without the query string). */
  match(pathname: string): RouteMatch | undefined {
    const route = this.literal.get(pathname);
    if (route !== undefined) return { route, params: {} };
    for (const candidate of this.templated) {
      const found = candidate.pattern.exec(pathname);
      if (found === null) continue;
      const params: Record<string, string> = {};
      let valid = true;
      candidate.names.forEach((name, i) => {
        try {
          const value = decodeURIComponent(found[i + 1]!);
          // "." and ".." would climb the backend URL's path once placed in it (URL parsers
          // resolve them even percent-encoded), so they name no resource here; nor does a
          // backslash (some servers read it as "/", so "\.." climbs too) or a control
          // character (NUL ends a string in C code behind a backend).
          if (value === '.' || value === '..' || UNSAFE_IN_PARAMETER.test(value)) valid = false;
          params[name] = value;
        } catch {
          valid = false;
        }
      });
      if (valid) return { route: candidate.route, params };
    }
    return undefined;
  }
}
