// The orchestrator's side of a child process: spawn it pinned to a core with the open-files
// limit raised to the hard limit, then call it like a function.
import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';

let taskset;

/** Whether `taskset` can pin processes here (absent on macOS, useless on one core). */
export function pinningAvailable() {
  if (taskset === undefined) {
    taskset = os.cpus().length >= 2 && spawnSync('taskset', ['-c', '0', 'true']).status === 0;
  }
  return taskset;
}

/** The open-files limit a child gets: the hard limit, read through a shell as it would apply it. */
export function openFilesLimit() {
  const out = spawnSync('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; ulimit -n'], { encoding: 'utf8' });
  const n = Number(out.stdout.trim());
  return Number.isFinite(n) ? n : 1024;
}

export class Child {
  constructor(name, proc) {
    this.name = name;
    this.proc = proc;
    this.nextId = 1;
    this.waiting = new Map();
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        this.exitCode = code;
        for (const { reject, timer } of this.waiting.values()) {
          clearTimeout(timer);
          reject(new Error(`${name} exited (code ${code}, signal ${signal}) while a command was running`));
        }
        this.waiting.clear();
        resolve({ code, signal });
      });
    });
    this.ready = new Promise((resolve, reject) => {
      proc.on('message', (message) => {
        if (message.type === 'ready') {
          resolve(message);
          return;
        }
        const pending = this.waiting.get(message.id);
        if (pending === undefined) return;
        this.waiting.delete(message.id);
        clearTimeout(pending.timer);
        if (message.ok) pending.resolve(message.result);
        else pending.reject(new Error(`${name}: ${message.error}`));
      });
      this.exited.then(({ code, signal }) => reject(new Error(`${name} exited before it was ready (code ${code}, signal ${signal})`)));
    });
  }

  call(cmd, args = {}, timeoutMs = 120_000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      this.proc.send({ id, cmd, ...args }, (err) => {
        if (err) {
          this.waiting.delete(id);
          clearTimeout(timer);
          reject(err);
        }
      });
    });
  }

  /** Asks the child to exit (profiles get written); kills it if it does not within the bound. */
  async stop(boundMs = 5000) {
    if (this.exitCode !== undefined || this.proc.exitCode !== null) return;
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), boundMs);
    this.call('exit', {}, boundMs).catch(() => undefined);
    await this.exited;
    clearTimeout(timer);
  }
}

/**
 * Starts `node [nodeArgs] file [args]` on `cpu` (when pinning is available) with an IPC channel.
 * The shell only raises the soft open-files limit and then execs, so the pid is node's own.
 */
export async function startChild(name, file, { args = [], nodeArgs = [], cpu, env } = {}) {
  const command = [process.execPath, ...nodeArgs, file, ...args];
  if (cpu !== undefined && pinningAvailable()) command.unshift('taskset', '-c', String(cpu));
  const proc = spawn('sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...command], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  const child = new Child(name, proc);
  child.info = await child.ready;
  return child;
}
