import { Command, CommanderError } from 'commander';
import { ConfigError, StartupError } from '../errors/index.js';
import { ApiError, EndpointUnreachable } from './management-client.js';
import { connectionsCommand, topicsCommand, UsageError } from './operator.js';
import { startCommand } from './start.js';

/** Exit codes: 1 the API answered an error, 2 bad usage or configuration, 3 the endpoint is unreachable. */

/** Entry point of the `switchboard` executable; resolves to an exit code when it ends by itself. */
export async function main(argv: string[]): Promise<number | undefined> {
  const program = new Command('switchboard')
    .description('Switchboard: a self-hosted WebSocket API gateway')
    .version('0.1.0')
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  program.addCommand(startCommand().exitOverride());
  for (const group of [connectionsCommand(), topicsCommand()]) {
    group.exitOverride();
    for (const sub of group.commands) sub.exitOverride();
    program.addCommand(group);
  }
  try {
    await program.parseAsync(argv);
    return undefined;
  } catch (err) {
    if (err instanceof CommanderError) {
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
