/**
 * The requests of the management API's answer corpus: every route, with valid input and bad
 * input of every kind, under every kind of key. `{c1}`…`{c4}` in a path stand for the ids of
 * the connections the recorder opens first; the list is sent in order, one request at a time,
 * so what one request changes (a publication, a closed connection) is the same on every run.
 */

import { V1 } from '../../support/harness.js';

export const KEYS = {
  admin: 'corpus-admin-key-0123456789abcdef',
  read: 'corpus-read-key-0123456789abcdef',
  write: 'corpus-write-key-0123456789abcdef',
  broadcast: 'corpus-broadcast-key-0123456789ab',
  tenant: 'corpus-tenant-key-0123456789abcdef',
} as const;

export const AWS_KEY = { accessKeyId: 'AKIDCORPUS', secretAccessKey: 'corpus/aws+secret' };

export interface CorpusRequest {
  name: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** Signed with AWS_KEY (or this secret) by the recorder, for `@connections`. */
  sigv4?: { secret?: string };
}

type Key = keyof typeof KEYS | 'none' | 'wrong' | 'basic';

const JSON_TYPE = { 'content-type': 'application/json' };

function auth(key: Key): Record<string, string> {
  switch (key) {
    case 'none':
      return {};
    case 'wrong':
      return { authorization: 'Bearer corpus-not-a-configured-key-000' };
    case 'basic':
      return { authorization: 'Basic dXNlcjpwYXNz' };
    default:
      return { authorization: `Bearer ${KEYS[key]}` };
  }
}

const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64');

/** JSON bodies for the `{data, type}` payload of send, publish, users:send and tenants:broadcast. */
const PAYLOADS: [string, string][] = [
  ['TEXT', JSON.stringify({ data: b64('hello'), type: 'TEXT' })],
  ['BINARY', JSON.stringify({ data: b64('bin'), type: 'BINARY' })],
  ['TYPE_UNSPECIFIED', JSON.stringify({ data: b64('x'), type: 'TYPE_UNSPECIFIED' })],
  ['no type', JSON.stringify({ data: b64('no type') })],
  ['url-safe base64', JSON.stringify({ data: Buffer.from([0xfb, 0xff]).toString('base64url'), type: 'BINARY' })],
  ['empty data', JSON.stringify({ data: '' })],
  ['data missing', JSON.stringify({ type: 'TEXT' })],
  ['data a number', JSON.stringify({ data: 42, type: 'TEXT' })],
  ['data null', JSON.stringify({ data: null })],
  ['data an array', JSON.stringify({ data: ['aGk='] })],
  ['data an object', JSON.stringify({ data: { a: 1 } })],
  ['data not base64', JSON.stringify({ data: '!!!not base64', type: 'TEXT' })],
  ['data with bad padding', JSON.stringify({ data: 'aGk===', type: 'TEXT' })],
  ['type JSON', JSON.stringify({ data: b64('x'), type: 'JSON' })],
  ['type lower-case', JSON.stringify({ data: b64('x'), type: 'text' })],
  ['type a number', JSON.stringify({ data: b64('x'), type: 1 })],
  ['type null', JSON.stringify({ data: b64('x'), type: null })],
  ['type an array', JSON.stringify({ data: b64('x'), type: ['TEXT'] })],
  ['TEXT not UTF-8', JSON.stringify({ data: b64(Buffer.from([0xff, 0xfe])), type: 'TEXT' })],
  ['data over the limit', JSON.stringify({ data: b64(Buffer.alloc(131073, 0x61)), type: 'BINARY' })],
  ['data at the limit', JSON.stringify({ data: b64(Buffer.alloc(131072, 0x61)), type: 'BINARY' })],
  ['an extra field', JSON.stringify({ data: b64('x'), type: 'TEXT', extra: true })],
  ['two extra fields', JSON.stringify({ zeta: 1, data: b64('x'), alpha: 2 })],
  ['bad data and an extra field', JSON.stringify({ data: 7, extra: 1 })],
  ['bad type and bad data', JSON.stringify({ data: 7, type: 'JSON' })],
  ['a JSON array', '[1,2]'],
  ['a JSON string', '"hello"'],
  ['JSON null', 'null'],
  ['a JSON number', '12'],
  ['an empty object', '{}'],
];

/** Bodies that are not a JSON object, or not JSON at all, under various content types. */
const RAW_BODIES: [string, string | undefined, Record<string, string>][] = [
  ['empty body, JSON type', '', JSON_TYPE],
  ['no body, no type', undefined, {}],
  ['broken JSON', '{"data":', JSON_TYPE],
  ['not JSON, JSON type', 'data=aGk', JSON_TYPE],
  ['JSON, form type', JSON.stringify({ data: b64('form'), type: 'TEXT' }), { 'content-type': 'application/x-www-form-urlencoded' }],
  ['form, form type', 'data=aGk&type=TEXT', { 'content-type': 'application/x-www-form-urlencoded' }],
  ['JSON, no type', JSON.stringify({ data: b64('bare'), type: 'TEXT' }), {}],
  ['not JSON, no type', 'data=aGk', {}],
  ['JSON, text/plain', JSON.stringify({ data: b64('x') }), { 'content-type': 'text/plain' }],
  ['JSON, text/csv', JSON.stringify({ data: b64('x') }), { 'content-type': 'text/csv' }],
  ['JSON, charset param', JSON.stringify({ data: b64('cs'), type: 'TEXT' }), { 'content-type': 'application/json; charset=utf-8' }],
  ['JSON, upper-case type', JSON.stringify({ data: b64('uc'), type: 'TEXT' }), { 'content-type': 'APPLICATION/JSON' }],
  ['JSON, octet-stream', JSON.stringify({ data: b64('x') }), { 'content-type': 'application/octet-stream' }],
  ['body over 256 KiB', JSON.stringify({ data: 'A'.repeat(300_000) }), JSON_TYPE],
  ['JSON with a BOM', `\uFEFF${JSON.stringify({ data: b64('bom') })}`, JSON_TYPE],
  ['JSON with __proto__', '{"data":"aGk=","__proto__":{"x":1}}', JSON_TYPE],
  ['JSON with constructor', '{"data":"aGk=","constructor":{"prototype":{"x":1}}}', JSON_TYPE],
];

function post(name: string, path: string, key: Key, body: string | undefined, headers: Record<string, string> = JSON_TYPE): CorpusRequest {
  return { name, method: 'POST', path, headers: { ...auth(key), ...headers }, ...(body !== undefined ? { body } : {}) };
}

function get(name: string, path: string, key: Key = 'admin'): CorpusRequest {
  return { name, method: 'GET', path, headers: auth(key) };
}

/** Every key kind against one call: the scopes, the tenant binding, no key, a wrong one. */
function underEveryKey(name: string, method: string, path: string, body?: string): CorpusRequest[] {
  const keys: Key[] = ['none', 'wrong', 'basic', 'read', 'write', 'broadcast', 'tenant'];
  return keys.map((key) => ({ name: `${name} [key ${key}]`, method, path, headers: { ...auth(key), ...(body !== undefined ? JSON_TYPE : {}) }, ...(body !== undefined ? { body } : {}) }));
}

/** A payload call with every payload and raw body, then the wrong keys with bad bodies (403 before 400). */
function payloadCall(label: string, path: string, extraBodies: [string, string][] = []): CorpusRequest[] {
  const out: CorpusRequest[] = [];
  for (const [name, body] of [...PAYLOADS, ...extraBodies]) out.push(post(`${label}: ${name}`, path, 'admin', body));
  for (const [name, body, headers] of RAW_BODIES) out.push(post(`${label}: ${name}`, path, 'admin', body, headers));
  out.push(...underEveryKey(`${label}: valid body`, 'POST', path, JSON.stringify({ data: b64('k'), type: 'TEXT' })));
  for (const key of ['read', 'tenant', 'none'] as const) {
    out.push(post(`${label}: bad data [key ${key}]`, path, key, JSON.stringify({ data: 7 })));
    out.push(post(`${label}: extra field [key ${key}]`, path, key, JSON.stringify({ data: b64('x'), extra: 1 })));
    out.push(post(`${label}: a JSON array [key ${key}]`, path, key, '[]'));
    out.push(post(`${label}: broken JSON [key ${key}]`, path, key, '{'));
  }
  return out;
}

function connectionRoutes(): CorpusRequest[] {
  const c = `${V1}/connections`;
  const out: CorpusRequest[] = [
    get('get c1', `${c}/{c1}`),
    get('get c1 view=BASIC', `${c}/{c1}?view=BASIC`),
    get('get c1 view=FULL', `${c}/{c1}?view=FULL`),
    get('get c1 view empty', `${c}/{c1}?view=`),
    get('get c1 view=full (lower case)', `${c}/{c1}?view=full`),
    get('get c1 view=VIEW_UNSPECIFIED', `${c}/{c1}?view=VIEW_UNSPECIFIED`),
    get('get c1 view=1', `${c}/{c1}?view=1`),
    get('get c1 view twice', `${c}/{c1}?view=FULL&view=BASIC`),
    get('get c1 view[]', `${c}/{c1}?view[]=FULL`),
    get('get c1 unknown query param', `${c}/{c1}?colour=red`),
    get('get unknown id', `${c}/nope`),
    get('get unknown id, bad view', `${c}/nope?view=WRONG`),
    get('get unknown id, 60 characters', `${c}/${'x'.repeat(60)}`),
    get('get id over the router limit', `${c}/${'y'.repeat(600)}`),
    get('get id with a bad %-escape', `${c}/%E0%A4%A`),
    get('get id with an encoded space', `${c}/a%20b`),
    get('get id with an encoded slash', `${c}/a%2Fb`),
    get('get id with unicode', `${c}/%C3%A9t%C3%A9`),
    get('get c1 trailing slash', `${c}/{c1}/`),
    get('get c1 with a suffix segment', `${c}/{c1}/extra`),
    get('get c1 tenant key', `${c}/{c1}`, 'tenant'),
    get('get c1 tenant key, bad view', `${c}/{c1}?view=WRONG`, 'tenant'),
    get('get c1 read key, bad view', `${c}/{c1}?view=WRONG`, 'read'),
    get('get c1 write key, bad view', `${c}/{c1}?view=WRONG`, 'write'),
    ...underEveryKey('get c1', 'GET', `${c}/{c1}`),
    // List
    get('list', c),
    get('list view=FULL', `${c}?view=FULL`),
    get('list view=BAD', `${c}?view=BAD`),
    get('list pageSize=1', `${c}?pageSize=1`),
    get('list pageSize=2', `${c}?pageSize=2`),
    get('list pageSize=1000', `${c}?pageSize=1000`),
    get('list pageSize=0', `${c}?pageSize=0`),
    get('list pageSize=1001', `${c}?pageSize=1001`),
    get('list pageSize=-1', `${c}?pageSize=-1`),
    get('list pageSize=abc', `${c}?pageSize=abc`),
    get('list pageSize=1.5', `${c}?pageSize=1.5`),
    get('list pageSize=1e2', `${c}?pageSize=1e2`),
    get('list pageSize= 5', `${c}?pageSize=%205`),
    get('list pageSize empty', `${c}?pageSize=`),
    get('list pageSize huge', `${c}?pageSize=99999999999999999999`),
    get('list pageSize twice', `${c}?pageSize=1&pageSize=2`),
    get('list pageSize=007', `${c}?pageSize=007`),
    get('list pageSize bad, view bad', `${c}?pageSize=x&view=y`),
    get('list pageToken garbage', `${c}?pageToken=garbage`),
    get('list pageToken empty', `${c}?pageToken=`),
    get('list pageToken twice', `${c}?pageToken=a&pageToken=b`),
    get('list gatewayId', `${c}?gatewayId=corpus-gw`),
    get('list gatewayId unknown', `${c}?gatewayId=other`),
    get('list gatewayId empty', `${c}?gatewayId=`),
    get('list userId', `${c}?userId=alice`),
    get('list tenantId', `${c}?tenantId=acme`),
    get('list topic', `${c}?topic=room.1`),
    get('list unknown param', `${c}?sort=asc`),
    get('list all filters', `${c}?gatewayId=corpus-gw&tenantId=&userId=&topic=&pageSize=10&view=BASIC`),
    get('list tenant key', c, 'tenant'),
    get('list tenant key, own tenantId', `${c}?tenantId=acme`, 'tenant'),
    get('list tenant key, other tenantId', `${c}?tenantId=other`, 'tenant'),
    get('list tenant key, other tenantId, bad pageSize', `${c}?tenantId=other&pageSize=0`, 'tenant'),
    get('list tenant key, bad pageSize', `${c}?pageSize=0`, 'tenant'),
    get('list write key, bad pageSize', `${c}?pageSize=0`, 'write'),
    ...underEveryKey('list', 'GET', c),
  ];
  // Custom methods
  out.push(...payloadCall('send c1', `${c}/{c1}:send`));
  out.push(post('send unknown id', `${c}/nope:send`, 'admin', JSON.stringify({ data: b64('x') })));
  out.push(post('send unknown id, bad body', `${c}/nope:send`, 'admin', JSON.stringify({ data: 1 })));
  out.push(post('send c1 tenant key', `${c}/{c1}:send`, 'tenant', JSON.stringify({ data: b64('x') })));
  out.push(post('send id with a colon', `${c}/a:b:send`, 'admin', JSON.stringify({ data: b64('x') })));
  out.push(post('no verb', `${c}/{c1}`, 'admin', JSON.stringify({ data: b64('x') })));
  out.push(post('no verb, not an object', `${c}/{c1}`, 'admin', '[]'));
  out.push(post('empty verb', `${c}/{c1}:`, 'admin', JSON.stringify({ data: b64('x') })));
  out.push(post('leading colon', `${c}/:send`, 'admin', JSON.stringify({ data: b64('x') })));
  out.push(post('unknown verb', `${c}/{c1}:ping`, 'admin', JSON.stringify({ data: b64('x') })));
  out.push(post('unknown verb, not an object', `${c}/{c1}:ping`, 'admin', '[]'));
  out.push(post('unknown verb, read key', `${c}/{c1}:ping`, 'read', '{}'));
  out.push(post('verb in upper case', `${c}/{c1}:SEND`, 'admin', JSON.stringify({ data: b64('x') })));
  out.push(post('send, not an object, read key', `${c}/{c1}:send`, 'read', '"x"'));
  for (const verb of ['subscribe', 'unsubscribe']) {
    const path = `${c}/{c1}:${verb}`;
    const topics: [string, string][] = [
      ['room.1', JSON.stringify({ topic: 'room.1' })],
      ['room.2', JSON.stringify({ topic: 'room.2' })],
      ['acme topic', JSON.stringify({ topic: 'acme:room.1' })],
      ['topic missing', '{}'],
      ['topic empty', JSON.stringify({ topic: '' })],
      ['topic a number', JSON.stringify({ topic: 5 })],
      ['topic null', JSON.stringify({ topic: null })],
      ['topic an array', JSON.stringify({ topic: ['room.1'] })],
      ['topic with a space', JSON.stringify({ topic: 'room 1' })],
      ['topic non-ASCII', JSON.stringify({ topic: 'rööm' })],
      ['topic 256 characters', JSON.stringify({ topic: 't'.repeat(256) })],
      ['topic 257 characters', JSON.stringify({ topic: 't'.repeat(257) })],
      ['topic and an extra field', JSON.stringify({ topic: 'room.1', data: 'x' })],
      ['extra field, no topic', JSON.stringify({ data: 'x' })],
      ['bad topic and an extra field', JSON.stringify({ topic: 1, extra: 1 })],
      ['a JSON array', '[]'],
      ['JSON null', 'null'],
    ];
    for (const [name, body] of topics) out.push(post(`${verb} c1: ${name}`, path, 'admin', body));
    for (const [name, body, headers] of RAW_BODIES.slice(0, 9)) out.push(post(`${verb} c1: ${name}`, path, 'admin', body, headers));
    out.push(...underEveryKey(`${verb} c1 room.1`, 'POST', path, JSON.stringify({ topic: 'room.1' })));
    out.push(post(`${verb} c1 tenant key, own tenant topic`, path, 'tenant', JSON.stringify({ topic: 'acme:room.1' })));
    out.push(post(`${verb} c1 tenant key, other tenant topic`, path, 'tenant', JSON.stringify({ topic: 'other:room.1' })));
    out.push(post(`${verb} c1 tenant key, bad topic`, path, 'tenant', JSON.stringify({ topic: 1 })));
    out.push(post(`${verb} c1 read key, bad topic`, path, 'read', JSON.stringify({ topic: 1 })));
    out.push(post(`${verb} unknown id`, `${c}/nope:${verb}`, 'admin', JSON.stringify({ topic: 'room.1' })));
  }
  out.push(post('subscribe c2 room.1', `${c}/{c2}:subscribe`, 'admin', JSON.stringify({ topic: 'room.1' })));
  out.push(post('subscribe c1 room.1 again', `${c}/{c1}:subscribe`, 'admin', JSON.stringify({ topic: 'room.1' })));
  out.push(get('list topic=room.1', `${c}?topic=room.1&view=FULL`));
  out.push(get('get c1 FULL after subscribe', `${c}/{c1}?view=FULL`));
  // Disconnect
  out.push({ name: 'delete c3 read key', method: 'DELETE', path: `${c}/{c3}`, headers: auth('read') });
  out.push({ name: 'delete c3 tenant key', method: 'DELETE', path: `${c}/{c3}`, headers: auth('tenant') });
  out.push({ name: 'delete c3 no key', method: 'DELETE', path: `${c}/{c3}`, headers: auth('none') });
  out.push({ name: 'delete c3 broadcast key', method: 'DELETE', path: `${c}/{c3}`, headers: auth('broadcast') });
  out.push({ name: 'delete unknown id', method: 'DELETE', path: `${c}/nope`, headers: auth('admin') });
  out.push({ name: 'delete with a JSON body', method: 'DELETE', path: `${c}/nope`, headers: { ...auth('admin'), ...JSON_TYPE }, body: '{"x":1}' });
  out.push({ name: 'delete with broken JSON', method: 'DELETE', path: `${c}/nope`, headers: { ...auth('read'), ...JSON_TYPE }, body: '{' });
  out.push({ name: 'delete with a query', method: 'DELETE', path: `${c}/nope?force=true`, headers: auth('admin') });
  out.push({ name: 'delete c3', method: 'DELETE', path: `${c}/{c3}`, headers: auth('admin') });
  out.push({ name: 'delete c3 again', method: 'DELETE', path: `${c}/{c3}`, headers: auth('admin') });
  out.push(get('get c3 after delete', `${c}/{c3}`));
  out.push(post('send c3 after delete', `${c}/{c3}:send`, 'admin', JSON.stringify({ data: b64('x') })));
  out.push(get('list after delete', c));
  return out;
}

function topicRoutes(): CorpusRequest[] {
  const t = `${V1}/topics`;
  const out: CorpusRequest[] = [];
  out.push(...payloadCall('publish room.1', `${t}/room.1:publish`, [
    ['idempotencyKey', JSON.stringify({ data: b64('idem'), type: 'TEXT', idempotencyKey: 'k-1' })],
    ['idempotencyKey repeated', JSON.stringify({ data: b64('idem'), type: 'TEXT', idempotencyKey: 'k-1' })],
    ['idempotencyKey empty', JSON.stringify({ data: b64('x'), idempotencyKey: '' })],
    ['idempotencyKey 256', JSON.stringify({ data: b64('x'), idempotencyKey: 'k'.repeat(256) })],
    ['idempotencyKey 257', JSON.stringify({ data: b64('x'), idempotencyKey: 'k'.repeat(257) })],
    ['idempotencyKey a number', JSON.stringify({ data: b64('x'), idempotencyKey: 5 })],
    ['idempotencyKey null', JSON.stringify({ data: b64('x'), idempotencyKey: null })],
    ['idempotencyKey, bad data', JSON.stringify({ data: 5, idempotencyKey: 5 })],
  ]));
  const publish = JSON.stringify({ data: b64('p'), type: 'TEXT' });
  out.push(post('publish tenant topic, tenant key', `${t}/acme:room.1:publish`, 'tenant', publish));
  out.push(post('publish other tenant topic, tenant key', `${t}/other:room.1:publish`, 'tenant', publish));
  out.push(post('publish other tenant topic, tenant key, bad body', `${t}/other:room.1:publish`, 'tenant', '[]'));
  out.push(post('publish topic outside any tenant, tenant key', `${t}/room.1:publish`, 'tenant', publish));
  out.push(post('publish topic with a space', `${t}/room%201:publish`, 'admin', publish));
  out.push(post('publish topic 257 characters', `${t}/${'t'.repeat(257)}:publish`, 'admin', publish));
  out.push(post('publish topic with a space, read key', `${t}/room%201:publish`, 'read', publish));
  out.push(post('publish topic with a space, bad body', `${t}/room%201:publish`, 'admin', '[]'));
  out.push(post('publish unconfigured topic', `${t}/plain:publish`, 'admin', publish));
  out.push(post('topic no verb', `${t}/room.1`, 'admin', publish));
  out.push(post('topic unknown verb', `${t}/room.1:subscribe`, 'admin', publish));
  out.push(post('topic unknown verb, read key', `${t}/room.1:send`, 'read', '[]'));
  out.push(post('topic empty verb', `${t}/room.1:`, 'admin', publish));
  out.push(post('topic empty name', `${t}/:publish`, 'admin', publish));
  // Presence
  for (const [name, path] of [
    ['presence room.1', `${t}/room.1/presence`],
    ['presence room.2', `${t}/room.2/presence`],
    ['presence unconfigured topic', `${t}/plain/presence`],
    ['presence topic with a space', `${t}/room%201/presence`],
    ['presence topic 257 characters', `${t}/${'t'.repeat(257)}/presence`],
    ['presence acme topic', `${t}/acme:room.1/presence`],
    ['presence with a query', `${t}/room.1/presence?view=FULL`],
  ] as const) out.push(get(name, path));
  out.push(...underEveryKey('presence room.1', 'GET', `${t}/room.1/presence`));
  out.push(get('presence acme topic, tenant key', `${t}/acme:room.1/presence`, 'tenant'));
  out.push(get('presence bad topic, tenant key', `${t}/room%201/presence`, 'tenant'));
  out.push(get('presence bad topic, write key', `${t}/room%201/presence`, 'write'));
  // History
  const h = `${t}/room.1/history`;
  for (const [name, query] of [
    ['all', ''],
    ['sinceOffset=0', '?sinceOffset=0'],
    ['sinceOffset=2', '?sinceOffset=2'],
    ['sinceOffset=1000', '?sinceOffset=1000'],
    ['sinceOffset=-1', '?sinceOffset=-1'],
    ['sinceOffset=abc', '?sinceOffset=abc'],
    ['sinceOffset=1.0', '?sinceOffset=1.0'],
    ['sinceOffset empty', '?sinceOffset='],
    ['sinceOffset huge', '?sinceOffset=99999999999999999999'],
    ['sinceOffset max safe', '?sinceOffset=9007199254740991'],
    ['sinceOffset twice', '?sinceOffset=1&sinceOffset=2'],
    ['limit=1', '?limit=1'],
    ['limit=10000', '?limit=10000'],
    ['limit=0', '?limit=0'],
    ['limit=10001', '?limit=10001'],
    ['limit=x', '?limit=x'],
    ['limit empty', '?limit='],
    ['limit and sinceOffset bad', '?limit=x&sinceOffset=y'],
    ['epoch', '?epoch=some-epoch&sinceOffset=1'],
    ['epoch empty', '?epoch='],
    ['epoch twice', '?epoch=a&epoch=b'],
    ['unknown param', '?order=desc'],
  ] as const) out.push(get(`history room.1 ${name}`, `${h}${query}`));
  out.push(get('history unconfigured topic', `${t}/plain/history`));
  out.push(get('history topic with a space', `${t}/room%201/history`));
  out.push(get('history topic with a space, bad limit', `${t}/room%201/history?limit=x`));
  out.push(...underEveryKey('history room.1', 'GET', h));
  out.push(get('history acme topic, tenant key', `${t}/acme:room.1/history`, 'tenant'));
  out.push(get('history other topic, tenant key, bad limit', `${t}/room.1/history?limit=x`, 'tenant'));
  out.push(get('history read key bad limit', `${h}?limit=0`, 'read'));
  out.push(get('history write key bad limit', `${h}?limit=0`, 'write'));
  return out;
}

function deliveryRoutes(): CorpusRequest[] {
  const u = `${V1}/users`;
  const n = `${V1}/tenants`;
  const out: CorpusRequest[] = [];
  out.push(...payloadCall('user send', `${u}/alice:send`, [
    ['tenantId', JSON.stringify({ data: b64('x'), tenantId: 'acme' })],
    ['tenantId empty', JSON.stringify({ data: b64('x'), tenantId: '' })],
    ['tenantId a number', JSON.stringify({ data: b64('x'), tenantId: 1 })],
    ['tenantId null', JSON.stringify({ data: b64('x'), tenantId: null })],
  ]));
  const payload = JSON.stringify({ data: b64('u'), type: 'TEXT' });
  out.push(post('user send tenant key, own tenant', `${u}/alice:send`, 'tenant', JSON.stringify({ data: b64('x'), tenantId: 'acme' })));
  out.push(post('user send tenant key, other tenant', `${u}/alice:send`, 'tenant', JSON.stringify({ data: b64('x'), tenantId: 'other' })));
  out.push(post('user send tenant key, other tenant, bad data', `${u}/alice:send`, 'tenant', JSON.stringify({ data: 1, tenantId: 'other' })));
  out.push(post('user send tenant key, tenantId a number', `${u}/alice:send`, 'tenant', JSON.stringify({ data: b64('x'), tenantId: 1 })));
  out.push(post('user with a colon in the id', `${u}/a:b:send`, 'admin', payload));
  out.push(post('user unknown verb', `${u}/alice:kick`, 'admin', payload));
  out.push(post('user no verb', `${u}/alice`, 'admin', payload));
  out.push(post('user unknown verb, not an object', `${u}/alice:kick`, 'admin', '[]'));
  out.push(post('user encoded id', `${u}/al%20ice:send`, 'admin', payload));
  // users:disconnect
  const d = `${u}/alice:disconnect`;
  for (const [name, body, headers] of [
    ['no body', undefined, {}],
    ['empty object', '{}', JSON_TYPE],
    ['JSON null', 'null', JSON_TYPE],
    ['tenantId', JSON.stringify({ tenantId: 'acme' }), JSON_TYPE],
    ['tenantId empty', JSON.stringify({ tenantId: '' }), JSON_TYPE],
    ['tenantId a number', JSON.stringify({ tenantId: 3 }), JSON_TYPE],
    ['tenantId null', JSON.stringify({ tenantId: null }), JSON_TYPE],
    ['extra field', JSON.stringify({ reason: 'x' }), JSON_TYPE],
    ['tenantId and extra field', JSON.stringify({ tenantId: 'acme', code: 4000 }), JSON_TYPE],
    ['a JSON array', '[]', JSON_TYPE],
    ['a JSON string', '"x"', JSON_TYPE],
    ['a JSON number', '0', JSON_TYPE],
    ['JSON false', 'false', JSON_TYPE],
    ['empty body, JSON type', '', JSON_TYPE],
    ['broken JSON', '{', JSON_TYPE],
    ['form type, JSON', '{}', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['form type, empty', '', { 'content-type': 'application/x-www-form-urlencoded' }],
    ['text/plain', '{}', { 'content-type': 'text/plain' }],
    ['JSON, no type', '{"tenantId":"acme"}', {}],
  ] as const) out.push(post(`user disconnect: ${name}`, d, 'admin', body, headers));
  out.push(...underEveryKey('user disconnect', 'POST', d, '{}'));
  out.push(post('user disconnect tenant key, other tenant', d, 'tenant', JSON.stringify({ tenantId: 'other' })));
  out.push(post('user disconnect tenant key, own tenant', d, 'tenant', JSON.stringify({ tenantId: 'acme' })));
  out.push(post('user disconnect read key, bad body', d, 'read', '[]'));
  out.push(post('user disconnect read key, extra field', d, 'read', JSON.stringify({ x: 1 })));
  // tenants:broadcast
  out.push(...payloadCall('tenant broadcast', `${n}/acme:broadcast`));
  out.push(post('tenant broadcast, other tenant, tenant key', `${n}/other:broadcast`, 'tenant', payload));
  out.push(post('tenant broadcast, other tenant, tenant key, bad body', `${n}/other:broadcast`, 'tenant', '[]'));
  out.push(post('tenant broadcast, tenantId field', `${n}/acme:broadcast`, 'admin', JSON.stringify({ data: b64('x'), tenantId: 'acme' })));
  out.push(post('tenant unknown verb', `${n}/acme:send`, 'admin', payload));
  out.push(post('tenant unknown verb, read key', `${n}/acme:send`, 'read', '[]'));
  out.push(post('tenant no verb', `${n}/acme`, 'admin', payload));
  out.push(post('tenant empty name', `${n}/:broadcast`, 'admin', payload));
  return out;
}

function operationRoutes(): CorpusRequest[] {
  const out: CorpusRequest[] = [
    get('healthz', '/healthz', 'none'),
    get('healthz with a wrong key', '/healthz', 'wrong'),
    get('readyz', '/readyz', 'none'),
    get('openapi.json', '/openapi.json', 'none'),
    get('metrics', '/metrics'),
    get('metrics read key', '/metrics', 'read'),
    get('metrics write key', '/metrics', 'write'),
    get('metrics no key', '/metrics', 'none'),
    get('metrics wrong key', '/metrics', 'wrong'),
    get('metrics tenant key', '/metrics', 'tenant'),
    get('node metrics', `${V1}/nodes/metrics`),
    ...underEveryKey('node metrics', 'GET', `${V1}/nodes/metrics`),
    get('node metrics with a query', `${V1}/nodes/metrics?node=x`),
  ];
  return out;
}

function strayRequests(): CorpusRequest[] {
  const c = `${V1}/connections`;
  const out: CorpusRequest[] = [
    get('unknown root path', '/nope', 'none'),
    get('unknown API path', `${V1}/nope`),
    get('unknown API path, no key', `${V1}/nope`, 'none'),
    get('v2 path', '/apigateways/websocket/v2/connections'),
    get('root', '/', 'none'),
    get('users collection', `${V1}/users`),
    get('topics collection', `${V1}/topics`),
    get('GET a custom method', `${c}/{c1}:send`),
    get('GET a topic', `${V1}/topics/room.1`),
    get('GET a user', `${V1}/users/alice`),
    get('GET a tenant', `${V1}/tenants/acme:broadcast`),
    get('list with a trailing slash', `${c}/`),
    get('double slash', `${V1}//connections`),
    get('query only', `${c}?`),
  ];
  for (const method of ['PUT', 'PATCH', 'OPTIONS']) {
    out.push({ name: `${method} a connection`, method, path: `${c}/{c1}`, headers: { ...auth('admin'), ...JSON_TYPE }, body: '{}' });
    out.push({ name: `${method} the list`, method, path: c, headers: { ...auth('admin'), ...JSON_TYPE }, body: '{}' });
    out.push({ name: `${method} healthz`, method, path: '/healthz', headers: { ...JSON_TYPE }, body: '{}' });
  }
  out.push(post('POST the list', c, 'admin', '{}'));
  out.push(post('POST healthz', '/healthz', 'none', '{}'));
  out.push(post('POST metrics', '/metrics', 'admin', '{}'));
  out.push(post('POST presence', `${V1}/topics/room.1/presence`, 'admin', '{}'));
  out.push({ name: 'DELETE the list', method: 'DELETE', path: c, headers: auth('admin') });
  out.push({ name: 'DELETE a topic', method: 'DELETE', path: `${V1}/topics/room.1`, headers: auth('admin') });
  out.push({ name: 'DELETE healthz', method: 'DELETE', path: '/healthz', headers: {} });
  out.push({ name: 'HEAD healthz', method: 'HEAD', path: '/healthz', headers: {} });
  out.push({ name: 'HEAD a connection', method: 'HEAD', path: `${c}/{c1}`, headers: auth('admin') });
  out.push({ name: 'HEAD a connection, no key', method: 'HEAD', path: `${c}/{c1}`, headers: {} });
  out.push(get('Api-Key scheme', `${c}/{c1}`, 'none'));
  out[out.length - 1]!.headers = { authorization: `Api-Key ${KEYS.read}` };
  out.push({ name: 'lower-case bearer', method: 'GET', path: `${c}/{c1}`, headers: { authorization: `bearer ${KEYS.read}` } });
  out.push({ name: 'bearer without a key', method: 'GET', path: `${c}/{c1}`, headers: { authorization: 'Bearer' } });
  out.push({ name: 'bearer with two keys', method: 'GET', path: `${c}/{c1}`, headers: { authorization: `Bearer ${KEYS.read} ${KEYS.admin}` } });
  out.push({ name: 'empty authorization', method: 'GET', path: `${c}/{c1}`, headers: { authorization: '' } });
  return out;
}

function awsRoutes(): CorpusRequest[] {
  const out: CorpusRequest[] = [];
  for (const prefix of ['', '/production']) {
    const p = `${prefix}/@connections`;
    const label = prefix === '' ? '@connections' : 'staged @connections';
    const signed = (name: string, method: string, path: string, headers: Record<string, string> = {}, body?: string, secret?: string): CorpusRequest => ({
      name: `${label}: ${name}`,
      method,
      path,
      headers,
      ...(body !== undefined ? { body } : {}),
      sigv4: secret === undefined ? {} : { secret },
    });
    out.push(
      signed('get c1', 'GET', `${p}/{c1}`),
      signed('get unknown', 'GET', `${p}/nope`),
      signed('post text to c1', 'POST', `${p}/{c1}`, { 'content-type': 'application/octet-stream' }, 'hello'),
      signed('post JSON to c1', 'POST', `${p}/{c1}`, { 'content-type': 'application/json' }, '{"a":1}'),
      signed('post broken JSON to c1', 'POST', `${p}/{c1}`, { 'content-type': 'application/json' }, '{'),
      signed('post empty to c1', 'POST', `${p}/{c1}`, { 'content-type': 'application/octet-stream' }, ''),
      signed('post BINARY header', 'POST', `${p}/{c1}`, { 'x-switchboard-message-type': 'binary' }, 'b'),
      signed('post TEXT header', 'POST', `${p}/{c1}`, { 'x-switchboard-message-type': 'TEXT' }, 't'),
      signed('post bad type header', 'POST', `${p}/{c1}`, { 'x-switchboard-message-type': 'JSON' }, 't'),
      signed('post to unknown', 'POST', `${p}/nope`, { 'content-type': 'text/plain' }, 'x'),
      signed('post over the limit', 'POST', `${p}/{c1}`, { 'content-type': 'application/octet-stream' }, 'z'.repeat(131073)),
      signed('get with a bad secret', 'GET', `${p}/{c1}`, {}, undefined, 'wrong-secret'),
      signed('delete unknown', 'DELETE', `${p}/nope`),
      signed('put c1', 'PUT', `${p}/{c1}`, { 'content-type': 'text/plain' }, 'x'),
      { name: `${label}: unsigned get`, method: 'GET', path: `${p}/{c1}`, headers: {} },
      { name: `${label}: API key get`, method: 'GET', path: `${p}/{c1}`, headers: auth('admin') },
      { name: `${label}: garbage authorization`, method: 'GET', path: `${p}/{c1}`, headers: { authorization: 'AWS4-HMAC-SHA256 nonsense' } },
      { name: `${label}: unsigned post`, method: 'POST', path: `${p}/{c1}`, headers: { 'content-type': 'text/plain' }, body: 'x' },
    );
  }
  out.push({ name: '@connections without an id', method: 'GET', path: '/@connections/', headers: {} }, { name: '@connections collection', method: 'GET', path: '/@connections', headers: {} });
  out.push({
    name: '@connections: delete c4',
    method: 'DELETE',
    path: '/@connections/{c4}',
    headers: {},
    sigv4: {},
  });
  out.push({ name: '@connections: get c4 after delete', method: 'GET', path: '/@connections/{c4}', headers: {}, sigv4: {} });
  return out;
}

export function corpusRequests(): CorpusRequest[] {
  return [...operationRoutes(), ...connectionRoutes(), ...topicRoutes(), ...deliveryRoutes(), ...strayRequests(), ...awsRoutes()];
}
