import { Command, Option } from 'commander';
import { segment } from './management-client.js';
import { clientOf, formatOf, print, readPayload, withCommon, withPayload, type CommonOptions, type PayloadOptions, wholeNumber } from './options.js';
import { renderRecord, renderTable } from './output.js';

const CONNECTION_COLUMNS = ['id', 'gatewayId', 'tenantId', 'userId', 'sourceIp', 'userAgent', 'connectedAt', 'lastActiveAt', 'subscriptions'];

function connectionRow(connection: Record<string, unknown>): Record<string, unknown> {
  const identity = (connection.identity ?? {}) as Record<string, unknown>;
  return { ...connection, sourceIp: identity.sourceIp, userAgent: identity.userAgent };
}

const CONNECTION_ID = 'the connection id (X-Yc-Apigateway-Websocket-Connection-Id of its handshake)';
const TOPIC = 'the topic, e.g. acme:news (a tenant-scoped topic starts with the tenant id)';

export function connectionsCommand(): Command {
  const connections = new Command('connections').description('Look up, message, subscribe and close live connections');

  withCommon(connections.command('get').argument('<connectionId>', CONNECTION_ID).option('--full', 'include tenant, user, topics and heartbeat state'))
    .description('Show one connection')
    .action(async (id: string, options: CommonOptions & { full?: boolean }) => {
      const connection = (await clientOf(options).call('GET', `/connections/${segment(id)}${options.full ? '?view=FULL' : ''}`)) as Record<string, unknown>;
      print(connection, formatOf(options), () => renderRecord(connection));
    });

  listCommand(connections);

  withCommon(withPayload(connections.command('send').argument('<connectionId>', CONNECTION_ID)))
    .description('Send one message to a connection (--data, --file or standard input)')
    .action(async (id: string, options: CommonOptions & PayloadOptions) => {
      const payload = await readPayload(options);
      await clientOf(options).call('POST', `/connections/${segment(id)}:send`, payload);
      print({}, formatOf(options), () => 'sent\n');
    });

  withCommon(connections.command('disconnect').argument('<connectionId>', CONNECTION_ID))
    .description('Close a connection (close code 1000)')
    .action(async (id: string, options: CommonOptions) => {
      await clientOf(options).call('DELETE', `/connections/${segment(id)}`);
      print({}, formatOf(options), () => 'disconnected\n');
    });

  withCommon(connections.command('subscribe').argument('<connectionId>', CONNECTION_ID).argument('<topic>', TOPIC))
    .description("Subscribe a connection to a topic, server-side; prints the topic's offset and epoch")
    .action(async (id: string, topic: string, options: CommonOptions) => {
      const result = (await clientOf(options).call('POST', `/connections/${segment(id)}:subscribe`, { topic })) as Record<string, unknown>;
      print(result, formatOf(options), () => renderRecord(result));
    });

  withCommon(connections.command('unsubscribe').argument('<connectionId>', CONNECTION_ID).argument('<topic>', TOPIC))
    .description('Unsubscribe a connection from a topic (not being subscribed is not an error)')
    .action(async (id: string, topic: string, options: CommonOptions) => {
      await clientOf(options).call('POST', `/connections/${segment(id)}:unsubscribe`, { topic });
      print({}, formatOf(options), () => 'unsubscribed\n');
    });

  return connections;
}

function listCommand(connections: Command): void {
  withCommon(
    connections
      .command('list')
      .option('--gateway-id <id>', 'only connections of this gateway (spec)')
      .option('--tenant-id <id>', 'only connections of this tenant')
      .option('--user-id <id>', 'only connections of this user')
      .option('--topic <topic>', 'only connections subscribed to this topic')
      .addOption(new Option('--page-size <n>', 'connections per page (1-1000)').argParser(wholeNumber(1, 1000)).default('100'))
      .option('--page-token <token>', 'continue from a previous page')
      .option('--all', 'follow every page'),
  )
    .description('List live connections (with tenant, user and topics)')
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
}

export function topicsCommand(): Command {
  const topics = new Command('topics').description('Publish to topics and read their presence and history');

  withCommon(withPayload(topics.command('publish').argument('<topic>', TOPIC).option('--idempotency-key <key>', 'publish once per key within 5 minutes')))
    .description('Publish one message to every subscriber of a topic; prints its offset, epoch and how many connections got it')
    .action(async (topic: string, options: CommonOptions & PayloadOptions & { idempotencyKey?: string }) => {
      const payload = await readPayload(options);
      const result = (await clientOf(options).call('POST', `/topics/${segment(topic)}:publish`, {
        ...payload,
        ...(options.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
      })) as Record<string, unknown>;
      print(result, formatOf(options), () => renderRecord(result));
    });

  withCommon(topics.command('presence').argument('<topic>', TOPIC))
    .description('Who is subscribed to a topic (needs presence: true in its topics settings)')
    .action(async (topic: string, options: CommonOptions) => {
      const result = (await clientOf(options).call('GET', `/topics/${segment(topic)}/presence`)) as { connections: Record<string, unknown>[]; users: string[] };
      print(result, formatOf(options), () => renderTable(result.connections, ['connectionId', 'tenantId', 'userId']) + `${result.users.length} distinct users\n`);
    });

  withCommon(
    topics
      .command('history')
      .argument('<topic>', TOPIC)
      .addOption(new Option('--since-offset <n>', 'only publications after this offset').argParser(wholeNumber(0, Number.MAX_SAFE_INTEGER)))
      .option('--epoch <epoch>', 'the epoch --since-offset belongs to (another epoch answers complete=false)')
      .addOption(new Option('--limit <n>', 'at most this many publications (1-10000)').argParser(wholeNumber(1, 10_000))),
  )
    .description('Publications a topic still holds (needs historySize in its topics settings)')
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

export function usersCommand(): Command {
  const users = new Command('users').description('Reach or cut off every connection of a user');
  withCommon(withPayload(users.command('send').argument('<userId>', 'the user id (from the JWT or the connect integration)').option('--tenant-id <id>', "only this tenant's connections of the user")))
    .description('Send one message to every connection of a user; prints how many got it')
    .action(async (userId: string, options: CommonOptions & PayloadOptions & { tenantId?: string }) => {
      const payload = await readPayload(options);
      const body = { ...payload, ...(options.tenantId === undefined ? {} : { tenantId: options.tenantId }) };
      const result = (await clientOf(options).call('POST', `/users/${segment(userId)}:send`, body)) as Record<string, unknown>;
      print(result, formatOf(options), () => renderRecord(result));
    });
  withCommon(users.command('disconnect').argument('<userId>', 'the user id (from the JWT or the connect integration)').option('--tenant-id <id>', "only this tenant's connections of the user"))
    .description('Close every connection of a user on every node (close code 4001 "user disconnected"); prints how many')
    .action(async (userId: string, options: CommonOptions & { tenantId?: string }) => {
      const body = options.tenantId === undefined ? {} : { tenantId: options.tenantId };
      const result = (await clientOf(options).call('POST', `/users/${segment(userId)}:disconnect`, body)) as Record<string, unknown>;
      print(result, formatOf(options), () => renderRecord(result));
    });
  return users;
}

export function tenantsCommand(): Command {
  const tenants = new Command('tenants').description('Reach every connection of a tenant');
  withCommon(withPayload(tenants.command('broadcast').argument('<tenantId>', 'the tenant id')))
    .description('Send one message to every connection of a tenant; prints how many got it')
    .action(async (tenantId: string, options: CommonOptions & PayloadOptions) => {
      const payload = await readPayload(options);
      const result = (await clientOf(options).call('POST', `/tenants/${segment(tenantId)}:broadcast`, payload)) as Record<string, unknown>;
      print(result, formatOf(options), () => renderRecord(result));
    });
  return tenants;
}
