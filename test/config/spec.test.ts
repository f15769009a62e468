import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors/index.js';
import { demoGatewaySpec, loadGatewaySpec, parseGatewaySpec, type GatewaySpec } from '../../src/config/index.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

const tempDirs: string[] = [];
afterEach(() => {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function configErrorOf(action: () => unknown): ConfigError {
  try {
    action();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

const SOURCE = 'gw.yaml';
const HEADER = 'openapi: 3.0.0\ninfo: {title: Test}\n';

/** A spec of one WebSocket path whose message operation holds `message` (indented YAML). */
function oneRoute(pathItem: string, template = '/ws'): string {
  return `${HEADER}paths:\n  ${template}:\n${pathItem}`;
}

function problemOf(text: string): string {
  return configErrorOf(() => parseGatewaySpec(text, SOURCE)).message;
}

const MSG = 'x-yc-apigateway-websocket-message';
const INT = 'x-yc-apigateway-integration';

describe('a spec with every integration type', () => {
  const spec = loadGatewaySpec(fixture('chat-gateway.yaml'));
  const chat = spec.routes.find((route) => route.path === '/chat/{room}');
  const live = spec.routes.find((route) => route.path === '/live');

  it('keeps WebSocket paths only, with their source and title', () => {
    expect(spec.routes.map((route) => route.path)).toEqual(['/chat/{room}', '/live']);
    expect(spec.title).toBe('Chat service');
    expect(spec.source).toBe(fixture('chat-gateway.yaml'));
  });

  it('reads http integrations: method upper-cased, headers, timeouts in milliseconds', () => {
    expect(chat?.connect).toEqual({
      type: 'http',
      url: 'https://backend.example/rooms/{room}/connect',
      method: 'GET',
      headers: { 'X-Api-Version': '2' },
      timeouts: { connectMs: 500, readMs: 2000 },
    });
  });

  it('defaults http to POST with 5 s connect and 30 s read timeouts', () => {
    expect(chat?.message.routes.sendMessage).toEqual({
      type: 'http',
      url: 'http://127.0.0.1:3000/rooms/{room}/messages',
      method: 'POST',
      headers: {},
      timeouts: { connectMs: 5000, readMs: 30000 },
    });
    expect(chat?.disconnect).toMatchObject({ type: 'http', method: 'DELETE' });
  });

  it('reads route selection, routes in both forms, and $default as the fallback', () => {
    expect(chat?.message.selection).toEqual(['action']);
    expect(Object.keys(chat?.message.routes ?? {})).toEqual(['sendMessage', 'ping']);
    expect(chat?.message.routes.ping).toEqual({ type: 'dummy', httpCode: 200, content: 'pong', httpHeaders: {} });
    expect(chat?.message.fallback).toEqual({
      type: 'dummy',
      httpCode: 400,
      content: '{"error":"unknown action"}',
      httpHeaders: { 'Content-Type': 'application/json' },
    });
  });

  it('reads realtime with its forward integration', () => {
    expect(live?.message).toEqual({
      routes: {},
      fallback: {
        type: 'realtime',
        forward: { type: 'http', url: 'http://127.0.0.1:3000/live', method: 'POST', headers: {}, timeouts: { connectMs: 5000, readMs: 30000 } },
      },
    });
    expect(live?.connect).toBeUndefined();
  });

  it('derives a stable gateway id from the title', () => {
    const digest = createHash('sha256').update('Chat service').digest('hex').slice(0, 8);
    expect(spec.gatewayId).toBe(`chat-service-${digest}`);
    expect(loadGatewaySpec(fixture('chat-gateway.yaml')).gatewayId).toBe(spec.gatewayId);
  });
});

describe('gateway id', () => {
  it('is taken from x-switchboard.gatewayId when given', () => {
    const spec = parseGatewaySpec(`${HEADER}x-switchboard: {gatewayId: chat.v2_prod-1}\npaths:\n  /ws:\n    ${MSG}:\n      ${INT}: {type: realtime}\n`, SOURCE);
    expect(spec.gatewayId).toBe('chat.v2_prod-1');
  });

  it('is derived as slug + 8 hex digits of sha256(title), at most 50 characters', () => {
    const idOf = (title: string): string =>
      parseGatewaySpec(`openapi: 3.0.0\ninfo: {title: ${JSON.stringify(title)}}\npaths:\n  /ws:\n    ${MSG}:\n      ${INT}: {type: realtime}\n`, SOURCE)
        .gatewayId;
    const hash = (title: string): string => createHash('sha256').update(title).digest('hex').slice(0, 8);
    expect(idOf('  Café Chat -- EU!  ')).toBe(`cafe-chat-eu-${hash('  Café Chat -- EU!  ')}`);
    expect(idOf('Чат')).toBe(`gateway-${hash('Чат')}`);
    const long = idOf('A'.repeat(80));
    expect(long).toHaveLength(50);
    expect(long).toMatch(/^a{41}-[0-9a-f]{8}$/);
    expect(idOf('Chat')).not.toBe(idOf('chat')); // different titles, different ids
  });

  it('rejects an id with other characters', () => {
    expect(problemOf(`${HEADER}x-switchboard: {gatewayId: "my gateway"}\npaths: {}\n`)).toBe(
      'gw.yaml: x-switchboard.gatewayId: must be 1 to 50 characters of A-Z, a-z, 0-9, ".", "_" and "-", got "my gateway"',
    );
  });
});

describe('dummy content', () => {
  const dummy = (content: string, headers = ''): unknown =>
    parseGatewaySpec(oneRoute(`    ${MSG}:\n      ${INT}:\n        type: dummy\n        http_code: 200\n${headers}        content: ${content}\n`), SOURCE)
      .routes[0]?.message.fallback;

  it('takes a string as it is', () => {
    expect(dummy("'hi'")).toEqual({ type: 'dummy', httpCode: 200, content: 'hi', httpHeaders: {} });
  });

  it('prefers the "*" entry of a map, setting no Content-Type', () => {
    expect(dummy("{'text/plain': plain, '*': any}")).toEqual({ type: 'dummy', httpCode: 200, content: 'any', httpHeaders: {} });
  });

  it('else takes the first entry and its media type as Content-Type', () => {
    expect(dummy("{'text/html': '<b>hi</b>', 'text/plain': hi}")).toEqual({
      type: 'dummy',
      httpCode: 200,
      content: '<b>hi</b>',
      httpHeaders: { 'Content-Type': 'text/html' },
    });
  });

  it('keeps a Content-Type given in http_headers, whatever its case', () => {
    expect(dummy("{'application/json': '{}'}", '        http_headers: {content-type: text/plain}\n')).toEqual({
      type: 'dummy',
      httpCode: 200,
      content: '{}',
      httpHeaders: { 'content-type': 'text/plain' },
    });
  });

  it('is empty when absent', () => {
    expect(parseGatewaySpec(oneRoute(`    ${MSG}:\n      ${INT}: {type: dummy, http_code: 204}\n`), SOURCE).routes[0]?.message.fallback).toEqual({
      type: 'dummy',
      httpCode: 204,
      content: '',
      httpHeaders: {},
    });
  });

  it('rejects a JSON body written as a YAML mapping', () => {
    expect(problemOf(oneRoute(`    ${MSG}:\n      ${INT}:\n        type: dummy\n        http_code: 200\n        content: {type: ack}\n`))).toBe(
      `gw.yaml: paths./ws.${MSG}.${INT}.content.type: content keys must be "*" or a media type such as application/json, got "type" (write a JSON body as a string)`,
    );
  });
});

describe('JSON specs', () => {
  it('are read like YAML', () => {
    const json = JSON.stringify({
      openapi: '3.0.0',
      info: { title: 'Json' },
      'x-switchboard': { gatewayId: 'json' },
      paths: { '/ws': { [MSG]: { [INT]: { type: 'dummy', http_code: 200, content: 'ok' } } } },
    });
    const spec = parseGatewaySpec(json, 'gw.json');
    expect(spec).toEqual({
      gatewayId: 'json',
      title: 'Json',
      source: 'gw.json',
      routes: [{ path: '/ws', message: { routes: {}, fallback: { type: 'dummy', httpCode: 200, content: 'ok', httpHeaders: {} } } }],
    } satisfies GatewaySpec);
  });
});

describe('spec errors name the file and the path', () => {
  const realtime = `    ${MSG}:\n      ${INT}: {type: realtime}\n`;
  const cases: [string, string, string][] = [
    ['an empty document', '', 'gw.yaml: (root): is empty: expected an OpenAPI 3 document'],
    [
      'a Swagger 2 document, named as such',
      'swagger: "2.0"\ninfo: {title: x}\npaths: {}\n',
      'gw.yaml: swagger: is Swagger "2.0" (OpenAPI 2): a gateway spec is OpenAPI 3; convert it (e.g. with swagger2openapi) and give "openapi: 3.0.0"',
    ],
    ['an OpenAPI 2 version', 'openapi: "2.0"\ninfo: {title: x}\npaths: {}\n', 'gw.yaml: openapi: must be an OpenAPI 3 version such as "3.0.0", got "2.0"'],
    ['a missing title', 'openapi: 3.0.0\ninfo: {version: 1}\npaths: {}\n', 'gw.yaml: info.title: is required'],
    ['missing paths', HEADER, 'gw.yaml: paths: is required: a mapping of path templates'],
    [
      'no WebSocket path',
      `${HEADER}paths:\n  /health:\n    get: {}\n`,
      `gw.yaml: paths: has no WebSocket path: give at least one path an ${MSG} operation`,
    ],
    [
      'a WebSocket path without message',
      oneRoute(`    x-yc-apigateway-websocket-connect:\n      ${INT}: {type: dummy, http_code: 200}\n`),
      `gw.yaml: paths./ws.${MSG}: is required: a WebSocket path needs a message operation`,
    ],
    [
      'a message without integration',
      oneRoute(`    ${MSG}:\n      summary: nothing\n`),
      `gw.yaml: paths./ws.${MSG}: needs an ${INT} or x-switchboard-routes`,
    ],
    [
      'an http integration without url',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: http}\n`, '/chat/{room}'),
      `gw.yaml: paths./chat/{room}.${MSG}.${INT}.url: is required: the backend URL`,
    ],
    [
      'a relative url',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: http, url: /backend}\n`),
      `gw.yaml: paths./ws.${MSG}.${INT}.url: must be an absolute http:// or https:// URL, got "/backend"`,
    ],
    [
      'a url of another scheme',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: http, url: "ftp://x/y"}\n`),
      `gw.yaml: paths./ws.${MSG}.${INT}.url: must be an absolute http:// or https:// URL, got "ftp://x/y"`,
    ],
    [
      'a url placeholder that is not a path parameter',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: http, url: "http://x/{rooom}"}\n`, '/chat/{room}'),
      `gw.yaml: paths./chat/{room}.${MSG}.${INT}.url: uses {rooom}, which is not a parameter of the path (its parameters: {room})`,
    ],
    [
      'a path parameter choosing the backend host',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: http, url: "http://{room}.backend.example/x"}\n`, '/chat/{room}'),
      `gw.yaml: paths./chat/{room}.${MSG}.${INT}.url: may use path parameters only in its path and query, not in the host or port: "http://{room}.backend.example/x"`,
    ],
    [
      'an unknown method',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: http, url: "http://x/", method: head}\n`),
      `gw.yaml: paths./ws.${MSG}.${INT}.method: must be one of GET, POST, PUT, PATCH, DELETE, got "HEAD"`,
    ],
    [
      'a zero timeout',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: http, url: "http://x/", timeouts: {read: 0}}\n`),
      `gw.yaml: paths./ws.${MSG}.${INT}.timeouts.read: must be a number > 0 and ≤ 86400, got 0`,
    ],
    [
      'a bad header name',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: http, url: "http://x/", headers: {"Bad Header": x}}\n`),
      `gw.yaml: paths./ws.${MSG}.${INT}.headers.Bad Header: is not a valid HTTP header name`,
    ],
    [
      'a non-string header value',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: http, url: "http://x/", headers: {X-Version: 2}}\n`),
      `gw.yaml: paths./ws.${MSG}.${INT}.headers.X-Version: must be a string, got 2`,
    ],
    [
      'a typo in an integration key',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: dummy, http_cod: 200}\n`),
      `gw.yaml: paths./ws.${MSG}.${INT}.http_cod: unknown key "http_cod" (did you mean "http_code"?)`,
    ],
    [
      'a dummy without http_code',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: dummy, content: x}\n`),
      `gw.yaml: paths./ws.${MSG}.${INT}.http_code: is required: an HTTP status from 100 to 599`,
    ],
    [
      'an http_code out of range',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: dummy, http_code: 600}\n`),
      `gw.yaml: paths./ws.${MSG}.${INT}.http_code: must be an integer from 100 to 599, got 600`,
    ],
    [
      'an unknown integration type',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: cloud_functions}\n`),
      `gw.yaml: paths./ws.${MSG}.${INT}.type: unknown integration type "cloud_functions"; allowed: http, dummy, realtime`,
    ],
    [
      'realtime on connect',
      oneRoute(`    x-yc-apigateway-websocket-connect:\n      ${INT}: {type: realtime}\n${realtime}`),
      `gw.yaml: paths./ws.x-yc-apigateway-websocket-connect.${INT}.type: type "realtime" is allowed only on ${MSG}; allowed here: http, dummy`,
    ],
    [
      'realtime forwarding to realtime',
      oneRoute(`    ${MSG}:\n      ${INT}: {type: realtime, forward: {type: realtime}}\n`),
      `gw.yaml: paths./ws.${MSG}.${INT}.forward.type: type "realtime" cannot forward to itself; allowed here: http, dummy`,
    ],
    [
      'a path not starting with /',
      oneRoute(realtime, 'ws'),
      'gw.yaml: paths.ws: a WebSocket path must start with "/", got "ws"',
    ],
    ['a repeated path parameter', oneRoute(realtime, '/a/{id}/b/{id}'), 'gw.yaml: paths./a/{id}/b/{id}: parameter {id} appears twice'],
    [
      'a parameter name starting with a digit',
      oneRoute(realtime, '/a/{1st}'),
      'gw.yaml: paths./a/{1st}: parameter {1st} must be a name of letters, digits and "_", not starting with a digit',
    ],
    ['an unbalanced brace', oneRoute(realtime, '/a/{id'), 'gw.yaml: paths./a/{id: has an unbalanced "{" or "}"'],
    [
      'touching parameters',
      oneRoute(realtime, '/a/{x}{y}'),
      'gw.yaml: paths./a/{x}{y}: two parameters must not touch (e.g. {a}{b}): nothing could tell where one ends',
    ],
    [
      'two templates serving the same URLs',
      `${HEADER}paths:\n  /a/{x}:\n${realtime}  /a/{y}:\n${realtime}`,
      'gw.yaml: paths./a/{y}: serves the same URLs as paths./a/{x}',
    ],
    [
      'routes without selection',
      oneRoute(`    ${MSG}:\n      x-switchboard-routes:\n        send: {type: dummy, http_code: 200}\n`),
      `gw.yaml: paths./ws.${MSG}.x-switchboard-routes: needs x-switchboard-route-selection on the path (e.g. $request.body.action)`,
    ],
    [
      'selection without routes',
      oneRoute(`    x-switchboard-route-selection: $request.body.action\n    ${MSG}:\n      ${INT}: {type: dummy, http_code: 200}\n`),
      `gw.yaml: paths./ws.x-switchboard-route-selection: needs x-switchboard-routes in ${MSG}`,
    ],
    [
      'a selection that is not a body property',
      oneRoute(`    x-switchboard-route-selection: $request.header.action\n    ${MSG}:\n      x-switchboard-routes: {a: {type: dummy, http_code: 200}}\n`),
      'gw.yaml: paths./ws.x-switchboard-route-selection: must be $request.body. followed by a dotted property path (e.g. $request.body.action), got "$request.header.action"',
    ],
    [
      'a fallback given twice',
      oneRoute(
        `    x-switchboard-route-selection: $request.body.action\n    ${MSG}:\n      ${INT}: {type: dummy, http_code: 200}\n      x-switchboard-routes:\n        $default: {type: dummy, http_code: 404}\n`,
      ),
      `gw.yaml: paths./ws.${MSG}.x-switchboard-routes.$default: repeats the fallback: paths./ws.${MSG} already has an ${INT}; give it once`,
    ],
    [
      'realtime as a named route',
      oneRoute(`    x-switchboard-route-selection: $request.body.action\n    ${MSG}:\n      x-switchboard-routes:\n        live: {type: realtime}\n`),
      `gw.yaml: paths./ws.${MSG}.x-switchboard-routes.live.type: type "realtime" cannot be a route: put it directly on ${MSG}; allowed here: http, dummy`,
    ],
    [
      'realtime with named routes',
      oneRoute(
        `    x-switchboard-route-selection: $request.body.action\n    ${MSG}:\n      ${INT}: {type: realtime}\n      x-switchboard-routes:\n        send: {type: dummy, http_code: 200}\n`,
      ),
      `gw.yaml: paths./ws.${MSG}.x-switchboard-routes: a realtime path routes by the envelope type itself; send other messages through the realtime integration's forward`,
    ],
    [
      'a wrapped route with extra keys',
      oneRoute(
        `    x-switchboard-route-selection: $request.body.action\n    ${MSG}:\n      x-switchboard-routes:\n        send:\n          ${INT}: {type: dummy, http_code: 200}\n          type: http\n`,
      ),
      `gw.yaml: paths./ws.${MSG}.x-switchboard-routes.send.type: unknown key "type"; allowed keys: ${INT}`,
    ],
  ];
  it.each(cases)('%s', (_name, text, message) => {
    expect(problemOf(text)).toBe(message);
  });

  it('a YAML syntax error names the file and the line', () => {
    expect(problemOf(`${HEADER}paths:\n  /ws:\n    ${MSG}: [\n`)).toMatch(/^gw\.yaml: line \d+, column \d+: YAML syntax error: /);
    expect(problemOf('openapi: 3.0.0\ninfo:\n  title: a\npaths: {/ws: ]\n')).toBe(
      'gw.yaml: line 4, column 14: YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }',
    );
  });

  it('a missing file is named', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-spec-'));
    tempDirs.push(dir);
    const file = path.join(dir, 'absent.yaml');
    expect(configErrorOf(() => loadGatewaySpec(file)).message).toBe(`${file}: (root): gateway spec not found`);
  });

  it('a misspelt WebSocket operation is named with the one it is close to, not skipped as an HTTP path', () => {
    const integration = `      ${INT}: {type: dummy, http_code: 200}\n`;
    expect(problemOf(oneRoute(`    x-yc-apigateway-websocket-mesage:\n${integration}`))).toBe(
      'gw.yaml: paths./ws.x-yc-apigateway-websocket-mesage: unknown WebSocket operation (did you mean "x-yc-apigateway-websocket-message"?)',
    );
    // Beside a valid message operation too: the connect backend would otherwise never be called.
    expect(problemOf(oneRoute(`    ${MSG}:\n${integration}    x-yc-apigateway-websocket-conect:\n${integration}`))).toBe(
      'gw.yaml: paths./ws.x-yc-apigateway-websocket-conect: unknown WebSocket operation (did you mean "x-yc-apigateway-websocket-connect"?)',
    );
    expect(problemOf(oneRoute(`    ${MSG}:\n${integration}    x-yc-apigateway-websocket-open:\n${integration}`))).toBe(
      'gw.yaml: paths./ws.x-yc-apigateway-websocket-open: unknown WebSocket operation; allowed: x-yc-apigateway-websocket-connect, x-yc-apigateway-websocket-message, x-yc-apigateway-websocket-disconnect',
    );
    // OpenAPI's own keys of a path item are left alone.
    expect(() => parseGatewaySpec(oneRoute(`    summary: chat\n    get: {responses: {'200': {description: ok}}}\n    ${MSG}:\n${integration}`), SOURCE)).not.toThrow();
  });

  it('a directory given as the spec says so in words, not as an errno code', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-spec-'));
    tempDirs.push(dir);
    expect(configErrorOf(() => loadGatewaySpec(dir)).message).toBe(`${dir}: (root): cannot read the gateway spec: is a directory, not a file`);
  });
});

describe('route selection', () => {
  it('reads a nested property path and the wrapped $default', () => {
    const spec = parseGatewaySpec(
      oneRoute(
        `    x-switchboard-route-selection: $request.body.meta.kind\n    ${MSG}:\n      x-switchboard-routes:\n        a: {type: dummy, http_code: 200, content: A}\n        $default:\n          ${INT}: {type: dummy, http_code: 404}\n`,
      ),
      SOURCE,
    );
    const message = spec.routes[0]?.message;
    expect(message?.selection).toEqual(['meta', 'kind']);
    expect(message?.routes).toEqual({ a: { type: 'dummy', httpCode: 200, content: 'A', httpHeaders: {} } });
    expect(message?.fallback).toEqual({ type: 'dummy', httpCode: 404, content: '', httpHeaders: {} });
  });

  it('takes the message operation’s own integration as the fallback next to routes', () => {
    const spec = parseGatewaySpec(
      oneRoute(
        `    x-switchboard-route-selection: $request.body.action\n    ${MSG}:\n      ${INT}: {type: dummy, http_code: 400}\n      x-switchboard-routes:\n        a: {type: dummy, http_code: 200}\n`,
      ),
      SOURCE,
    );
    expect(spec.routes[0]?.message.fallback).toMatchObject({ httpCode: 400 });
    expect(Object.keys(spec.routes[0]?.message.routes ?? {})).toEqual(['a']);
  });
});

describe('the embedded demo spec', () => {
  it('loads from examples/demo-gateway.yaml', () => {
    const spec = demoGatewaySpec();
    expect(spec.gatewayId).toBe('demo');
    expect(spec.title).toBe('Switchboard demo');
    expect(spec.source).toBe('(embedded demo)');
    expect(spec.routes.map((route) => route.path)).toEqual(['/demo', '/realtime']);
    const demo = spec.routes[0];
    expect(demo?.connect).toMatchObject({ type: 'dummy', httpCode: 200 });
    expect(JSON.parse(demo?.connect?.type === 'dummy' ? demo.connect.content : '')).toEqual({
      type: 'welcome',
      message: 'connected to the Switchboard demo',
    });
    expect(demo?.message.fallback).toEqual({
      type: 'dummy',
      httpCode: 200,
      content: '{"type":"ack"}',
      httpHeaders: { 'Content-Type': 'application/json' },
    });
    expect(spec.routes[1]?.message).toEqual({ routes: {}, fallback: { type: 'realtime' } });
  });
});
