/**
 * Runs the Redis backplane's Lua scripts. The scripts asked for in one tick (a burst of
 * publishes' appends) leave in one pipeline: one write to Redis and one read of the replies,
 * so the deliveries waiting on them resume together and share one socket write per
 * subscriber, instead of splitting into as many flushes as the replies happened to arrive in.
 */
import type { Redis } from 'ioredis';
import type { RedisScript } from './redis-scripts.js';

/** ioredis has a Buffer-reply variant of every command at runtime; its typings leave out these two. */
interface BufferScripting {
  evalshaBuffer(...args: (string | Buffer | number)[]): Promise<unknown>;
  evalBuffer(...args: (string | Buffer | number)[]): Promise<unknown>;
}

/** A script call waiting for the end of the tick, to leave with the others of that tick. */
interface ScriptCall {
  script: RedisScript;
  keys: string[];
  args: (string | Buffer | number)[];
  buffers: boolean;
  resolve: (reply: unknown) => void;
  reject: (err: unknown) => void;
}

export class ScriptPipeline {
  private calls: ScriptCall[] = [];

  /** `connection` throws when there is none to use. */
  constructor(private readonly connection: () => Redis) {}

  /** Replies with bulk strings as Buffers (binary payloads) or as strings. */
  run(script: RedisScript, keys: string[], args: (string | Buffer | number)[], buffers: boolean): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.calls.push({ script, keys, args, buffers, resolve, reject }) === 1) process.nextTick(this.send);
    });
  }

  private readonly send = (): void => {
    const calls = this.calls;
    this.calls = [];
    if (calls.length === 1) {
      const call = calls[0]!;
      this.evalOne(call).then(call.resolve, call.reject);
      return;
    }
    let pipeline: ReturnType<Redis['pipeline']>;
    try {
      pipeline = this.connection().pipeline();
    } catch (err) {
      for (const call of calls) call.reject(err);
      return;
    }
    const scripting = pipeline as unknown as BufferScripting;
    for (const { script, keys, args, buffers } of calls) {
      if (buffers) scripting.evalshaBuffer(script.sha, keys.length, ...keys, ...args);
      else pipeline.evalsha(script.sha, keys.length, ...keys, ...args);
    }
    pipeline.exec().then(
      (results) => {
        calls.forEach((call, i) => {
          const [err, reply] = results?.[i] ?? [new Error('no reply from redis'), undefined];
          if (err === null) call.resolve(reply);
          else if (err.message.startsWith('NOSCRIPT')) this.evalSource(call).then(call.resolve, call.reject);
          else call.reject(err);
        });
      },
      (err: unknown) => {
        for (const call of calls) call.reject(err);
      },
    );
  };

  /** EVALSHA, and EVAL when the server does not know the script (first use, or after a restart). */
  private async evalOne(call: ScriptCall): Promise<unknown> {
    const { script, keys, args, buffers } = call;
    const cmd = this.connection();
    try {
      return await (buffers ? (cmd as unknown as BufferScripting).evalshaBuffer(script.sha, keys.length, ...keys, ...args) : cmd.evalsha(script.sha, keys.length, ...keys, ...args));
    } catch (err) {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      return this.evalSource(call);
    }
  }

  private evalSource({ script, keys, args, buffers }: ScriptCall): Promise<unknown> {
    const cmd = this.connection();
    return buffers ? (cmd as unknown as BufferScripting).evalBuffer(script.source, keys.length, ...keys, ...args) : cmd.eval(script.source, keys.length, ...keys, ...args);
  }
}
