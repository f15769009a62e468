import { Command, Option } from 'commander';
import { loadSettingsWithSources, LOG_FORMATS, unknownVariables, type SettingsFlags } from '../config/index.js';
import { SwitchboardNode } from '../gateway/index.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export function startCommand(): Command {
  return new Command('start')
    .description('Start a gateway node. With no options it runs the embedded demo spec, in memory, on 0.0.0.0:8080.')
    .addOption(new Option('-c, --config <file>', 'YAML configuration file').env('SWITCHBOARD_CONFIG'))
    .option('--spec <file>', 'gateway spec (OpenAPI 3, YAML or JSON); repeat for several gateways [env SWITCHBOARD_SPEC, comma-separated]', collect)
    .option('--listen <host:port>', 'client WebSocket listener [env SWITCHBOARD_LISTEN] (default 0.0.0.0:8080)')
    .option('--management-listen <host:port>', 'management API listener [env SWITCHBOARD_MANAGEMENT_LISTEN] (default 127.0.0.1:8081)')
    .option('--api-key <key>', 'management API key with every scope; repeatable [env SWITCHBOARD_API_KEYS, comma-separated]', collect)
    .option('--backplane <url>', 'redis://host:port or nats://host:port; absent: in memory, one node [env SWITCHBOARD_BACKPLANE]')
    .option('--node-id <id>', 'this node\'s id, [a-z0-9-]{1,20} [env SWITCHBOARD_NODE_ID] (default: host name and port)')
    .option('--grpc-listen <host:port>', 'gRPC ConnectionService listener [env SWITCHBOARD_GRPC_LISTEN]')
    .addOption(new Option('--log-level <level>', 'log level [env SWITCHBOARD_LOG_LEVEL] (default info)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
    .addOption(
      new Option('--log-format <format>', 'pretty (readable lines) or json; auto: pretty on a terminal, json otherwise [env SWITCHBOARD_LOG_FORMAT] (default auto)').choices(
        LOG_FORMATS,
      ),
    )
    .action(async (opts: Record<string, unknown>) => {
      const flags: SettingsFlags = {};
      if (typeof opts.listen === 'string') flags.listen = opts.listen;
      if (Array.isArray(opts.spec)) flags.spec = opts.spec as string[];
      if (typeof opts.managementListen === 'string') flags.managementListen = opts.managementListen;
      if (Array.isArray(opts.apiKey)) flags.apiKey = opts.apiKey as string[];
      if (typeof opts.backplane === 'string') flags.backplane = opts.backplane;
      if (typeof opts.nodeId === 'string') flags.nodeId = opts.nodeId;
      if (typeof opts.logLevel === 'string') flags.logLevel = opts.logLevel;
      if (typeof opts.logFormat === 'string') flags.logFormat = opts.logFormat;
      if (typeof opts.grpcListen === 'string') flags.grpcListen = opts.grpcListen;
      // commander hands over an empty SWITCHBOARD_CONFIG as the value ''; empty means unset, as for every variable.
      // Before the settings: a misspelt variable may be why a setting is not what was meant.
      for (const problem of unknownVariables(process.env)) process.stderr.write(`switchboard: warning: ${problem}\n`);
      const configFile = typeof opts.config === 'string' && opts.config.trim() !== '' ? opts.config : undefined;
      const { settings, sources } = loadSettingsWithSources({ ...(configFile !== undefined ? { configFile } : {}), flags, env: process.env });
      // Listening for signals before the node starts: one that arrives while it logs "started"
      // (a supervisor that stops it at once) must drain it, not kill it by Node's default action.
      const started: { node?: SwitchboardNode } = {};
      let stopSignal: string | undefined;
      const stop = (signal: string): void => {
        stopSignal ??= signal;
        if (started.node !== undefined) drainAndExit(started.node, stopSignal);
      };
      const onSigterm = (): void => stop('SIGTERM');
      const onSigint = (): void => stop('SIGINT');
      process.on('SIGTERM', onSigterm);
      process.on('SIGINT', onSigint);
      try {
        started.node = await SwitchboardNode.start(settings, { sources });
      } catch (err) {
        // A failed start has nothing left to run, but a library may leave a handle behind it
        // (nats.js keeps the socket of a connect that timed out waiting for the server's INFO,
        // e.g. nats:// pointed at a Redis port), which would keep the process alive after the
        // error and, with the handlers above, deaf to Ctrl-C. Hand the signals back, and end
        // the process shortly after the error is written (an unref'd timer: it waits for nothing).
        process.off('SIGTERM', onSigterm);
        process.off('SIGINT', onSigint);
        setTimeout(() => process.exit(), 500).unref();
        throw err;
      }
      if (stopSignal !== undefined) drainAndExit(started.node, stopSignal);
    });
}

const draining = new WeakSet<SwitchboardNode>();

function drainAndExit(node: SwitchboardNode, signal: string): void {
  if (draining.has(node)) return;
  draining.add(node);
  node.log.info({ signal }, 'stopping');
  node.drain().then(
    () => process.exit(0),
    (err: unknown) => {
      node.log.error({ err }, 'drain failed');
      process.exit(1);
    },
  );
}
