// What every peer server shares: the paced publish loop, the memory report and the frame the
// benchmark publishes. Each server supplies only how it publishes one message and how far
// behind its slowest socket is, so the loop itself is the same for all of them.
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { epochNow } from '../lib/child.js';

export { epochNow };

/**
 * A socket that has this many bytes queued in user space makes the loop wait for the kernel
 * to take them: "as fast as possible" without letting a slow reader grow memory unboundedly.
 */
export const BACKLOG_LIMIT = 1 << 20;

/** One published message: `size` bytes of printable ASCII, valid as UTF-8 text. */
export function payloadOf(size) {
  const text = '{"seq":0,"pad":"' + 'x'.repeat(Math.max(0, size - 18)) + '"}';
  return Buffer.from(text.slice(0, size).padEnd(size, 'x'));
}

/**
 * Publishes `count` messages through `publishOne`, `batch` of them per macrotask (the event
 * loop flushes sockets in between), waiting while `backlog()` is over the limit. Returns
 * when the last message has been handed to the server, with wall-clock start and end.
 */
export async function pacedPublish({ count, batch, publishOne, backlog }) {
  const t0 = epochNow();
  let published = 0;
  let waits = 0;
  const pending = [];
  while (published < count) {
    if (backlog() > BACKLOG_LIMIT) {
      waits++;
      await nextMacrotask();
      continue;
    }
    const n = Math.min(batch, count - published);
    for (let i = 0; i < n; i++) {
      const result = publishOne();
      if (result !== undefined) pending.push(result);
    }
    published += n;
    await nextMacrotask();
  }
  const results = await Promise.all(pending);
  return { published, t0, t1: epochNow(), waits, results };
}

/**
 * A message that says when it was published: `{"t":<epoch ms>,"pad":"xx…"}`, `size` bytes,
 * so the load generator can read the publish time at a fixed offset.
 */
export function stampedPayloadOf(size, at) {
  const head = `{"t":${at.toFixed(3)},"pad":"`;
  return Buffer.from((head + 'x'.repeat(Math.max(0, size - head.length - 2)) + '"}').padEnd(size, 'x'));
}

/**
 * Publishes `rate` stamped messages per second for `durationMs`, every message stamped with
 * its publish time. `batch` 1 is a steady stream (each 1 ms step publishes what is due);
 * a larger `batch` hands the server that many messages in one turn, every `batch / rate`
 * seconds: the load shape of the paced rate run, at a lower rate.
 */
export async function stampedPublish({ rate, durationMs, size, batch = 1, publishOne }) {
  const t0 = epochNow();
  const pending = [];
  let published = 0;
  for (;;) {
    const elapsed = epochNow() - t0;
    if (elapsed >= durationMs) break;
    const due = (Math.floor((elapsed * rate) / 1000 / batch) + 1) * batch;
    while (published < due) {
      const result = publishOne(stampedPayloadOf(size, epochNow()));
      if (result !== undefined) pending.push(result);
      published++;
    }
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  return { published, pending, t0, t1: epochNow() };
}

/** Heap and RSS after the collector has run twice (the child is started with --expose-gc). */
export async function memoryReport() {
  const gc = globalThis.gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const usage = process.memoryUsage();
  return { rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external, arrayBuffers: usage.arrayBuffers, gc: gc !== undefined };
}
