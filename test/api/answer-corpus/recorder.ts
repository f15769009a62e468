/**
 * Sends the corpus requests (requests.ts) to a real node, in order, and keeps each answer's
 * status, Content-Type, x-amzn-ErrorType and body, with the values that differ from run to
 * run masked: connection ids (named by the order they were opened), timestamps, epochs,
 * liveness, and the Prometheus texts. Lists are put in id order of the masked names, since
 * the real ids are random.
 */
import { request } from 'node:http';
import { amzDateOf, sha256Hex, sign } from '../../../src/api/sigv4.js';
import { dummy, specYaml } from '../../support/fixtures.js';
import { connectClient, startTestNode, type TestClient, type TestNode } from '../../support/harness.js';
import { AWS_KEY, KEYS, corpusRequests, type CorpusRequest } from './requests.js';

export interface RecordedAnswer {
  status: number;
  contentType: string | null;
  awsErrorType?: string;
  body: string;
}

export interface CorpusEntry {
  name: string;
  request: { method: string; path: string; headers: Record<string, string>; body?: string };
  answer: RecordedAnswer;
}

const SPEC = specYaml({ '/ws': { message: dummy('') } }, 'corpus-gw');

const CONNECTIONS = ['c1', 'c2', 'c3', 'c4'] as const;

/** Starts the node the corpus is recorded against, with every kind of key and four connections. */
async function startCorpusNode(): Promise<{ node: TestNode; clients: TestClient[]; ids: Map<string, string> }> {
  const node = await startTestNode({
    spec: SPEC,
    settings: {
      nodeId: 'corpus-node',
      management: {
        apiKeys: [
          { key: KEYS.admin, scopes: ['read', 'write', 'broadcast'] },
          { key: KEYS.read, scopes: ['read'] },
          { key: KEYS.write, scopes: ['write'] },
          { key: KEYS.broadcast, scopes: ['broadcast'] },
          { key: KEYS.tenant, scopes: ['read', 'write', 'broadcast'], tenantId: 'acme' },
        ],
        awsAccessKeys: [AWS_KEY],
      },
      auth: { failureThrottle: { maxFailures: 0, windowSeconds: 60, cooldownSeconds: 60 } },
      topics: [{ pattern: 'room.*', historySize: 10, historyTtlSeconds: 3600, presence: true, joinLeave: false }],
    },
  });
  const clients: TestClient[] = [];
  const ids = new Map<string, string>();
  for (const name of CONNECTIONS) {
    const client = await connectClient(node.wsUrl('/ws'), { headers: { 'User-Agent': `corpus-${name}` } });
    clients.push(client);
    ids.set(name, client.upgradeHeaders['x-yc-apigateway-websocket-connection-id'] as string);
  }
  return { node, clients, ids };
}

function send(base: string, req: CorpusRequest, ids: Map<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const path = req.path.replace(/\{(c\d)\}/g, (_m, name: string) => ids.get(name) ?? name);
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const headers: Record<string, string> = { ...req.headers };
  if (body !== undefined) headers['content-length'] = String(body.length);
  if (req.sigv4 !== undefined) {
    const url = new URL(path, base);
    const amzDate = amzDateOf(Date.now());
    const signedHeaders: Record<string, string> = { host: url.host, 'x-amz-date': amzDate, 'x-amz-content-sha256': sha256Hex(body ?? Buffer.alloc(0)), ...headers };
    const { authorization } = sign(
      { method: req.method, path: url.pathname, query: url.search.slice(1), headers: signedHeaders },
      { accessKeyId: AWS_KEY.accessKeyId, secretAccessKey: req.sigv4.secret ?? AWS_KEY.secretAccessKey, region: 'eu-central-1', service: 'execute-api', amzDate, ...(body ? { body } : {}) },
    );
    Object.assign(headers, signedHeaders, { authorization });
  }
  return new Promise((resolve, reject) => {
    const outgoing = request(`${base}${path}`, { method: req.method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

const TIMESTAMP = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z/g;

/** The masked text of an answer body; JSON is re-written only where something was masked or sorted. */
export function maskBody(text: string, ids: Map<string, string>): string {
  let masked = text;
  for (const [name, id] of ids) masked = masked.split(id).join(`<${name}>`);
  masked = masked.replace(TIMESTAMP, '<time>');
  if (masked.startsWith('# HELP')) return '<prometheus text>';
  let json: unknown;
  try {
    json = JSON.parse(masked);
  } catch {
    return masked;
  }
  const normalised = JSON.stringify(normalise(json));
  // Keep the bytes as answered unless normalising changed something.
  return normalised === JSON.stringify(json) ? masked : normalised;
}

/** Strings this long (a publication at the size limit) are kept as their length and digest. */
const LONG = 4096;

function normalise(value: unknown, key?: string): unknown {
  if (Array.isArray(value)) {
    const items = value.map((item) => normalise(item));
    if (key === 'connections') items.sort((a, b) => idOf(a).localeCompare(idOf(b)));
    return items;
  }
  if (value === null || typeof value !== 'object') {
    if (key === 'epoch' && typeof value === 'string') return '<epoch>';
    if (key === 'isAlive' && typeof value === 'boolean') return '<isAlive>';
    if (key === 'metrics' && typeof value === 'string' && value.startsWith('# HELP')) return '<prometheus text>';
    if (typeof value === 'string' && value.length > LONG) return `<${value.length} characters, sha256 ${sha256Hex(value).slice(0, 16)}>`;
    return value;
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v, k)]));
}

function idOf(value: unknown): string {
  const record = value as { id?: string; connectionId?: string };
  return record.id ?? record.connectionId ?? '';
}

/** The request as the fixture shows it: long bodies cut, signatures left out. */
function shown(req: CorpusRequest): CorpusEntry['request'] {
  const body = req.body === undefined ? undefined : req.body.length > 300 ? `${req.body.slice(0, 120)}… (${req.body.length} characters)` : req.body;
  return { method: req.method, path: req.path, headers: req.sigv4 ? { ...req.headers, authorization: `<sigv4${req.sigv4.secret ? ' with a wrong secret' : ''}>` } : req.headers, ...(body !== undefined ? { body } : {}) };
}

/** Records the whole corpus against a fresh node. */
export async function recordCorpus(): Promise<CorpusEntry[]> {
  const { node, clients, ids } = await startCorpusNode();
  try {
    const entries: CorpusEntry[] = [];
    for (const req of corpusRequests()) {
      const answer = await send(node.apiUrl, req, ids);
      const awsErrorType = answer.headers['x-amzn-errortype'];
      entries.push({
        name: req.name,
        request: shown(req),
        answer: {
          status: answer.status,
          contentType: (answer.headers['content-type'] as string | undefined) ?? null,
          ...(typeof awsErrorType === 'string' ? { awsErrorType } : {}),
          body: maskBody(answer.body, ids),
        },
      });
    }
    return entries;
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await node.close();
  }
}
