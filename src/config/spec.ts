/**
 * Gateway specs: OpenAPI 3 documents in the format of the seeds' product, whose WebSocket
 * paths carry `x-yc-apigateway-websocket-{connect,message,disconnect}` operations, plus
 * Switchboard's extensions (`x-switchboard`, route selection, the `realtime` integration).
 * Everything else in the document (HTTP paths, components, descriptions) is ignored.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors/index.js';
import { childPath, closeKey, describeValue, FieldReader, isMapping, parseYamlText, readConfigText, readOrigins, type YamlMapping } from './yaml-fields.js';
import type {
  BackendIntegrationSpec,
  DummyIntegrationSpec,
  GatewaySpec,
  HttpIntegrationSpec,
  IntegrationSpec,
  MessageRoutingSpec,
  WebSocketRouteSpec,
} from './types.js';

const CONNECT = 'x-yc-apigateway-websocket-connect';
const MESSAGE = 'x-yc-apigateway-websocket-message';
const DISCONNECT = 'x-yc-apigateway-websocket-disconnect';
const OPERATIONS: readonly string[] = [CONNECT, MESSAGE, DISCONNECT];
const WEBSOCKET_PREFIX = 'x-yc-apigateway-websocket-';
const INTEGRATION = 'x-yc-apigateway-integration';
const ROUTES = 'x-switchboard-routes';
const ROUTE_SELECTION = 'x-switchboard-route-selection';
const SWITCHBOARD = 'x-switchboard';
const ALLOWED_ORIGINS = 'x-switchboard-allowed-origins';

const SELECTION_PREFIX = '$request.body.';
const SELECTION_PROPERTY = /^[A-Za-z0-9_$-]+$/;
const PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const GATEWAY_ID = /^[A-Za-z0-9._-]{1,50}$/;
/** RFC 9110 token: what a header name may be made of. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Backend timeouts stay far below Node's timer limit (2^31-1 ms). */
const MAX_TIMEOUT_SECONDS = 86_400;
const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/**
 * Where an integration sits decides which types it may have: `realtime` owns a whole
 * path's message stream, so it is allowed only as the message operation's own integration.
 */
type IntegrationPlace = 'connect' | 'disconnect' | 'message' | 'route' | 'forward';
const REALTIME_ELSEWHERE: Record<Exclude<IntegrationPlace, 'message'>, string> = {
  connect: `is allowed only on ${MESSAGE}`,
  disconnect: `is allowed only on ${MESSAGE}`,
  route: `cannot be a route: put it directly on ${MESSAGE}`,
  forward: 'cannot forward to itself',
};

/** A stable id for a spec without `x-switchboard.gatewayId`: the same title gives the same id on every start. */
function deriveGatewayId(title: string): string {
  const slug =
    title
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 41) // 41 + '-' + 8 hex digits = 50, the longest id allowed
      .replace(/-+$/, '') || 'gateway';
  const digest = createHash('sha256').update(title, 'utf8').digest('hex').slice(0, 8);
  return `${slug}-${digest}`;
}

/** The parameter names of a path template such as `/chat/{room}`. */
function pathParameters(template: string, fail: (problem: string) => never): string[] {
  if (!template.startsWith('/')) fail(`a WebSocket path must start with "/", got ${describeValue(template)}`);
  if (/[?#\s]/.test(template)) fail('a path template must not hold a query, a fragment or spaces');
  // Two parameters side by side could split the segment anywhere.
  if (template.includes('}{')) fail('two parameters must not touch (e.g. {a}{b}): nothing could tell where one ends');
  const names: string[] = [];
  for (const [, name] of template.matchAll(/\{([^{}]*)\}/g)) {
    if (name === undefined || !PARAMETER_NAME.test(name)) {
      fail(`parameter {${name ?? ''}} must be a name of letters, digits and "_", not starting with a digit`);
    }
    if (names.includes(name)) fail(`parameter {${name}} appears twice`);
    names.push(name);
  }
  if (/[{}]/.test(template.replace(/\{[^{}]*\}/g, ''))) fail('has an unbalanced "{" or "}"');
  return names;
}

class GatewaySpecReader {
  private readonly fields: FieldReader;

  constructor(private readonly source: string) {
    this.fields = new FieldReader(source);
  }

  read(document: unknown): GatewaySpec {
    const f: FieldReader = this.fields;
    if (document === null || document === undefined) f.fail('', 'is empty: expected an OpenAPI 3 document');
    if (!isMapping(document)) f.fail('', `must be an OpenAPI 3 document (a mapping), got ${describeValue(document)}`);

    const version = document.openapi;
    if ((version === undefined || version === null) && document.swagger !== undefined) {
      f.fail('swagger', `is Swagger ${describeValue(document.swagger)} (OpenAPI 2): a gateway spec is OpenAPI 3; convert it (e.g. with swagger2openapi) and give "openapi: 3.0.0"`);
    }
    const versionIsThree =
      (typeof version === 'string' && /^3\.\d+(\.\d+)?$/.test(version)) || (typeof version === 'number' && Math.floor(version) === 3);
    if (version === undefined || version === null) f.fail('openapi', 'is required: an OpenAPI 3 version such as "3.0.0"');
    if (!versionIsThree) f.fail('openapi', `must be an OpenAPI 3 version such as "3.0.0", got ${describeValue(version)}`);

    const info = f.required(f.mapping(document.info, 'info'), 'info', 'a mapping with title');
    const title = f.required(f.string(info.title, 'info.title'), 'info.title');
    const extension = f.mapping(document[SWITCHBOARD], SWITCHBOARD, ['gatewayId']);
    const givenId = f.string(extension?.gatewayId, `${SWITCHBOARD}.gatewayId`);
    if (givenId !== undefined && !GATEWAY_ID.test(givenId)) {
      f.fail(`${SWITCHBOARD}.gatewayId`, `must be 1 to 50 characters of A-Z, a-z, 0-9, ".", "_" and "-", got ${describeValue(givenId)}`);
    }

    const paths = f.required(f.mapping(document.paths, 'paths'), 'paths', 'a mapping of path templates');
    const routes: WebSocketRouteSpec[] = [];
    const templateByShape = new Map<string, string>();
    for (const [template, item] of Object.entries(paths)) {
      if (isMapping(item)) {
        // A misspelt operation would make the path an HTTP path and be skipped in silence (or
        // leave the spec with "no WebSocket path"): name it. Other keys are OpenAPI's own.
        for (const key of Object.keys(item)) {
          if (OPERATIONS.includes(key)) continue;
          const close = closeKey(key, OPERATIONS);
          if (close !== undefined || key.startsWith(WEBSOCKET_PREFIX)) {
            f.fail(childPath(childPath('paths', template), key), `unknown WebSocket operation${close === undefined ? `; allowed: ${OPERATIONS.join(', ')}` : ` (did you mean "${close}"?)`}`);
          }
        }
      }
      if (!isMapping(item) || !OPERATIONS.some((key) => key in item)) continue; // an HTTP path
      const itemPath = childPath('paths', template);
      const route = this.route(template, item, itemPath);
      // `/a/{x}` and `/a/{y}` serve the same URLs; which one answered would be an accident.
      const shape = template.replace(/\{[^}]*\}/g, '{}');
      const earlier = templateByShape.get(shape);
      if (earlier !== undefined) f.fail(itemPath, `serves the same URLs as paths.${earlier}`);
      templateByShape.set(shape, template);
      routes.push(route);
    }
    if (routes.length === 0) {
      f.fail('paths', `has no WebSocket path: give at least one path an ${MESSAGE} operation`);
    }
    return { gatewayId: givenId ?? deriveGatewayId(title), title, source: this.source, routes };
  }

  private route(template: string, item: YamlMapping, itemPath: string): WebSocketRouteSpec {
    const parameters = pathParameters(template, (problem) => this.fields.fail(itemPath, problem));
    const route: WebSocketRouteSpec = { path: template, message: this.message(item, itemPath, parameters) };
    const origins = readOrigins(this.fields, item[ALLOWED_ORIGINS], childPath(itemPath, ALLOWED_ORIGINS));
    if (origins !== undefined) route.allowedOrigins = origins;
    const connect = this.backendOperation(item[CONNECT], childPath(itemPath, CONNECT), 'connect', parameters);
    if (connect) route.connect = connect;
    const disconnect = this.backendOperation(item[DISCONNECT], childPath(itemPath, DISCONNECT), 'disconnect', parameters);
    if (disconnect) route.disconnect = disconnect;
    return route;
  }

  /** An operation's own keys (summary, parameters, responses…) are OpenAPI's and left alone. */
  private backendOperation(
    value: unknown,
    operationPath: string,
    place: 'connect' | 'disconnect',
    parameters: string[],
  ): BackendIntegrationSpec | undefined {
    const f: FieldReader = this.fields;
    const operation = f.mapping(value, operationPath);
    if (!operation) return undefined;
    if (ROUTES in operation) f.fail(childPath(operationPath, ROUTES), `only ${MESSAGE} selects routes`);
    const integrationPath = childPath(operationPath, INTEGRATION);
    const integration = this.integration(f.required(operation[INTEGRATION], integrationPath), integrationPath, place, parameters);
    return integration as BackendIntegrationSpec; // `place` rules out realtime
  }

  private message(item: YamlMapping, itemPath: string, parameters: string[]): MessageRoutingSpec {
    const f: FieldReader = this.fields;
    const operationPath = childPath(itemPath, MESSAGE);
    const operation = f.required(f.mapping(item[MESSAGE], operationPath), operationPath, `a WebSocket path needs a message operation`);
    const directPath = childPath(operationPath, INTEGRATION);
    const direct =
      operation[INTEGRATION] === undefined ? undefined : this.integration(operation[INTEGRATION], directPath, 'message', parameters);

    const routesPath = childPath(operationPath, ROUTES);
    const routeEntries = f.mapping(operation[ROUTES], routesPath);
    const routing: MessageRoutingSpec = { routes: {} };
    let defaultRoute: IntegrationSpec | undefined;
    for (const [key, entry] of Object.entries(routeEntries ?? {})) {
      const routePath = childPath(routesPath, key);
      // A route is an integration, or an object wrapping one as operations do.
      const wrapper = f.required(f.mapping(entry, routePath), routePath, `an ${INTEGRATION}`);
      const wrapped = INTEGRATION in wrapper;
      if (wrapped) f.mapping(wrapper, routePath, [INTEGRATION]);
      const integrationPath = wrapped ? childPath(routePath, INTEGRATION) : routePath;
      const integrationValue = wrapped ? wrapper[INTEGRATION] : wrapper;
      if (key === '$default') {
        if (direct) f.fail(routePath, `repeats the fallback: ${operationPath} already has an ${INTEGRATION}; give it once`);
        defaultRoute = this.integration(integrationValue, integrationPath, 'message', parameters);
      } else {
        routing.routes[key] = this.integration(integrationValue, integrationPath, 'route', parameters);
      }
    }
    const fallback = direct ?? defaultRoute;
    if (fallback) routing.fallback = fallback;

    const selectionPath = childPath(itemPath, ROUTE_SELECTION);
    const selection = this.selection(item[ROUTE_SELECTION], selectionPath);
    if (selection) routing.selection = selection;

    if (routeEntries && !selection) f.fail(routesPath, `needs ${ROUTE_SELECTION} on the path (e.g. $request.body.action)`);
    if (selection && !routeEntries) f.fail(selectionPath, `needs ${ROUTES} in ${MESSAGE}`);
    if (!fallback && Object.keys(routing.routes).length === 0) f.fail(operationPath, `needs an ${INTEGRATION} or ${ROUTES}`);
    if (fallback?.type === 'realtime' && (selection || Object.keys(routing.routes).length > 0)) {
      f.fail(routesPath, 'a realtime path routes by the envelope type itself; send other messages through the realtime integration\'s forward');
    }
    return routing;
  }

  /** `$request.body.action` → ['action']; `$request.body.meta.kind` → ['meta', 'kind']. */
  private selection(value: unknown, selectionPath: string): string[] | undefined {
    const expression = this.fields.string(value, selectionPath);
    if (expression === undefined) return undefined;
    const properties = expression.startsWith(SELECTION_PREFIX) ? expression.slice(SELECTION_PREFIX.length).split('.') : [];
    if (properties.length === 0 || !properties.every((property) => SELECTION_PROPERTY.test(property))) {
      this.fields.fail(
        selectionPath,
        `must be ${SELECTION_PREFIX} followed by a dotted property path (e.g. $request.body.action), got ${describeValue(expression)}`,
      );
    }
    return properties;
  }

  private integration(value: unknown, integrationPath: string, place: IntegrationPlace, parameters: string[]): IntegrationSpec {
    const f: FieldReader = this.fields;
    const integration = f.required(f.mapping(value, integrationPath), integrationPath);
    const allowed = place === 'message' ? ['http', 'dummy', 'realtime'] : ['http', 'dummy'];
    const typePath = childPath(integrationPath, 'type');
    const type = f.required(f.string(integration.type, typePath), typePath, `one of ${allowed.join(', ')}`);
    if (type === 'realtime' && place !== 'message') {
      f.fail(typePath, `type "realtime" ${REALTIME_ELSEWHERE[place]}; allowed here: ${allowed.join(', ')}`);
    }
    switch (type) {
      case 'http':
        return this.http(integration, integrationPath, parameters);
      case 'dummy':
        return this.dummy(integration, integrationPath);
      case 'realtime': {
        f.mapping(integration, integrationPath, ['type', 'forward']);
        const forwardPath = childPath(integrationPath, 'forward');
        if (integration.forward === undefined || integration.forward === null) return { type: 'realtime' };
        const forward = this.integration(integration.forward, forwardPath, 'forward', parameters) as BackendIntegrationSpec;
        return { type: 'realtime', forward };
      }
      default:
        return f.fail(typePath, `unknown integration type ${describeValue(type)}; allowed: ${allowed.join(', ')}`);
    }
  }

  private http(integration: YamlMapping, integrationPath: string, parameters: string[]): HttpIntegrationSpec {
    const f: FieldReader = this.fields;
    f.mapping(integration, integrationPath, ['type', 'url', 'method', 'headers', 'timeouts']);
    const urlPath = childPath(integrationPath, 'url');
    const url = f.required(f.string(integration.url, urlPath), urlPath, 'the backend URL');
    for (const [, name] of url.matchAll(/\{([^{}]*)\}/g)) {
      if (name === undefined || !parameters.includes(name)) {
        const known = parameters.length > 0 ? parameters.map((p) => `{${p}}`).join(', ') : 'none';
        f.fail(urlPath, `uses {${name ?? ''}}, which is not a parameter of the path (its parameters: ${known})`);
      }
    }
    // Check the URL with its placeholders filled in.
    const sample = url.replace(/\{[^{}]*\}/g, 'p');
    if (/[{}]/.test(sample)) f.fail(urlPath, `has an unbalanced "{" or "}": ${describeValue(url)}`);
    if (!/^https?:\/\//i.test(sample) || !URL.canParse(sample)) {
      f.fail(urlPath, `must be an absolute http:// or https:// URL, got ${describeValue(url)}`);
    }
    // Which host a call goes to is the spec's alone: a path parameter in the authority would
    // let a client pick the backend (and grow the pools without bound).
    const authority = /^[a-z]+:\/\/([^/?#]*)/i.exec(url)?.[1] ?? '';
    if (authority.includes('{')) {
      f.fail(urlPath, `may use path parameters only in its path and query, not in the host or port: ${describeValue(url)}`);
    }

    const methodPath = childPath(integrationPath, 'method');
    const methodText = f.string(integration.method, methodPath)?.toUpperCase();
    const method = f.oneOf(methodText, methodPath, HTTP_METHODS) ?? 'POST';

    const timeoutsPath = childPath(integrationPath, 'timeouts');
    const timeouts = f.mapping(integration.timeouts, timeoutsPath, ['connect', 'read']);
    const seconds = (key: 'connect' | 'read', fallback: number): number =>
      f.number(timeouts?.[key], childPath(timeoutsPath, key), 0, MAX_TIMEOUT_SECONDS) ?? fallback;

    return {
      type: 'http',
      url,
      method,
      headers: this.headers(integration.headers, childPath(integrationPath, 'headers')),
      timeouts: {
        connectMs: Math.max(1, Math.round(seconds('connect', 5) * 1000)),
        readMs: Math.max(1, Math.round(seconds('read', 30) * 1000)),
      },
    };
  }

  private dummy(integration: YamlMapping, integrationPath: string): DummyIntegrationSpec {
    const f: FieldReader = this.fields;
    f.mapping(integration, integrationPath, ['type', 'http_code', 'http_headers', 'content']);
    const codePath = childPath(integrationPath, 'http_code');
    const httpCode = f.required(f.integer(integration.http_code, codePath, 100, 599), codePath, 'an HTTP status from 100 to 599');
    const httpHeaders = this.headers(integration.http_headers, childPath(integrationPath, 'http_headers'));

    const contentPath = childPath(integrationPath, 'content');
    const content = integration.content;
    if (content === undefined || content === null) return { type: 'dummy', httpCode, content: '', httpHeaders };
    if (typeof content === 'string') return { type: 'dummy', httpCode, content, httpHeaders };
    if (!isMapping(content)) f.fail(contentPath, `must be a string or a mapping from media type to body, got ${describeValue(content)}`);

    // The seeds' product keys bodies by media type (`content: {'*': 'hi'}`); one body is
    // served, '*' first, else the first listed.
    const entries: [string, string][] = [];
    for (const [mediaType, body] of Object.entries(content)) {
      const bodyPath = childPath(contentPath, mediaType);
      if (mediaType !== '*' && !mediaType.includes('/')) {
        // Most likely a JSON body written as YAML rather than as a string.
        f.fail(bodyPath, `content keys must be "*" or a media type such as application/json, got ${describeValue(mediaType)} (write a JSON body as a string)`);
      }
      if (typeof body !== 'string') f.fail(bodyPath, `must be a string, got ${describeValue(body)}`);
      entries.push([mediaType, body]);
    }
    const chosen = entries.find(([mediaType]) => mediaType === '*') ?? entries[0];
    if (chosen === undefined) f.fail(contentPath, 'must not be an empty mapping');
    const [mediaType, body] = chosen;
    const isRealMediaType = /^[\w.+-]+\/[\w.+-]+/.test(mediaType);
    const hasContentType = Object.keys(httpHeaders).some((name) => name.toLowerCase() === 'content-type');
    if (isRealMediaType && !hasContentType) httpHeaders['Content-Type'] = mediaType;
    return { type: 'dummy', httpCode, content: body, httpHeaders };
  }

  /** Checked here so a bad header fails the start, not every backend call. */
  private headers(value: unknown, headersPath: string): Record<string, string> {
    const f: FieldReader = this.fields;
    const headers = f.stringMap(value, headersPath) ?? {};
    for (const [name, text] of Object.entries(headers)) {
      if (!HEADER_NAME.test(name)) f.fail(childPath(headersPath, name), `is not a valid HTTP header name`);
      if (/[\r\n\0]/.test(text)) f.fail(childPath(headersPath, name), 'must not contain line breaks or NUL');
    }
    return headers;
  }
}

/** Parses a gateway spec from YAML or JSON text (JSON is YAML); `source` names it in errors. */
export function parseGatewaySpec(text: string, source: string): GatewaySpec {
  return new GatewaySpecReader(source).read(parseYamlText(text, source));
}

export function loadGatewaySpec(file: string): GatewaySpec {
  return parseGatewaySpec(readConfigText(file, 'gateway spec'), file);
}

const DEMO_SPEC = join('examples', 'demo-gateway.yaml');

/**
 * The package's own folder: the nearest one above this module holding package.json and the
 * demo spec. Walking up works from src/config (vitest) and dist/src/config (after tsc) alike.
 */
function packageRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let folder = start; ; folder = dirname(folder)) {
    if (existsSync(join(folder, 'package.json')) && existsSync(join(folder, DEMO_SPEC))) return folder;
    if (dirname(folder) === folder) throw new ConfigError('(embedded demo)', '', `${DEMO_SPEC} not found above ${start}`);
  }
}

/** The spec `switchboard start` serves when no spec is configured. */
export function demoGatewaySpec(): GatewaySpec {
  const spec = loadGatewaySpec(join(packageRoot(), DEMO_SPEC));
  return { ...spec, source: '(embedded demo)' };
}
