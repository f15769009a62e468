import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { ManagementClient, segment } from './management-client.js';
import { renderRecord, renderTable, type OutputFormat } from './output.js';

/** A usage problem found after parsing (missing data, unreadable file): exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

interface CommonOptions {
  endpoint: string;
  apiKey?: string;
  output?: OutputFormat;
}

function withCommon(command: Command): Command {
  return command
    .addOption(new Option('--endpoint <url>', 'management API base URL').env('SWITCHBOARD_ENDPOINT').default('http://127.0.0.1:8081'))
    .addOption(new Option('--api-key <key>', 'management API key').env('SWITCHBOARD_API_KEY'))
    .addOption(new Option('-o, --output <format>', 'json or table (default: table on a terminal, json otherwise)').choices(['json', 'table']));
}

function withPayload(command: Command): Command {
  return command
    .option('--data <text>', 'the message, as text')
    .option('--file <path>', 'read the message from a file')
    .addOption(new Option('--type <type>', 'frame type').choices(['text', 'binary']).default('text'));
}

function clientOf(options: CommonOptions): ManagementClient {
  return new ManagementClient(options.endpoint, options.apiKey);
}

function formatOf(options: CommonOptions): OutputFormat {
  return options.output ?? (process.stdout.isTTY ? 'table' : 'json');
}

async function readPayload(options: { data?: string; file?: string; type: string }): Promise<{ data: string; type: 'TEXT' | 'BINARY' }> {
  let bytes: Buffer;
  if (options.data !== undefined && options.file !== undefined) throw new UsageError('give either --data or --file, not both');
  if (options.data !== undefined) bytes = Buffer.from(options.data, 'utf8');
  else if (options.file !== undefined) {
    try {
      bytes = readFileSync(options.file);
    } catch (err) {
      throw new UsageError(`cannot read --file ${options.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    bytes = Buffer.concat(chunks);
  } else {
    throw new UsageError('no message: give --data, --file, or pipe it on standard input');
  }
  return { data: bytes.toString('base64'), type: options.type === 'binary' ? 'BINARY' : 'TEXT' };
}

function print(value: unknown, format: OutputFormat, table?: () => string): void {
  process.stdout.write(format === 'json' || table === undefined ? `${JSON.stringify(value, null, 2)}\n` : table());
}

const CONNECTION_COLUMNS = ['id', 'gatewayId', 'tenantId', 'userId', 'sourceIp', 'userAgent', 'connectedAt', 'lastActiveAt', 'subscriptions'];

function connectionRow(connection: Record<string, unknown>): Record<string, unknown> {
  const identity = (connection.identity ?? {}) as Record<string, unknown>;
  return { ...connection, sourceIp: identity.sourceIp, userAgent: identity.userAgent };
}

export function connectionsCommand(): Command {
  const connections = new Command('connections').description('Look up, message and close live connections');

  withCommon(connections.command('get').argument('<connectionId>').option('--full', 'include tenant, user, topics and heartbeat state'))
    .description('Show one connection')
    .action(async (id: string, options: CommonOptions & { full?: boolean }) => {
      const connection = (await clientOf(options).call('GET', `/connections/${segment(id)}${options.full ? '?view=FULL' : ''}`)) as Record<string, unknown>;
      print(connection, formatOf(options), () => renderRecord(connection));
    });

  withCommon(withPayload(connections.command('send').argument('<connectionId>')))
    .description('Send one message to a connection (--data, --file or standard input)')
    .action(async (id: string, options: CommonOptions & { data?: string; file?: string; type: string }) => {
      const payload = await readPayload(options);
      await clientOf(options).call('POST', `/connections/${segment(id)}:send`, payload);
      print({}, formatOf(options), () => 'sent\n');
    });

  withCommon(connections.command('disconnect').argument('<connectionId>'))
    .description('Close a connection (close code 1000)')
    .action(async (id: string, options: CommonOptions) => {
      await clientOf(options).call('DELETE', `/connections/${segment(id)}`);
      print({}, formatOf(options), () => 'disconnected\n');
    });

  withCommon(
    connections
      .command('list')
      .option('--gateway-id <id>')
      .option('--tenant-id <id>')
      .option('--user-id <id>')
      .option('--topic <topic>')
      .option('--page-size <n>', 'connections per page (1-1000)', '100')
      .option('--page-token <token>', 'continue from a previous page')
      .option('--all', 'follow every page'),
  )
    .description('List live connections')
    .action(async (options: CommonOptions & Record<string, string | boolean | undefined>) => {
      const query = new URLSearchParams();
      const filters: [string, unknown][] = [
        ['gatewayId', options.gatewayId],
        ['tenantId', options.tenantId],
        ['userId', options.userId],
        ['topic', options.topic],
        ['pageSize', options.pageSize],
        ['view', 'FULL'],
      ];
      for (const [key, value] of filters) if (typeof value === 'string') query.set(key, value);
      const client = clientOf(options);
      const found: Record<string, unknown>[] = [];
      let token = typeof options.pageToken === 'string' ? options.pageToken : '';
      let nextPageToken = '';
      do {
        if (token !== '') query.set('pageToken', token);
        const page = (await client.call('GET', `/connections?${query}`)) as { connections: Record<string, unknown>[]; nextPageToken: string };
        found.push(...page.connections);
        nextPageToken = page.nextPageToken;
        token = nextPageToken;
      } while (options.all === true && token !== '');
      print({ connections: found, nextPageToken }, formatOf(options), () =>
        renderTable(found.map(connectionRow), CONNECTION_COLUMNS) + (nextPageToken ? `next page: --page-token ${nextPageToken}\n` : ''),
      );
    });

  return connections;
}

export function topicsCommand(): Command {
  const topics = new Command('topics').description('Publish to topics and read their presence and history');

  withCommon(withPayload(topics.command('publish').argument('<topic>').option('--idempotency-key <key>', 'publish once per key within 5 minutes')))
    .description('Publish one message to every subscriber of a topic')
    .action(async (topic: string, options: CommonOptions & { data?: string; file?: string; type: string; idempotencyKey?: string }) => {
      const payload = await readPayload(options);
      const result = (await clientOf(options).call('POST', `/topics/${segment(topic)}:publish`, {
        ...payload,
        ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
      })) as Record<string, unknown>;
      print(result, formatOf(options), () => renderRecord(result));
    });

  withCommon(topics.command('presence').argument('<topic>'))
    .description('Who is subscribed to a topic')
    .action(async (topic: string, options: CommonOptions) => {
      const result = (await clientOf(options).call('GET', `/topics/${segment(topic)}/presence`)) as { connections: Record<string, unknown>[]; users: string[] };
      print(result, formatOf(options), () => renderTable(result.connections, ['connectionId', 'tenantId', 'userId']) + `${result.users.length} distinct users\n`);
    });

  withCommon(topics.command('history').argument('<topic>').option('--since-offset <n>').option('--epoch <epoch>').option('--limit <n>'))
    .description('Publications a topic still holds')
    .action(async (topic: string, options: CommonOptions & { sinceOffset?: string; epoch?: string; limit?: string }) => {
      const query = new URLSearchParams();
      if (options.sinceOffset !== undefined) query.set('sinceOffset', options.sinceOffset);
      if (options.epoch !== undefined) query.set('epoch', options.epoch);
      if (options.limit !== undefined) query.set('limit', options.limit);
      const result = (await clientOf(options).call('GET', `/topics/${segment(topic)}/history?${query}`)) as {
        publications: Record<string, unknown>[];
        offset: number;
        epoch: string;
        complete: boolean;
      };
      print(result, formatOf(options), () => {
        const rows = result.publications.map((p) => ({ ...p, data: p.type === 'TEXT' ? Buffer.from(String(p.data), 'base64').toString('utf8') : p.data }));
        return renderTable(rows, ['offset', 'publishedAt', 'type', 'data']) + `offset ${result.offset}, epoch ${result.epoch}${result.complete ? '' : ' (incomplete)'}\n`;
      });
    });

  return topics;
}
