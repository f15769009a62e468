/**
 * The README cannot rot: the shell blocks of "Quick start" and "Running a cluster", and every
 * shell block of docs/*.md, run verbatim in bash against real nodes (the built
 * bin/switchboard.js; a private redis-server for the cluster), and whatever output the text
 * shows is asserted. Needs `npm run build`.
 *
 * How the Markdown talks to this test (an HTML comment on the line before a block):
 *   <!-- readme-test: skip (why) -->  not run: for humans only (installs, long-running servers
 *                                     this test starts itself); the reason is required.
 *   <!-- readme-test: background -->  started on its own and left running (a client that prints
 *                                     what arrives) while the next blocks run; stopped at the end
 *                                     of the section.
 *   needs connect                     (with background) uses `switchboard connect`; without that
 *                                     command in src/cli the test opens the same socket itself and
 *                                     prints what the command prints (`connected <id>`, `< text`).
 *   <!-- readme-test: output -->      before a ```text block: what the shell block before it
 *                                     prints, line by line (a background block: the first lines).
 *                                     Placeholders: <id> an id, <time> an RFC 3339 instant,
 *                                     <epoch> a history epoch, <any> any text.
 *
 * Blocks of one section share one bash session (variables carry over, background jobs run
 * on); a command that fails (ERR trap, pipefail) fails the test. The only changes made to the
 * text are the substitutions of SUBSTITUTIONS below, each for something the prose itself says
 * may differ (ports, the Redis port, the listen address).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseGatewaySpec } from '../../src/config/index.js';
import { eventually } from '../support/harness.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'bin/switchboard.js');

// ---------------------------------------------------------------------------------------------
// Reading the Markdown
// ---------------------------------------------------------------------------------------------

interface Block {
  /** The heading path, e.g. "Running a cluster > Three nodes on one machine". */
  section: string;
  language: string;
  text: string;
  /** The readme-test marker on the line before the fence, if any. */
  marker: string;
  line: number;
}

const SHELL = new Set(['sh', 'bash', 'shell']);

function blocksOf(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  const headings: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heading = /^(#{2,4}) (.*)$/.exec(line);
    if (heading) {
      headings.splice(heading[1]!.length - 2, Infinity, heading[2]!);
      continue;
    }
    const fence = /^```(\S*)\s*$/.exec(line);
    if (!fence) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    let before = start - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const marker = /^<!-- readme-test: (.*) -->$/.exec(lines[before]?.trim() ?? '')?.[1] ?? '';
    blocks.push({ section: headings.join(' > '), language: fence[1]!, text: body.join('\n'), marker, line: start + 1 });
  }
  return blocks;
}

interface Step {
  block: Block;
  /** The ```text block marked as its output, if any. */
  expected?: string[];
}

/** The shell blocks of the sections whose heading path starts with `section`, each with its shown output. */
function stepsOf(blocks: Block[], section: string): Step[] {
  const steps: Step[] = [];
  for (const [index, block] of blocks.entries()) {
    if (!block.section.startsWith(section) || !SHELL.has(block.language)) continue;
    const next = blocks[index + 1];
    const step: Step = { block };
    if (next && next.marker === 'output') step.expected = next.text.split('\n');
    steps.push(step);
  }
  return steps;
}

function skipReason(block: Block): string | undefined {
  const skip = /^skip \((.+)\)$/.exec(block.marker);
  return skip?.[1];
}

// ---------------------------------------------------------------------------------------------
// Output with placeholders
// ---------------------------------------------------------------------------------------------

const PLACEHOLDERS: Record<string, string> = {
  '<id>': '[A-Za-z0-9_.-]+',
  '<time>': '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(?:\\.\\d{1,9})?Z',
  '<epoch>': '[A-Za-z0-9_.:-]+',
  '<any>': '.*?',
};

function linePattern(expected: string): RegExp {
  let source = expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  for (const [placeholder, pattern] of Object.entries(PLACEHOLDERS)) source = source.split(placeholder).join(pattern);
  return new RegExp(`^${source}$`);
}

function matches(actual: string[], expected: string[]): boolean {
  return expected.every((line, i) => actual[i] !== undefined && linePattern(line).test(actual[i]!));
}

// ---------------------------------------------------------------------------------------------
// Running: one bash session per section, background blocks beside it
// ---------------------------------------------------------------------------------------------

const DONE = '__readme_test_block_done__';

class ShellSession {
  private readonly bash: ChildProcessWithoutNullStreams;
  private stdout = '';
  stderr = '';

  constructor(env: NodeJS.ProcessEnv) {
    this.bash = spawn('bash', ['--noprofile', '--norc'], { cwd: ROOT, env, stdio: 'pipe' });
    this.bash.stdout.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.bash.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.bash.stdin.write(`set -o pipefail\ntrap 'echo "readme-test: command failed with status $?: $BASH_COMMAND" >&2' ERR\n`);
  }

  /** Runs one block; resolves with what it printed on stdout. */
  async run(text: string, timeoutMs = 60_000): Promise<string> {
    const from = this.stdout.length;
    this.bash.stdin.write(`${text}\necho ${DONE}\n`);
    await eventually(
      () => this.stdout.indexOf(DONE, from) >= 0 || this.bash.exitCode !== null,
      (done) => done,
      timeoutMs,
    );
    if (this.bash.exitCode !== null) throw new Error(`bash exited with ${this.bash.exitCode}; stderr: ${this.stderr}`);
    return this.stdout.slice(from, this.stdout.indexOf(DONE, from));
  }

  async close(): Promise<void> {
    if (this.bash.exitCode !== null) return;
    // Whatever the blocks left in the background (the nodes) goes too.
    this.bash.stdin.write('trap - ERR\nkill $(jobs -p) 2>/dev/null; wait; exit 0\n');
    const exited = new Promise((resolve) => this.bash.once('exit', resolve));
    const timer = setTimeout(() => this.bash.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

interface Background {
  lines(): string[];
  stop(): Promise<void>;
}

/** A background block as written, in its own bash. */
function runInBackground(text: string, env: NodeJS.ProcessEnv): Background {
  const child = spawn('bash', ['-c', `exec ${text.trim()}`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    lines: () => output.split('\n').filter((line) => line !== ''),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** What `switchboard connect URL` prints, from a socket the test opens itself. */
function connectStandIn(text: string): Background {
  const url = /ws:\/\/\S+/.exec(text)?.[0];
  if (!url) throw new Error(`no ws:// URL in ${text}`);
  const lines: string[] = [];
  const ws = new WebSocket(url);
  ws.on('upgrade', (res) => lines.push(`connected ${String(res.headers['x-yc-apigateway-websocket-connection-id'])}`));
  ws.on('message', (data: Buffer) => lines.push(`< ${data.toString('utf8')}`));
  ws.on('error', (err) => lines.push(`error ${err.message}`));
  return {
    lines: () => lines,
    stop: async () => {
      if (ws.readyState === WebSocket.CLOSED) return;
      const closed = new Promise((resolve) => ws.once('close', resolve));
      ws.terminate();
      await closed;
    },
  };
}

function hasConnectCommand(): boolean {
  const cli = path.join(ROOT, 'src/cli');
  return readdirSync(cli).some((file) => /command\(\s*['"]connect['"]/.test(readFileSync(path.join(cli, file), 'utf8')));
}

/** Replaces whole numbers and words of the table, so 8080 never touches 18080. */
function substitute(text: string, table: Record<string, string>): string {
  let result = text;
  for (const [from, to] of Object.entries(table)) result = result.replace(new RegExp(`(?<![\\w.])${from.replace(/\./g, '\\.')}(?![\\w])`, 'g'), to);
  return result;
}

/** Runs the steps of one section in one bash session, checking each block's shown output. */
async function runSection(steps: Step[], table: Record<string, string>, env: NodeJS.ProcessEnv): Promise<{ ran: number; skipped: string[] }> {
  const shell = new ShellSession(env);
  const background: { what: Background; expected: string[]; line: number }[] = [];
  const skipped: string[] = [];
  let ran = 0;
  try {
    for (const { block, expected } of steps) {
      const where = `README/docs line ${block.line} (${block.section})`;
      const reason = skipReason(block);
      if (reason !== undefined) {
        skipped.push(`${where}: ${reason}`);
        continue;
      }
      expect(block.marker === '' || block.marker.startsWith('background'), `${where}: unknown marker "${block.marker}"`).toBe(true);
      const text = substitute(block.text, table);
      ran++;
      if (block.marker.startsWith('background')) {
        const standIn = block.marker.includes('needs connect') && !hasConnectCommand();
        const what = standIn ? connectStandIn(text) : runInBackground(text, env);
        const shown = expected ?? [];
        background.push({ what, expected: shown, line: block.line });
        // The next blocks may rely on it having started (a client that is listed).
        if (shown.length > 0) await eventually(() => what.lines(), (lines) => matches(lines, shown.slice(0, 1)), 10_000);
        continue;
      }
      const stderrBefore = shell.stderr.length;
      const output = await shell.run(text);
      const failures = shell.stderr.slice(stderrBefore).split('\n').filter((line) => line.startsWith('readme-test: command failed'));
      expect(failures, `${where}: a command failed\n${text}\nstderr:\n${shell.stderr.slice(stderrBefore)}`).toEqual([]);
      if (expected) {
        const lines = output.split('\n').filter((line) => line !== '');
        expect(lines.length, `${where}: printed\n${output}\nexpected\n${expected.join('\n')}`).toBe(expected.length);
        expect(matches(lines, expected), `${where}: printed\n${output}\nexpected\n${expected.join('\n')}`).toBe(true);
      }
    }
    for (const { what, expected, line } of background) {
      await eventually(() => what.lines(), (lines) => matches(lines, expected), 10_000).catch(() => undefined);
      expect(matches(what.lines(), expected), `line ${line}: the background block printed\n${what.lines().join('\n')}\nexpected first\n${expected.join('\n')}`).toBe(true);
    }
  } finally {
    for (const { what } of background) await what.stop();
    await shell.close();
  }
  return { ran, skipped };
}

// ---------------------------------------------------------------------------------------------
// Servers
// ---------------------------------------------------------------------------------------------

async function isFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port whose successor is free too (the README derives management ports as port + 1). */
async function freePortPair(taken: Set<number>): Promise<number> {
  for (;;) {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    if (port < 65535 && !taken.has(port) && !taken.has(port + 1) && (await isFree(port + 1))) {
      taken.add(port);
      taken.add(port + 1);
      return port;
    }
  }
}

/** The shell environment: this runtime's node first, no SWITCHBOARD_* from the caller. */
function shellEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('SWITCHBOARD_')) env[name] = value;
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`;
  return env;
}

/** `npm start` without its build step, on the given ports (the quick start's node). */
async function startDemoNode(clientPort: number, managementPort: number, env: NodeJS.ProcessEnv): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, [CLI, 'start', '--listen', `127.0.0.1:${clientPort}`, '--management-listen', `127.0.0.1:${managementPort}`, '--log-level', 'warn'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    await eventually(
      () => fetch(`http://127.0.0.1:${managementPort}/readyz`).then((r) => r.status, () => (child.exitCode !== null ? -1 : 0)),
      (status) => status === 200 || status === -1,
      15_000,
    );
    if (child.exitCode !== null) throw new Error(`the demo node exited: ${stderr}`);
  } catch (err) {
    await stop();
    throw err;
  }
  return stop;
}

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

const README_BLOCKS = blocksOf(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));

describe('README and docs/ commands run as written (needs npm run build)', { timeout: 120_000 }, () => {
  beforeAll(() => {
    if (!existsSync(path.join(ROOT, 'dist/src/cli/index.js'))) throw new Error('dist/ is missing: run npm run build first');
  });

  it('every marker is one this test understands, and every skip says why', () => {
    const docs = readdirSync(path.join(ROOT, 'docs')).filter((file) => file.endsWith('.md'));
    const all = [...README_BLOCKS, ...docs.flatMap((file) => blocksOf(readFileSync(path.join(ROOT, 'docs', file), 'utf8')))];
    for (const block of all.filter((b) => b.marker !== '')) {
      expect(block.marker, `line ${block.line}`).toMatch(/^(skip \(.+\)|output|background(, needs connect)?)$/);
      if (block.marker === 'output') expect(block.language, `line ${block.line}: an output block is \`\`\`text`).toBe('text');
    }
  });

  it('every file of this repository that README.md and docs/*.md name in `code` exists (a renamed file is renamed there too)', () => {
    const texts = [readFileSync(path.join(ROOT, 'README.md'), 'utf8'), ...readdirSync(path.join(ROOT, 'docs')).filter((file) => file.endsWith('.md')).map((file) => readFileSync(path.join(ROOT, 'docs', file), 'utf8'))];
    const named = new Set(texts.flatMap((text) => [...text.matchAll(/`((?:src|test|examples|docs|bench|proto|console)\/[^`\s]*)`/g)].map((m) => m[1]!)));
    // Globs and brace lists name several files; a history note may name a file by its old name
    // when it says what it is called now.
    const missing = [...named].filter((file) => !/[*{]/.test(file) && !existsSync(path.join(ROOT, file)));
    const explained = missing.filter((file) => texts.some((text) => text.includes(`\`${file}\`** (since then `)));
    expect(missing.filter((file) => !explained.includes(file))).toEqual([]);
  });

  it('the configuration error "Running it" shows is the one such a spec gets', () => {
    const shown = README_BLOCKS.find((block) => block.section === 'Running it' && block.text.startsWith('switchboard: configuration error: '));
    expect(shown, 'the example error under "Running it"').toBeDefined();
    const spec = 'openapi: 3.0.0\ninfo: {title: gw}\npaths:\n  /chat:\n    x-yc-apigateway-websocket-message:\n      x-yc-apigateway-integration: {type: http}\n';
    expect(() => parseGatewaySpec(spec, '/srv/gw.yaml')).toThrow(shown!.text.replace('switchboard: configuration error: ', ''));
  });

  describe('Quick start', () => {
    const taken = new Set<number>();
    let stopNode: (() => Promise<void>) | undefined;
    let table: Record<string, string> = {};
    const env = shellEnv();

    beforeAll(async () => {
      // The prose: clients on 8080, the management API on 8081 (ports a test machine may have taken).
      const clientPort = await freePortPair(taken);
      const managementPort = await freePortPair(taken);
      table = { '8080': String(clientPort), '8081': String(managementPort) };
      stopNode = await startDemoNode(clientPort, managementPort, env);
    });
    afterAll(async () => {
      await stopNode?.();
    });

    it('its shell blocks run against the demo node and print what the text shows', async () => {
      const steps = stepsOf(README_BLOCKS, 'Quick start');
      expect(steps.length).toBeGreaterThanOrEqual(4);
      const { ran, skipped } = await runSection(steps, table, env);
      expect(ran).toBeGreaterThanOrEqual(2);
      expect(skipped.length, skipped.join('\n')).toBeLessThanOrEqual(3);
    });

    it('docs/*.md shell blocks run against the same demo node', async () => {
      const docs = readdirSync(path.join(ROOT, 'docs')).filter((file) => file.endsWith('.md'));
      for (const file of docs) {
        const steps = stepsOf(blocksOf(readFileSync(path.join(ROOT, 'docs', file), 'utf8')), '');
        if (steps.length > 0) await runSection(steps, table, env);
      }
    });
  });

  describe('Running a cluster', () => {
    let redis: RedisServer | undefined;

    beforeAll(async () => {
      redis = await startRedisServer();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('its shell blocks start three nodes over Redis and print what the text shows', async () => {
      const taken = new Set<number>();
      // The prose: ports 8080/8090/8100 (management: each + 1), Redis on 6379, listening on every
      // interface; here free ports, the private Redis, and loopback only.
      const [a, b, c] = [await freePortPair(taken), await freePortPair(taken), await freePortPair(taken)];
      const table: Record<string, string> = {
        '8080': String(a),
        '8081': String(a + 1),
        '8090': String(b),
        '8091': String(b + 1),
        '8100': String(c),
        '8101': String(c + 1),
        '6379': String(redis!.port),
        '0.0.0.0': '127.0.0.1',
      };
      const steps = stepsOf(README_BLOCKS, 'Running a cluster');
      expect(steps.length).toBeGreaterThanOrEqual(5);
      const { ran, skipped } = await runSection(steps, table, shellEnv());
      expect(ran).toBeGreaterThanOrEqual(4);
      expect(skipped.length, skipped.join('\n')).toBeLessThanOrEqual(1);
    });
  });
});
