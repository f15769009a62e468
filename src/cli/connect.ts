/**
 * `switchboard connect URL`: a test client in the manner of wscat, with output a script can
 * read: `connected <id>`, `< message` per message, `closed <code> <reason>`.
 */
import type { IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
import WebSocket from 'ws';
import { UsageError } from './options.js';

/** The connection could not be opened: `exitCode` 1 when the server refused the handshake, 3 when nothing answered. */
export class ConnectFailed extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'ConnectFailed';
  }
}

interface ConnectOptions {
  header: string[];
  binary?: boolean;
  wait: number;
  count?: number;
}

const CONNECTION_ID_HEADER = 'x-yc-apigateway-websocket-connection-id';

const collect = (value: string, previous: string[]): string[] => [...previous, value];

function seconds(value: string): number {
  const n = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !Number.isFinite(n) || n > 86_400) throw new InvalidArgumentError('must be a number of seconds from 0 to 86400.');
  return n;
}

function positiveInteger(value: string): number {
  if (!/^[1-9]\d{0,8}$/.test(value)) throw new InvalidArgumentError('must be a whole number from 1.');
  return Number(value);
}

export function connectCommand(): Command {
  return new Command('connect')
    .description(
      'Open a WebSocket as a client (like wscat): prints "connected <connection-id>", then "< message" for each message that arrives, ' +
        'sends each line of standard input as a message, and prints "closed <code> <reason>" at the end',
    )
    .argument('<url>', 'ws:// or wss:// URL, e.g. ws://127.0.0.1:8080/demo (HOST:PORT/PATH means ws://)')
    .option('-H, --header <name:value>', 'handshake request header, e.g. "Authorization: Bearer T"; repeatable', collect, [])
    .option('--binary', 'send each input line as a binary frame instead of a text frame')
    .option('--wait <seconds>', 'after standard input ends, keep listening this long for replies, then close with 1000', seconds, 1)
    .option('--count <n>', 'close with 1000 as soon as this many messages have arrived', positiveInteger)
    .action(async (url: string, options: ConnectOptions) => {
      await runClient(wsUrl(url), headersOf(options.header), options);
    });
}

function wsUrl(text: string): string {
  const candidate = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `ws://${text}`;
  const url = URL.canParse(candidate) ? new URL(candidate) : undefined;
  if (url === undefined || !['ws:', 'wss:', 'http:', 'https:'].includes(url.protocol) || url.hostname === '') {
    throw new UsageError(`${text}: not a WebSocket URL; give ws://HOST:PORT/PATH or wss://HOST:PORT/PATH`);
  }
  return candidate;
}

function headersOf(pairs: string[]): Record<string, string> {
  // Named, so the connection's identity.userAgent says where it came from; --header may replace it.
  const headers: Record<string, string> = { 'User-Agent': 'switchboard-connect' };
  for (const pair of pairs) {
    const colon = pair.indexOf(':');
    const name = colon < 0 ? '' : pair.slice(0, colon).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new UsageError(`--header ${JSON.stringify(pair)}: must be NAME:VALUE, e.g. "Authorization: Bearer T"`);
    if (name.toLowerCase() === 'user-agent') delete headers['User-Agent'];
    headers[name] = pair.slice(colon + 1).trim();
  }
  return headers;
}

function messageLine(data: WebSocket.RawData, isBinary: boolean): string {
  const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
  return isBinary ? `< [binary ${bytes.length} bytes] ${bytes.toString('base64')}\n` : `< ${bytes.toString('utf8')}\n`;
}

/** Why the connection never opened, naming the URL: the handshake's HTTP answer, or what the network said. */
async function refusal(url: string, err: NodeJS.ErrnoException | undefined, response: IncomingMessage | undefined): Promise<ConnectFailed> {
  if (response !== undefined) {
    let body = '';
    for await (const chunk of response) {
      body += (chunk as Buffer).toString('utf8');
      if (body.length > 200) break;
    }
    const detail = body.trim() === '' ? '' : `: ${body.trim().slice(0, 200)}`;
    return new ConnectFailed(`${url}: handshake refused: HTTP ${response.statusCode} ${response.statusMessage ?? ''}`.trimEnd() + detail, 1);
  }
  const problems: Record<string, string> = {
    ECONNREFUSED: 'connection refused: nothing listens there (is the gateway running?)',
    ENOTFOUND: 'host not found',
    EAI_AGAIN: 'host not found',
    ETIMEDOUT: 'timed out: no answer',
    ECONNRESET: 'the connection was reset during the handshake',
  };
  const problem = (err?.code !== undefined ? problems[err.code] : undefined) ?? err?.message ?? 'the connection failed';
  return new ConnectFailed(`${url}: ${problem}`, 3);
}

function runClient(url: string, headers: Record<string, string>, options: ConnectOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    let connectionId: string | undefined;
    let opened = false;
    let failed = false;
    let received = 0;
    let graceTimer: NodeJS.Timeout | undefined;
    let finished = false;
    let input: ReturnType<typeof createInterface> | undefined;
    const closeNormally = (): void => {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
    };
    const onSignal = (): void => (ws.readyState === WebSocket.CLOSING ? ws.terminate() : closeNormally());
    process.on('SIGINT', onSignal);
    const finish = (): void => {
      finished = true;
      clearTimeout(graceTimer);
      process.off('SIGINT', onSignal);
      input?.close();
      // A terminal's standard input would keep the process alive after the socket is gone.
      process.stdin.destroy();
    };
    const fail = (err: NodeJS.ErrnoException | undefined, response: IncomingMessage | undefined): void => {
      if (failed) return;
      failed = true;
      finish();
      void refusal(url, err, response).then((error) => {
        ws.terminate();
        reject(error);
      });
    };

    ws.on('upgrade', (response) => {
      const id = response.headers[CONNECTION_ID_HEADER];
      connectionId = Array.isArray(id) ? id[0] : id;
    });
    ws.on('unexpected-response', (_request, response) => fail(undefined, response));
    // After the open a 'close' follows every error and says how it ended.
    ws.on('error', (err: NodeJS.ErrnoException) => opened || fail(err, undefined));
    ws.on('open', () => {
      opened = true;
      process.stdout.write(connectionId === undefined ? 'connected\n' : `connected ${connectionId}\n`);
      // Standard input is read only now, so no line is lost before the socket can carry it.
      input = createInterface({ input: process.stdin, terminal: false });
      input.on('line', (line) => {
        if (line !== '' && ws.readyState === WebSocket.OPEN) ws.send(options.binary ? Buffer.from(line, 'utf8') : line, { binary: options.binary === true });
      });
      // Replies to the last lines may still be on their way when input ends: wait for them.
      input.on('close', () => {
        if (!finished) graceTimer ??= setTimeout(closeNormally, options.wait * 1000);
      });
    });
    ws.on('message', (data, isBinary) => {
      process.stdout.write(messageLine(data, isBinary));
      received++;
      if (options.count !== undefined && received >= options.count) closeNormally();
    });
    ws.on('close', (code, reason) => {
      if (!opened) return;
      finish();
      process.stdout.write(`closed ${code} ${reason.toString('utf8')}`.trimEnd() + '\n');
      resolve();
    });
  });
}
