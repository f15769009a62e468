// The child side of the orchestrator's IPC: every request is {id, cmd, ...args} and gets one
// answer {id, ok, result | error}. Servers and load generators both speak it.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { performance } from 'node:perf_hooks';

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes. */
export function epochNow() {
  return performance.timeOrigin + performance.now();
}

/** Processor time used so far and when: two readings give the share of a core used between them. */
function cpuNow() {
  const usage = process.cpuUsage();
  return { cpuMs: (usage.user + usage.system) / 1000, at: epochNow() };
}

let profiler;

function post(method, params = {}) {
  return new Promise((resolve, reject) => profiler.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
}

/** Starts V8's sampling profiler in this process (the orchestrator's --profile). */
async function profileStart() {
  profiler ??= new Session();
  profiler.connect();
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  return {};
}

/** Stops it and writes the .cpuprofile (Chrome DevTools and bench/profile-top.js read it). */
async function profileStop({ file }) {
  const { profile } = await post('Profiler.stop');
  profiler.disconnect();
  writeFileSync(file, JSON.stringify(profile));
  return { file };
}

const BUILT_IN = { cpu: cpuNow, profileStart, profileStop };

/**
 * Answers the orchestrator's commands with `handlers[cmd](message)`. `exit` is built in:
 * it answers, then ends the process; `cpu`, `profileStart` and
 * `profileStop` are built in too.
 */
export function serve(handlers, ready = {}) {
  process.on('message', (message) => {
    const { id, cmd } = message;
    if (cmd === 'exit') {
      process.send({ id, ok: true, result: {} }, () => process.exit(0));
      return;
    }
    const handler = BUILT_IN[cmd] ?? handlers[cmd];
    if (handler === undefined) {
      process.send({ id, ok: false, error: `unknown command ${cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message))
      .then(
        (result) => process.send({ id, ok: true, result: result ?? {} }),
        (err) => process.send({ id, ok: false, error: err instanceof Error ? err.stack ?? err.message : String(err) }),
      );
  });
  // The orchestrator went away: nothing is left to measure for.
  process.on('disconnect', () => process.exit(0));
  process.send({ type: 'ready', pid: process.pid, ...ready });
}
