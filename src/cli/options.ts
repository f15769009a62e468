/** What every operator command shares: where the API is, the key, the output format and the message to send. */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { fileReadProblem } from '../errors/index.js';
import { ManagementClient } from './management-client.js';
import type { OutputFormat } from './output.js';

/** A usage problem found after parsing (missing data, unreadable file, a bad endpoint): exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface CommonOptions {
  endpoint: string;
  apiKey?: string;
  output?: OutputFormat;
}

export interface PayloadOptions {
  data?: string;
  file?: string;
  type: 'TEXT' | 'BINARY';
  allowEmpty?: boolean;
}

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8081';

export function withCommon(command: Command): Command {
  return command
    .addOption(
      new Option('--endpoint <url>', 'management API: a URL or HOST:PORT, e.g. 127.0.0.1:8081')
        .env('SWITCHBOARD_ENDPOINT')
        .default(DEFAULT_ENDPOINT),
    )
    .addOption(
      new Option('--api-key <key>', 'management API key (when neither it nor SWITCHBOARD_API_KEY is set: the first key of SWITCHBOARD_API_KEYS)').env('SWITCHBOARD_API_KEY'),
    )
    .addOption(new Option('-o, --output <format>', 'json or table (default: table on a terminal, json otherwise)').choices(['json', 'table']));
}

/**
 * A parser for a whole-number flag from `min` to `max`: a typo (`--limit 1O`, `--page-size 0`)
 * is bad usage named by its flag (exit 2), not a request the API answers 400 under its own
 * parameter name. The value stays text, as the query string takes it.
 */
export function wholeNumber(min: number, max: number): (value: string) => string {
  return (value) => {
    if (!/^\d{1,15}$/.test(value) || Number(value) < min || Number(value) > max) {
      throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}.`);
    }
    return value;
  };
}

/** `TEXT`, `text`, `Binary`…: the API spells them in capitals, people type them either way. */
function frameType(value: string): 'TEXT' | 'BINARY' {
  const upper = value.toUpperCase();
  if (upper !== 'TEXT' && upper !== 'BINARY') throw new InvalidArgumentError('must be TEXT or BINARY (any case).');
  return upper;
}

export function withPayload(command: Command): Command {
  return command
    .option('--data <text>', 'the message, as text')
    .option('--file <path>', 'read the message from a file')
    .addOption(new Option('--type <type>', 'frame type: TEXT or BINARY, any case').argParser(frameType).default('TEXT'))
    .option('--allow-empty', 'send an empty message (refused otherwise, as it is usually a mistake)');
}

/** `127.0.0.1:8081` or `http://host:8081/`: the base URL of the management API. */
export function endpointUrl(text: string): string {
  const candidate = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  const url = URL.canParse(candidate) ? new URL(candidate) : undefined;
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw new UsageError(`--endpoint ${text}: must be an http:// or https:// URL or HOST:PORT, e.g. 127.0.0.1:8081`);
  }
  return candidate.replace(/\/+$/, '');
}

/** `--api-key`, else `SWITCHBOARD_API_KEY` (commander reads it), else the first of the node's own `SWITCHBOARD_API_KEYS`. */
function apiKeyOf(options: CommonOptions): string | undefined {
  if (options.apiKey !== undefined && options.apiKey !== '') return options.apiKey;
  const first = process.env.SWITCHBOARD_API_KEYS?.split(',')[0]?.trim();
  return first === undefined || first === '' ? undefined : first;
}

export function clientOf(options: CommonOptions): ManagementClient {
  return new ManagementClient(endpointUrl(options.endpoint), apiKeyOf(options));
}

export function formatOf(options: CommonOptions): OutputFormat {
  return options.output ?? (process.stdout.isTTY ? 'table' : 'json');
}

async function readBytes(options: PayloadOptions): Promise<Buffer> {
  if (options.data !== undefined && options.file !== undefined) throw new UsageError('give either --data or --file, not both');
  if (options.data !== undefined) return Buffer.from(options.data, 'utf8');
  if (options.file !== undefined) {
    try {
      return readFileSync(options.file);
    } catch (err) {
      throw new UsageError(`cannot read --file ${options.file}: ${fileReadProblem(err)}`);
    }
  }
  if (process.stdin.isTTY) throw new UsageError('no message: give --data, --file, or pipe it on standard input');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The message as the API takes it; an empty one is refused unless --allow-empty says it is meant. */
export async function readPayload(options: PayloadOptions): Promise<{ data: string; type: 'TEXT' | 'BINARY' }> {
  const bytes = await readBytes(options);
  if (bytes.length === 0 && options.allowEmpty !== true) {
    const from = options.data !== undefined ? '--data is empty' : options.file !== undefined ? `--file ${options.file} is empty` : 'standard input was empty';
    throw new UsageError(`no message: ${from}; give one with --data, --file or standard input, or pass --allow-empty to send an empty message`);
  }
  return { data: bytes.toString('base64'), type: options.type };
}

export function print(value: unknown, format: OutputFormat, table?: () => string): void {
  process.stdout.write(format === 'json' || table === undefined ? `${JSON.stringify(value, null, 2)}\n` : table());
}
