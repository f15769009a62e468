import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors/index.js';
import { ALL_SCOPES, defaultSettings, formatHostPort, loadSettings, parseHostPort, type Settings } from '../../src/config/index.js';

const tempDirs: string[] = [];
afterEach(() => {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-settings-'));
  tempDirs.push(dir);
  return dir;
}

/** Writes a config file into a fresh temp folder and returns its path. */
function configFile(text: string, extraFiles: Record<string, string> = {}): string {
  const dir = tempDir();
  for (const [name, content] of Object.entries(extraFiles)) fs.writeFileSync(path.join(dir, name), content);
  const file = path.join(dir, 'switchboard.yaml');
  fs.writeFileSync(file, text);
  return file;
}

function load(text: string, env: Record<string, string | undefined> = {}): Settings {
  return loadSettings({ configFile: configFile(text), flags: {}, env });
}

function configErrorOf(action: () => unknown): ConfigError {
  try {
    action();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError, nothing was thrown');
}

/** Loads `text` as a config file and returns the message of the ConfigError it raises, file path replaced by FILE. */
function problemOf(text: string, env: Record<string, string | undefined> = {}): string {
  const file = configFile(text);
  const error = configErrorOf(() => loadSettings({ configFile: file, flags: {}, env }));
  expect(error.source).toBe(file);
  return error.message.replace(file, 'FILE');
}

describe('defaults', () => {
  it('with no file, flag or variable every setting has its documented default', () => {
    expect(loadSettings({ flags: {}, env: {} })).toEqual({
      listen: { host: '0.0.0.0', port: 8080 },
      specs: [],
      management: {
        listen: { host: '127.0.0.1', port: 8081 },
        apiKeys: [],
        awsAccessKeys: [],
        rateLimit: { requestsPerSecond: 10_000, burst: 20_000 },
        allowedHosts: [],
        maxConnections: 1024,
        timeouts: { headersSeconds: 10, requestSeconds: 30, keepAliveSeconds: 60 },
      },
      edge: { allowedOrigins: [], requireOrigin: false },
      backends: { circuitBreaker: { failureThreshold: 5, cooldownSeconds: 10 } },
      auth: { failureThrottle: { maxFailures: 20, windowSeconds: 60, cooldownSeconds: 60 } },
      limits: {
        maxMessageBytes: 131072,
        maxFrameBytes: 32768,
        heartbeatSeconds: 30,
        idleTimeoutSeconds: 600,
        maxLifetimeSeconds: 7200,
        maxConnections: 100000,
        maxConnectionsPerIp: 1000,
        maxConnectionsPerTenant: 100000,
        messagesPerSecond: 100,
        outboundBufferBytes: 4194304,
        maxPendingMessages: 64,
        handshakeTimeoutSeconds: 10,
        acceptsPerSecond: 1000,
        acceptsPerSecondPerIp: 50,
        pendingHandshakesPerIp: 32,
        maxUrlBytes: 8192,
        maxHeaderBytes: 16384,
        maxSubscriptionsPerConnection: 128,
      },
      topics: [],
      log: { level: 'info' },
      trustedProxies: [],
      drainSeconds: 10,
    } satisfies Settings);
  });

  it('an empty file is all defaults', () => {
    expect(load('')).toEqual(defaultSettings());
    expect(load('# only a comment\n')).toEqual(defaultSettings());
  });

  it('an empty value means the default', () => {
    const settings = load('listen:\nlimits:\n  maxFrameBytes:\nauth:\n');
    expect(settings.listen).toEqual({ host: '0.0.0.0', port: 8080 });
    expect(settings.limits.maxFrameBytes).toBe(32768);
    expect(settings.auth).toEqual({ failureThrottle: { maxFailures: 20, windowSeconds: 60, cooldownSeconds: 60 } });
  });

  it('a partial limits block keeps the other defaults', () => {
    const settings = load('limits:\n  maxFrameBytes: 1024\n');
    expect(settings.limits).toEqual({ ...defaultSettings().limits, maxFrameBytes: 1024 });
  });

  it('a topic entry fills in its defaults', () => {
    expect(load('topics:\n  - pattern: "*:chat.*"\n').topics).toEqual([
      { pattern: '*:chat.*', historySize: 0, historyTtlSeconds: 300, presence: false, joinLeave: false },
    ]);
  });

  it('a topic entry reads its permissions (missing actions: tenant) and authorize (defaults: 5 s, 60 s)', () => {
    const yaml = [
      'auth:\n  jwt:\n    secret: s\n    claims: {topics: grants}\n    refreshNoticeSeconds: 30',
      'topics:',
      '  - pattern: "{tenantId}:user.{userId}"',
      '    permissions: {publish: none}',
      '  - pattern: "*:room.*"',
      '    permissions: {subscribe: token, publish: backend, presence: token, history: tenant}',
      '    authorize: {url: "http://127.0.0.1:3000/authorize"}',
      '',
    ].join('\n');
    const settings = load(yaml);
    expect(settings.auth.jwt?.claims.topics).toBe('grants');
    expect(settings.auth.jwt?.refreshNoticeSeconds).toBe(30);
    expect(settings.topics[0]).toEqual({
      pattern: '{tenantId}:user.{userId}',
      historySize: 0,
      historyTtlSeconds: 300,
      presence: false,
      joinLeave: false,
      permissions: { subscribe: 'tenant', publish: 'none', presence: 'tenant', history: 'tenant' },
    });
    expect(settings.topics[1]?.permissions).toEqual({ subscribe: 'token', publish: 'backend', presence: 'token', history: 'tenant' });
    expect(settings.topics[1]?.authorize).toEqual({ url: 'http://127.0.0.1:3000/authorize', timeoutSeconds: 5, cacheSeconds: 60 });
  });

  it('jwt with a secret defaults to HS256, with a public key or JWKS to RS256 and ES256', () => {
    const withSecret = load('auth:\n  jwt:\n    secret: s3cret\n').auth.jwt;
    expect(withSecret).toEqual({
      secret: 's3cret',
      algorithms: ['HS256'],
      claims: { tenantId: 'tid', userId: 'sub', topics: 'topics' },
      clockToleranceSeconds: 30,
      requireExp: true,
      refreshNoticeSeconds: 60,
    });
    const withJwks = load('auth:\n  jwt:\n    jwksUrl: https://issuer.example/jwks.json\n').auth.jwt;
    expect(withJwks?.algorithms).toEqual(['RS256', 'ES256']);
    expect(withJwks?.jwksUrl).toBe('https://issuer.example/jwks.json');
  });
});

describe('the file', () => {
  it('reads every key', () => {
    const settings = load(`
listen: 127.0.0.1:9000
spec: [./a.yaml, /abs/b.yaml]
management:
  listen: "[::1]:9001"
  apiKeys:
    - key: key-one-0123456789
      scopes: [read, write, read]
    - key: key-two-0123456789
      scopes: [broadcast]
      tenantId: acme
  awsAccessKeys:
    - accessKeyId: AKID
      secretAccessKey: shh
grpc:
  listen: 127.0.0.1:9002
auth:
  jwt:
    secret: hmac
    algorithms: [HS256, HS512]
    issuer: https://issuer.example
    audience: switchboard
    claims: {tenantId: org}
    clockToleranceSeconds: 0
    requireExp: false
    maxTokenAgeSeconds: 3600
limits:
  maxMessageBytes: 1000
  handshakeTimeoutSeconds: 3
topics:
  - pattern: "*:chat.*"
    historySize: 100
    historyTtlSeconds: 60
    presence: true
    joinLeave: true
backplane: redis://127.0.0.1:6379
nodeId: node-a
log: {level: debug}
trustedProxies: [10.0.0.1, "::1"]
drainSeconds: 0
`);
    expect(settings.listen).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(settings.management.listen).toEqual({ host: '::1', port: 9001 });
    expect(settings.management.apiKeys).toEqual([
      { key: 'key-one-0123456789', scopes: ['read', 'write'] },
      { key: 'key-two-0123456789', scopes: ['broadcast'], tenantId: 'acme' },
    ]);
    expect(settings.management.awsAccessKeys).toEqual([{ accessKeyId: 'AKID', secretAccessKey: 'shh' }]);
    expect(settings.grpc).toEqual({ listen: { host: '127.0.0.1', port: 9002 }, maxConnections: 1024, idleTimeoutSeconds: 300, keepaliveSeconds: 60 });
    expect(settings.auth.jwt).toEqual({
      secret: 'hmac',
      algorithms: ['HS256', 'HS512'],
      issuer: 'https://issuer.example',
      audience: 'switchboard',
      claims: { tenantId: 'org', userId: 'sub', topics: 'topics' },
      clockToleranceSeconds: 0,
      requireExp: false,
      maxTokenAgeSeconds: 3600,
      refreshNoticeSeconds: 60,
    });
    expect(settings.limits.maxMessageBytes).toBe(1000);
    expect(settings.limits.handshakeTimeoutSeconds).toBe(3);
    expect(settings.topics).toEqual([{ pattern: '*:chat.*', historySize: 100, historyTtlSeconds: 60, presence: true, joinLeave: true }]);
    expect(settings.backplane).toBe('redis://127.0.0.1:6379');
    expect(load('backplane: nats://10.0.0.1:4222,nats://10.0.0.2:4222\n').backplane).toBe('nats://10.0.0.1:4222,nats://10.0.0.2:4222');
    expect(settings.nodeId).toBe('node-a');
    expect(settings.log.level).toBe('debug');
    expect(settings.trustedProxies).toEqual(['10.0.0.1', '::1']);
    expect(settings.drainSeconds).toBe(0);
  });

  it('resolves spec paths against the config file folder', () => {
    const file = configFile('spec: [./gw/a.yaml, /abs/b.yaml]\n');
    const settings = loadSettings({ configFile: file, flags: {}, env: {} });
    expect(settings.specs).toEqual([path.join(path.dirname(file), 'gw', 'a.yaml'), '/abs/b.yaml']);
  });

  it('takes a single spec as a string', () => {
    const file = configFile('spec: gateway.yaml\n');
    expect(loadSettings({ configFile: file, flags: {}, env: {} }).specs).toEqual([path.join(path.dirname(file), 'gateway.yaml')]);
  });

  it('reads the jwt public key file relative to the config file folder', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const file = configFile('auth:\n  jwt:\n    publicKey: ./jwt.pem\n    algorithms: [ES256]\n', { 'jwt.pem': pem });
    const jwt = loadSettings({ configFile: file, flags: {}, env: {} }).auth.jwt;
    expect(jwt?.publicKeyPem).toBe(pem);
    expect(jwt?.algorithms).toEqual(['ES256']);
    expect(jwt).not.toHaveProperty('publicKey');
  });

  it('is named by SWITCHBOARD_CONFIG when no config file is given', () => {
    const file = configFile('listen: 127.0.0.1:7000\n');
    expect(loadSettings({ flags: {}, env: { SWITCHBOARD_CONFIG: file } }).listen.port).toBe(7000);
  });

  it('given explicitly, wins over SWITCHBOARD_CONFIG', () => {
    const explicit = configFile('listen: 127.0.0.1:7001\n');
    const fromEnv = configFile('listen: 127.0.0.1:7002\n');
    expect(loadSettings({ configFile: explicit, flags: {}, env: { SWITCHBOARD_CONFIG: fromEnv } }).listen.port).toBe(7001);
  });

  it('a file with every feature (test/config/fixtures/every-feature.yaml) loads once its variables are set', () => {
    const example = fileURLToPath(new URL('./fixtures/every-feature.yaml', import.meta.url));
    const settings = loadSettings({
      configFile: example,
      flags: {},
      env: { MGMT_KEY: 'mgmt-key-0123456789abcdef', ACME_READ_KEY: 'acme-read-key-0123456789', AWS_SECRET: 'aws', JWT_SECRET: 'jwt' },
    });
    expect(settings.management.apiKeys.map((k) => k.key)).toEqual(['mgmt-key-0123456789abcdef', 'acme-read-key-0123456789']);
    expect(settings.specs).toEqual([path.join(path.dirname(example), 'demo-gateway.yaml')]);
    expect(settings.auth.jwt?.secret).toBe('jwt');
    expect(settings.topics.map((t) => t.pattern)).toEqual(['{tenantId}:user.{userId}', '*:room.*', '*:doc.*', '*:chat.*', '*:ticker']);
    expect(settings.topics[1]?.permissions?.subscribe).toBe('token');
    expect(settings.topics[2]?.authorize).toEqual({ url: 'http://127.0.0.1:3000/authorize', timeoutSeconds: 5, cacheSeconds: 60 });
    expect(settings.auth.jwt?.refreshNoticeSeconds).toBe(60);
  });
});

describe('precedence: flags > SWITCHBOARD_* > file > defaults', () => {
  const fileText = `
listen: 127.0.0.1:1001
spec: /file/spec.yaml
management: {listen: 127.0.0.1:1002}
grpc: {listen: 127.0.0.1:1003}
backplane: redis://file:6379
nodeId: file-node
log: {level: warn}
`;
  const env = {
    SWITCHBOARD_LISTEN: '127.0.0.1:2001',
    SWITCHBOARD_SPEC: '/env/a.yaml, /env/b.yaml',
    SWITCHBOARD_MANAGEMENT_LISTEN: '127.0.0.1:2002',
    SWITCHBOARD_GRPC_LISTEN: '127.0.0.1:2003',
    SWITCHBOARD_BACKPLANE: 'nats://env:4222',
    SWITCHBOARD_NODE_ID: 'env-node',
    SWITCHBOARD_LOG_LEVEL: 'debug',
  };
  const flags = {
    listen: '127.0.0.1:3001',
    spec: ['/flag/spec.yaml'],
    managementListen: '127.0.0.1:3002',
    grpcListen: '127.0.0.1:3003',
    backplane: 'rediss://flag:6380',
    nodeId: 'flag-node',
    logLevel: 'trace',
  };

  it('the file overrides the defaults', () => {
    const settings = loadSettings({ configFile: configFile(fileText), flags: {}, env: {} });
    expect(settings.listen.port).toBe(1001);
    expect(settings.specs).toEqual(['/file/spec.yaml']);
    expect(settings.management.listen.port).toBe(1002);
    expect(settings.grpc?.listen.port).toBe(1003);
    expect(settings.backplane).toBe('redis://file:6379');
    expect(settings.nodeId).toBe('file-node');
    expect(settings.log.level).toBe('warn');
  });

  it('SWITCHBOARD_* variables override the file', () => {
    const settings = loadSettings({ configFile: configFile(fileText), flags: {}, env });
    expect(settings.listen.port).toBe(2001);
    expect(settings.specs).toEqual(['/env/a.yaml', '/env/b.yaml']);
    expect(settings.management.listen.port).toBe(2002);
    expect(settings.grpc?.listen.port).toBe(2003);
    expect(settings.backplane).toBe('nats://env:4222');
    expect(settings.nodeId).toBe('env-node');
    expect(settings.log.level).toBe('debug');
  });

  it('flags override the variables', () => {
    const settings = loadSettings({ configFile: configFile(fileText), flags, env });
    expect(settings.listen.port).toBe(3001);
    expect(settings.specs).toEqual(['/flag/spec.yaml']);
    expect(settings.management.listen.port).toBe(3002);
    expect(settings.grpc?.listen.port).toBe(3003);
    expect(settings.backplane).toBe('rediss://flag:6380');
    expect(settings.nodeId).toBe('flag-node');
    expect(settings.log.level).toBe('trace');
  });

  it('variables and flags apply without a file', () => {
    const settings = loadSettings({ flags: { nodeId: 'flag-node' }, env: { SWITCHBOARD_LISTEN: '127.0.0.1:2001' } });
    expect(settings.listen.port).toBe(2001);
    expect(settings.nodeId).toBe('flag-node');
    expect(settings.management.listen).toEqual({ host: '127.0.0.1', port: 8081 });
  });

  it('an empty variable counts as unset', () => {
    const settings = loadSettings({ configFile: configFile(fileText), flags: {}, env: { SWITCHBOARD_LISTEN: '', SWITCHBOARD_BACKPLANE: ' ' } });
    expect(settings.listen.port).toBe(1001);
    expect(settings.backplane).toBe('redis://file:6379');
  });

  it('relative spec paths from variables and flags are resolved against the working directory', () => {
    expect(loadSettings({ flags: {}, env: { SWITCHBOARD_SPEC: 'gw.yaml' } }).specs).toEqual([path.resolve('gw.yaml')]);
    expect(loadSettings({ flags: { spec: ['a.yaml', 'b.yaml'] }, env: {} }).specs).toEqual([path.resolve('a.yaml'), path.resolve('b.yaml')]);
  });
});

describe('API keys from variables and flags', () => {
  it('are added, with every scope, to the keys of the file', () => {
    const file = configFile('management:\n  apiKeys:\n    - key: file-key-0123456789abcdef\n      scopes: [read]\n');
    const settings = loadSettings({
      configFile: file,
      flags: { apiKey: ['flag-key-0123456789abcdef'] },
      env: { SWITCHBOARD_API_KEYS: 'env-key-a-0123456789, env-key-b-0123456789,' },
    });
    expect(settings.management.apiKeys).toEqual([
      { key: 'file-key-0123456789abcdef', scopes: ['read'] },
      { key: 'env-key-a-0123456789', scopes: [...ALL_SCOPES] },
      { key: 'env-key-b-0123456789', scopes: [...ALL_SCOPES] },
      { key: 'flag-key-0123456789abcdef', scopes: [...ALL_SCOPES] },
    ]);
  });

  it('replace a file entry for the same key, so the later layer wins', () => {
    const file = configFile('management:\n  apiKeys:\n    - key: shared-key-0123456789\n      scopes: [read]\n      tenantId: acme\n');
    const settings = loadSettings({ configFile: file, flags: { apiKey: ['shared-key-0123456789'] }, env: { SWITCHBOARD_API_KEYS: 'shared-key-0123456789' } });
    expect(settings.management.apiKeys).toEqual([{ key: 'shared-key-0123456789', scopes: ['read', 'write', 'broadcast'] }]);
  });

  it('reject a key with spaces without echoing it', () => {
    const error = configErrorOf(() => loadSettings({ flags: { apiKey: ['has space'] }, env: {} }));
    expect(error.message).toBe('--api-key #1: management.apiKeys: must be a non-empty key without spaces or commas (value hidden)');
  });
});

describe('${VAR} substitution', () => {
  it('replaces variables inside any string', () => {
    const settings = load(
      'listen: ${HOST}:${PORT}\nmanagement:\n  apiKeys:\n    - key: ${MGMT_KEY}\n      scopes: [read]\nnodeId: node-${ZONE}\n',
      { HOST: '127.0.0.1', PORT: '9999', MGMT_KEY: 'from-env-0123456789abcdef', ZONE: 'b' },
    );
    expect(settings.listen).toEqual({ host: '127.0.0.1', port: 9999 });
    expect(settings.management.apiKeys[0]?.key).toBe('from-env-0123456789abcdef');
    expect(settings.nodeId).toBe('node-b');
  });

  it('supplies numbers and booleans too', () => {
    const settings = load('limits:\n  maxConnections: ${MAX}\ntopics:\n  - pattern: x\n    presence: ${PRESENCE}\n', {
      MAX: '42',
      PRESENCE: 'true',
    });
    expect(settings.limits.maxConnections).toBe(42);
    expect(settings.topics[0]?.presence).toBe(true);
  });

  it('keeps $${ as a literal ${ and a lone $ as it is', () => {
    expect(load('auth:\n  jwt:\n    secret: "pa$$word$${NOT_A_VAR}"\n').auth.jwt?.secret).toBe('pa$$word${NOT_A_VAR}');
  });

  it('a variable that is not a number, where one is needed, is shown as substituted', () => {
    expect(problemOf('limits:\n  maxConnections: ${MAX}\n', { MAX: 'lots' })).toBe(
      'FILE: limits.maxConnections: must be an integer ≥ 1, got "lots"',
    );
  });

  it('an unset variable is an error naming the key and the variable', () => {
    expect(problemOf('management:\n  apiKeys:\n    - key: ${MGMT_KEY}\n      scopes: [read]\n')).toBe(
      'FILE: management.apiKeys[0].key: environment variable MGMT_KEY is not set (referenced as ${MGMT_KEY})',
    );
  });

  it('every unset variable is reported at once, each with the key it is for', () => {
    const text = [
      'management:',
      '  apiKeys:',
      '    - key: ${MGMT_KEY}',
      '      scopes: [read]',
      '    - key: ${READ_KEY}',
      '      scopes: [read]',
      '  awsAccessKeys:',
      '    - accessKeyId: AKID',
      '      secretAccessKey: ${AWS_SECRET}',
      'auth:',
      '  jwt:',
      '    secret: ${JWT_SECRET}',
      '    issuer: https://${ISSUER_HOST}/${MGMT_KEY}',
      'nodeId: node-${SET_ONE}',
      '',
    ].join('\n');
    expect(problemOf(text, { SET_ONE: 'a' })).toBe(
      'FILE: management.apiKeys[0].key: environment variable MGMT_KEY is not set (referenced as ${MGMT_KEY}, also in auth.jwt.issuer); ' +
        'also not set: READ_KEY (management.apiKeys[1].key), AWS_SECRET (management.awsAccessKeys[0].secretAccessKey), ' +
        'JWT_SECRET (auth.jwt.secret), ISSUER_HOST (auth.jwt.issuer)',
    );
  });

  it('an unclosed reference is an error', () => {
    expect(problemOf('nodeId: node-${ZONE\n', { ZONE: 'a' })).toBe(
      'FILE: nodeId: has an unclosed "${" (write "$${" for a literal "${")',
    );
  });
});

describe('validation errors name the file, the key path and the problem', () => {
  const cases: [string, string, string][] = [
    ['a non-integer limit', 'limits:\n  maxFrameBytes: abc\n', 'FILE: limits.maxFrameBytes: must be an integer ≥ 1, got "abc"'],
    ['a zero limit', 'limits:\n  maxConnections: 0\n', 'FILE: limits.maxConnections: must be an integer ≥ 1, got 0'],
    ['a fractional limit', 'limits:\n  maxMessageBytes: 1.5\n', 'FILE: limits.maxMessageBytes: must be an integer ≥ 1, got 1.5'],
    ['a negative per-address accept budget', 'limits:\n  acceptsPerSecondPerIp: -1\n', 'FILE: limits.acceptsPerSecondPerIp: must be an integer ≥ 0, got -1'],
    ['no pending handshakes at all', 'limits:\n  pendingHandshakesPerIp: 0\n', 'FILE: limits.pendingHandshakesPerIp: must be an integer ≥ 1, got 0'],
    [
      'a timer past Node limits',
      'limits:\n  heartbeatSeconds: 99999999\n',
      'FILE: limits.heartbeatSeconds: must be an integer from 1 to 2147483, got 99999999',
    ],
    ['an unknown root key', 'limts:\n  maxFrameBytes: 1\n', 'FILE: limts: unknown key "limts" (did you mean "limits"?)'],
    [
      'an unknown nested key far from any known one',
      'log:\n  colour: red\n',
      'FILE: log.colour: unknown key "colour"; allowed keys: level, format',
    ],
    [
      'a typo in a limit',
      'limits:\n  maxFramebytes: 10\n',
      'FILE: limits.maxFramebytes: unknown key "maxFramebytes" (did you mean "maxFrameBytes"?)',
    ],
    [
      'a scope that does not exist',
      'management:\n  apiKeys:\n    - key: key-a-0123456789abcdef\n      scopes: [read]\n    - key: key-b-0123456789abcdef\n      scopes: [admin]\n',
      'FILE: management.apiKeys[1].scopes[0]: must be one of read, write, broadcast, got "admin"',
    ],
    [
      'a key without scopes',
      'management:\n  apiKeys:\n    - key: key-a-0123456789abcdef\n',
      'FILE: management.apiKeys[0].scopes: is required: list one or more of read, write, broadcast',
    ],
    [
      'a repeated API key',
      'management:\n  apiKeys:\n    - {key: key-a-0123456789abcdef, scopes: [read]}\n    - {key: key-a-0123456789abcdef, scopes: [write]}\n',
      'FILE: management.apiKeys[1].key: repeats the key of management.apiKeys[0]',
    ],
    ['a topic without pattern', 'topics:\n  - historySize: 5\n', 'FILE: topics[0].pattern: is required: a glob such as "*:chat.*"'],
    [
      'a repeated topic pattern',
      'topics:\n  - pattern: "a*"\n  - pattern: "a*"\n',
      'FILE: topics[1].pattern: repeats topics[0].pattern "a*", which always matches first',
    ],
    ['a non-boolean requireExp', 'auth:\n  jwt:\n    secret: s\n    requireExp: no\n', 'FILE: auth.jwt.requireExp: must be true or false, got "no"'],
    [
      'a zero maxTokenAgeSeconds',
      'auth:\n  jwt:\n    secret: s\n    maxTokenAgeSeconds: 0\n',
      'FILE: auth.jwt.maxTokenAgeSeconds: must be an integer from 1 to 2147483, got 0',
    ],
    ['a non-boolean flag', 'topics:\n  - pattern: x\n    presence: yes\n', 'FILE: topics[0].presence: must be true or false, got "yes"'],
    [
      'an unknown permission mode',
      'topics:\n  - pattern: x\n    permissions: {subscribe: everyone}\n',
      'FILE: topics[0].permissions.subscribe: must be one of tenant, none, token, backend, got "everyone"',
    ],
    [
      'a permission for an unknown action',
      'topics:\n  - pattern: x\n    permissions: {read: token}\n',
      'FILE: topics[0].permissions.read: unknown key "read"; allowed keys: subscribe, publish, presence, history',
    ],
    [
      'a token permission without auth.jwt',
      'topics:\n  - pattern: x\n    permissions: {history: token}\n',
      'FILE: topics[0].permissions.history: "token" needs auth.jwt: without it no connection carries a token',
    ],
    [
      'a backend permission without authorize',
      'topics:\n  - pattern: x\n    permissions: {subscribe: backend}\n',
      'FILE: topics[0].authorize: is required when a permission of this topic is "backend": {url, timeoutSeconds, cacheSeconds}',
    ],
    [
      'authorize without a backend permission',
      'topics:\n  - pattern: x\n    authorize: {url: "http://127.0.0.1:1/a"}\n',
      'FILE: topics[0].authorize: is set but no permission of this topic is "backend"',
    ],
    [
      'an authorize url that is not http',
      'topics:\n  - pattern: x\n    permissions: {subscribe: backend}\n    authorize: {url: "ftp://a/b"}\n',
      'FILE: topics[0].authorize.url: must be an http:// or https:// URL, got "ftp://a/b"',
    ],
    [
      'an unknown pattern placeholder',
      'topics:\n  - pattern: "{tenant}:user.{userId}"\n',
      'FILE: topics[0].pattern: placeholder "{tenant}" is unknown: use {tenantId} or {userId}',
    ],
    ['a refresh notice of zero', 'auth:\n  jwt:\n    secret: s\n    refreshNoticeSeconds: 0\n', 'FILE: auth.jwt.refreshNoticeSeconds: must be an integer from 1 to 2147483, got 0'],
    [
      'a listen address without host',
      'listen: 8080\n',
      'FILE: listen: must be HOST:PORT (e.g. 0.0.0.0:8080 or [::1]:8081), got 8080',
    ],
    [
      'a bad listen address',
      'listen: "localhost"\n',
      'FILE: listen: must be HOST:PORT (e.g. 0.0.0.0:8080 or [::1]:8081), got "localhost"',
    ],
    [
      'a port out of range',
      'management:\n  listen: 127.0.0.1:70000\n',
      'FILE: management.listen: port must be an integer from 0 to 65535, got "127.0.0.1:70000"',
    ],
    [
      'a bad node id',
      'nodeId: Node_A\n',
      'FILE: nodeId: must be 1 to 20 characters of a-z, 0-9 and "-", starting with a letter or digit, got "Node_A"',
    ],
    [
      'a backplane of another kind',
      'backplane: http://127.0.0.1:6379\n',
      'FILE: backplane: must be a URL starting with redis://, rediss:// or nats:// (NATS also takes a comma-separated list of nats:// URLs), got "http://127.0.0.1:6379"',
    ],
    [
      'a server list mixing kinds',
      'backplane: nats://a:4222,redis://b:6379\n',
      'FILE: backplane: must be a URL starting with redis://, rediss:// or nats:// (NATS also takes a comma-separated list of nats:// URLs), got "nats://a:4222,redis://b:6379"',
    ],
    ['an unknown log level', 'log: {level: verbose}\n', 'FILE: log.level: must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"'],
    [
      'jwt without a key',
      'auth:\n  jwt:\n    issuer: x\n',
      'FILE: auth.jwt: needs exactly one of secret, publicKey or jwksUrl, got none',
    ],
    [
      'jwt with two keys',
      'auth:\n  jwt:\n    secret: s\n    jwksUrl: https://x/jwks\n',
      'FILE: auth.jwt: needs exactly one of secret, publicKey or jwksUrl, got secret and jwksUrl',
    ],
    [
      'an algorithm of the wrong family (algorithm confusion)',
      'auth:\n  jwt:\n    jwksUrl: https://x/jwks\n    algorithms: [RS256, HS256]\n',
      'FILE: auth.jwt.algorithms[1]: with jwksUrl must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, got "HS256"',
    ],
    ['a JWKS URL that is not http', 'auth:\n  jwt:\n    jwksUrl: ftp://x/jwks\n', 'FILE: auth.jwt.jwksUrl: must be an http:// or https:// URL, got "ftp://x/jwks"'],
    ['a numeric secret, not echoed', 'auth:\n  jwt:\n    secret: 123456\n', 'FILE: auth.jwt.secret: must be a string, got a number (value hidden)'],
    ['a trusted proxy that is not an IP', 'trustedProxies: [proxy.local]\n', 'FILE: trustedProxies[0]: must be an IP address, got "proxy.local"'],
    ['a list where a mapping belongs', 'limits: [1, 2]\n', 'FILE: limits: must be a mapping, got a list'],
    ['a root that is not a mapping', '- listen\n', 'FILE: (root): must be a mapping of settings, got a list'],
    [
      'a clash of the two listeners',
      'listen: 0.0.0.0:9000\nmanagement:\n  listen: 127.0.0.1:9000\n',
      'FILE: management.listen: must not share a port with listen (127.0.0.1:9000 and 0.0.0.0:9000)',
    ],
  ];
  it.each(cases)('%s', (_name, text, message) => {
    expect(problemOf(text)).toBe(message);
  });

  it('a YAML syntax error names the file and the line', () => {
    expect(problemOf('listen: 0.0.0.0:8080\nlimits:\n  maxFrameBytes: [1,\n  x: }\n')).toMatch(
      /^FILE: line 4, column \d+: YAML syntax error: /,
    );
  });

  it('a duplicated key is reported as a YAML error with its line', () => {
    expect(problemOf('listen: 0.0.0.0:1\nnodeId: a\nlisten: 0.0.0.0:2\n')).toBe(
      'FILE: line 3, column 1: YAML syntax error: Map keys must be unique',
    );
  });

  it('a missing config file is an error naming the file', () => {
    const file = path.join(tempDir(), 'missing.yaml');
    const error = configErrorOf(() => loadSettings({ configFile: file, flags: {}, env: {} }));
    expect(error.message).toBe(`${file}: (root): config file not found`);
  });

  it('a config path that is a directory says so in words, not as an errno code', () => {
    const dir = tempDir();
    expect(configErrorOf(() => loadSettings({ configFile: dir, flags: {}, env: {} })).message).toBe(
      `${dir}: (root): cannot read the config file: is a directory, not a file`,
    );
  });

  it('a public key file that is missing or not a key is named', () => {
    const missing = configFile('auth:\n  jwt:\n    publicKey: ./nope.pem\n');
    expect(configErrorOf(() => loadSettings({ configFile: missing, flags: {}, env: {} })).message).toBe(
      `${missing}: auth.jwt.publicKey: cannot read "${path.join(path.dirname(missing), 'nope.pem')}": file not found`,
    );
    const garbage = configFile('auth:\n  jwt:\n    publicKey: ./bad.pem\n', { 'bad.pem': 'not a key' });
    expect(configErrorOf(() => loadSettings({ configFile: garbage, flags: {}, env: {} })).message).toBe(
      `${garbage}: auth.jwt.publicKey: "${path.join(path.dirname(garbage), 'bad.pem')}" is not a PEM public key or certificate`,
    );
  });

  it('an empty --spec is refused, naming the flag, instead of reading the working directory as a spec', () => {
    expect(configErrorOf(() => loadSettings({ flags: { spec: ['gw.yaml', ''] }, env: {} })).message).toBe(
      "--spec #2: spec: must not be empty: give the gateway spec's file name",
    );
  });

  it('a bad flag is named by the flag', () => {
    expect(configErrorOf(() => loadSettings({ flags: { listen: 'nowhere' }, env: {} })).message).toBe(
      '--listen: listen: must be HOST:PORT (e.g. 0.0.0.0:8080 or [::1]:8081), got "nowhere"',
    );
    expect(configErrorOf(() => loadSettings({ flags: { logLevel: 'loud' }, env: {} })).message).toBe(
      '--log-level: log.level: must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    );
    expect(configErrorOf(() => loadSettings({ flags: { nodeId: '-x' }, env: {} })).source).toBe('--node-id');
  });

  it('a bad variable is named by the variable', () => {
    expect(configErrorOf(() => loadSettings({ flags: {}, env: { SWITCHBOARD_LISTEN: '0.0.0.0:99999' } })).message).toBe(
      'SWITCHBOARD_LISTEN: listen: port must be an integer from 0 to 65535, got "0.0.0.0:99999"',
    );
    expect(configErrorOf(() => loadSettings({ flags: {}, env: { SWITCHBOARD_BACKPLANE: 'memory' } })).source).toBe('SWITCHBOARD_BACKPLANE');
  });

  it('a listener clash is blamed on the layer that introduced it', () => {
    const error = configErrorOf(() => loadSettings({ flags: {}, env: { SWITCHBOARD_LISTEN: '127.0.0.1:8081' } }));
    expect(error.message).toBe('SWITCHBOARD_LISTEN: listen: must not share a port with management.listen (127.0.0.1:8081 and 127.0.0.1:8081)');
  });

  it('listeners on port 0 never clash', () => {
    const settings = loadSettings({ flags: { listen: '127.0.0.1:0', managementListen: '127.0.0.1:0' }, env: {} });
    expect(settings.listen.port).toBe(0);
    expect(settings.management.listen.port).toBe(0);
  });
});

describe('parseHostPort', () => {
  it.each([
    ['0.0.0.0:8080', { host: '0.0.0.0', port: 8080 }],
    ['127.0.0.1:0', { host: '127.0.0.1', port: 0 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
    ['[::1]:8081', { host: '::1', port: 8081 }],
    ['[::]:80', { host: '::', port: 80 }],
    ['gw-1.internal.example:443', { host: 'gw-1.internal.example', port: 443 }],
  ])('reads %s', (text, expected) => {
    expect(parseHostPort(text, 'test', 'listen')).toEqual(expected);
    expect(formatHostPort(expected)).toBe(text);
  });

  it.each([
    ['8080', 'must be HOST:PORT (e.g. 0.0.0.0:8080 or [::1]:8081), got "8080"'],
    [':8080', 'must be HOST:PORT (e.g. 0.0.0.0:8080 or [::1]:8081), got ":8080"'],
    ['0.0.0.0:', 'port must be an integer from 0 to 65535, got "0.0.0.0:"'],
    ['0.0.0.0:http', 'port must be an integer from 0 to 65535, got "0.0.0.0:http"'],
    ['0.0.0.0:65536', 'port must be an integer from 0 to 65535, got "0.0.0.0:65536"'],
    ['0.0.0.0:-1', 'port must be an integer from 0 to 65535, got "0.0.0.0:-1"'],
    ['::1:8081', 'an IPv6 host must be written in brackets (e.g. [::1]:8081), got "::1:8081"'],
    ['[nothost]:8081', 'host must be an IPv6 address inside [], got "[nothost]:8081"'],
    ['bad host:80', 'must be HOST:PORT (e.g. 0.0.0.0:8080 or [::1]:8081), got "bad host:80"'],
  ])('rejects %s', (text, problem) => {
    const error = configErrorOf(() => parseHostPort(text, 'SOURCE', 'management.listen'));
    expect(error.message).toBe(`SOURCE: management.listen: ${problem}`);
  });
});
