import { Command, CommanderError } from 'commander';
import { ConfigError, StartupError } from '../errors/index.js';
import { ApiError, EndpointUnreachable } from './management-client.js';
import { ConnectFailed, connectCommand } from './connect.js';
import { connectionsCommand, tenantsCommand, topicsCommand, usersCommand } from './operator.js';
import { UsageError } from './options.js';
import { startCommand } from './start.js';

const EXIT_CODES = `
Exit codes: 0 done; 1 the API (or a WebSocket handshake) answered an error; 2 bad usage or configuration,
including every start-up error; 3 the endpoint is unreachable.`;

/** Every command and option of the `switchboard` executable. */
export function switchboardProgram(): Command {
  const program = new Command('switchboard')
    .description('Switchboard: a self-hosted WebSocket API gateway')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES);
  program.addCommand(startCommand().exitOverride());
  program.addCommand(connectCommand().exitOverride());
  for (const group of [connectionsCommand(), topicsCommand(), usersCommand(), tenantsCommand()]) {
    group.exitOverride();
    for (const sub of group.commands) sub.exitOverride();
    program.addCommand(group);
  }
  return program;
}

/** Entry point of the `switchboard` executable; resolves to an exit code when it ends by itself. */
export async function main(argv: string[]): Promise<number | undefined> {
  const program = switchboardProgram();
  try {
    await program.parseAsync(argv);
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version end with 0; every other commander error is bad usage.
      return err.exitCode === 0 ? 0 : 2;
    }
    if (err instanceof ConnectFailed) {
      process.stderr.write(`switchboard: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ApiError) {
      process.stderr.write(`switchboard: ${err.message}\n`);
      return 1;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`switchboard: ${err.message}\n`);
      return 2;
    }
    if (err instanceof EndpointUnreachable) {
      process.stderr.write(`switchboard: ${err.message}\n`);
      return 3;
    }
    if (err instanceof StartupError) {
      process.stderr.write(`switchboard: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`switchboard: configuration error: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`switchboard: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}
