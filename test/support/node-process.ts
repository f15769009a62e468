/**
 * A Switchboard node in a process of its own, started through the CLI as an operator starts
 * one (`switchboard start --backplane … --node-id …`), so that a test can SIGKILL it: a crash,
 * not a shutdown, with no leave message and no cleanup.
 *
 * The child runs the sources under test, not dist/: transpileSources() strips the types of
 * every file of src/ into a temporary folder (one file at a time, nothing checked: tsc does
 * that), next to a link to node_modules, in about a second.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '../..');

export interface SourceBuild {
  /** The CLI entry: `node <cli> start …`. */
  cli: string;
  remove(): Promise<void>;
}

export async function transpileSources(): Promise<SourceBuild> {
  const out = await mkdtemp(join(tmpdir(), 'switchboard-src-'));
  try {
    for (const file of await tsFiles(join(ROOT, 'src'))) {
      const target = join(out, relative(ROOT, file)).replace(/\.ts$/, '.js');
      const output = ts.transpileModule(await readFile(file, 'utf8'), {
        fileName: file,
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      });
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, output.outputText);
    }
    await writeFile(join(out, 'package.json'), JSON.stringify({ type: 'module' }));
    await symlink(join(ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');
    const cli = join(out, 'cli.js');
    await writeFile(
      cli,
      `import { main } from './src/cli/index.js';\nmain(process.argv).then((code) => { if (typeof code === 'number') process.exitCode = code; });\n`,
    );
    return { cli, remove: () => rm(out, { recursive: true, force: true }) };
  } catch (err) {
    await rm(out, { recursive: true, force: true });
    throw err;
  }
}

async function tsFiles(folder: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) files.push(...(await tsFiles(path)));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

export interface NodeProcess {
  pid: number;
  nodeId: string;
  /** `ws://127.0.0.1:PORT` + path. */
  wsUrl(path: string): string;
  /** Base URL of the management listener. */
  apiUrl: string;
  output(): string;
  /** SIGKILL: the process dies at once, its sockets reset, nothing is withdrawn. */
  kill(): Promise<void>;
  /** SIGKILL unless it has already exited; for afterEach. */
  close(): Promise<void>;
}

/**
 * Runs `switchboard start` with the given arguments and environment (on top of the test's own,
 * minus its SWITCHBOARD_* variables) and resolves once it logs that it started.
 */
export async function startNodeProcess(build: SourceBuild, args: string[], env: Record<string, string> = {}): Promise<NodeProcess> {
  const childEnv: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('SWITCHBOARD_')) childEnv[name] = value;
  const child = spawn(process.execPath, [build.cli, 'start', ...args], { env: { ...childEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  let started: Record<string, unknown>;
  try {
    started = await startedLine(child, () => output);
  } catch (err) {
    await kill();
    throw err;
  }
  const port = (address: unknown): number => Number(String(address).split(':').pop());
  const clientPort = port(started.client);
  return {
    pid: child.pid!,
    nodeId: String(started.nodeId),
    wsUrl: (path) => `ws://127.0.0.1:${clientPort}${path}`,
    apiUrl: `http://127.0.0.1:${port(started.management)}`,
    output: () => output,
    kill,
    close: kill,
  };
}

async function startedLine(child: ChildProcess, output: () => string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    for (const line of output().split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as Record<string, unknown>;
      if (entry.msg === 'switchboard node started') return entry;
    }
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`switchboard exited before it started:\n${output()}`);
    if (Date.now() > deadline) throw new Error(`switchboard did not start within 15 s:\n${output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
