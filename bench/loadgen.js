// The load generator: a child process of the orchestrator, pinned to its own core. It does
// the WebSocket handshake itself on raw node:net sockets and only counts frames: it reads frame
// headers and skips payloads, never unmasks, decodes or copies them, so it stays cheaper than
// the servers it measures. For the echo scenario it writes one pre-built masked client frame.
// The management scenarios use an undici Pool (keep-alive) from this same process.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { Pool } from 'undici';
import { epochNow, serve } from './lib/child.js';

// Connection phases: the HTTP handshake, socket.io's two Engine.IO/Socket.IO packets, open.
const HANDSHAKE = 0;
const SIO_OPEN = 1;
const SIO_CONNECT = 2;
const OPEN = 3;

const kClient = Symbol('client');
const CONNECTION_ID_HEADER = /^x-yc-apigateway-websocket-connection-id:[ \t]*(\S+)/im;
// Any 16-byte key does (servers check its shape); the load generator trusts a 101 without
// checking Sec-WebSocket-Accept.
const WS_KEY = Buffer.from('switchboardbench').toString('base64');
const SIO_CONNECT_FRAME = maskedTextFrame('40');

/** Client frames must be masked (RFC 6455 §5.3); one fixed key per frame is valid and cheap. */
function maskedTextFrame(text) {
  const payload = Buffer.from(text);
  const length = payload.length;
  const headerLength = length < 126 ? 2 : 4;
  const frame = Buffer.alloc(headerLength + 4 + length);
  frame[0] = 0x81;
  if (length < 126) frame[1] = 0x80 | length;
  else {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  }
  const mask = [0x5a, 0x17, 0xc3, 0x2e];
  for (let i = 0; i < 4; i++) frame[headerLength + i] = mask[i];
  for (let i = 0; i < length; i++) frame[headerLength + 4 + i] = payload[i] ^ mask[i & 3];
  return frame;
}

class Client {
  constructor(socket, plan) {
    this.socket = socket;
    this.plan = plan;
    this.phase = HANDSHAKE;
    this.head = undefined;
    this.part = undefined;
    this.skip = 0;
    this.opcode = 0;
    this.id = '';
    this.sentAt = 0;
    this.waiting = false;
    this.closing = false;
  }
}

const clients = [];
const totals = { frames: 0, closeFrames: 0, unexpectedCloses: 0, unexpectedFrames: 0 };
let goal = undefined;
let echo = undefined;
/** While set, text frames whose payload starts `{"t":` give a publish-to-delivery sample. */
let stamps = undefined;
/** When the chunk being parsed arrived (epoch ms), read once per chunk while stamps are kept. */
let chunkArrivedAt = 0;

/**
 * Samples in fixed-size Float64Array chunks: pushing millions of them never copies what is
 * already kept (a growing JS array would, in pauses of several ms that would land in the very
 * latencies being measured) and allocates nothing per sample.
 */
class Samples {
  static CHUNK = 1 << 16;
  chunks = [];
  current = new Float64Array(Samples.CHUNK);
  used = 0;
  push(value) {
    if (this.used === Samples.CHUNK) {
      this.chunks.push(this.current);
      this.current = new Float64Array(Samples.CHUNK);
      this.used = 0;
    }
    this.current[this.used++] = value;
  }
  get length() {
    return this.chunks.length * Samples.CHUNK + this.used;
  }
  toFloat64Array() {
    const out = new Float64Array(this.length);
    this.chunks.forEach((chunk, i) => out.set(chunk, i * Samples.CHUNK));
    out.set(this.current.subarray(0, this.used), this.chunks.length * Samples.CHUNK);
    return out;
  }
}

/** The publish time in `{"t":<ms>.<frac>,` read from the bytes at `at` (after `{"t":`), no string made. */
function readStamp(buf, at, end) {
  let value = 0;
  let i = at;
  for (; i < end; i++) {
    const c = buf[i];
    if (c < 0x30 || c > 0x39) break;
    value = value * 10 + (c - 0x30);
  }
  if (buf[i] === 0x2e) {
    let scale = 0.1;
    for (i++; i < end; i++) {
      const c = buf[i];
      if (c < 0x30 || c > 0x39) break;
      value += (c - 0x30) * scale;
      scale /= 10;
    }
  }
  return value;
}
const STAMP_PREFIX = 0x7b227422; // '{"t"'

function resetCounters() {
  totals.frames = 0;
  totals.closeFrames = 0;
  totals.unexpectedFrames = 0;
}

// ---- frames ----

// Every socket reads into this one buffer (`onread`): no allocation and no stream machinery per
// chunk. Each chunk is consumed synchronously; the few bytes that must outlive it are copied.
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

function onRead(nread) {
  const client = this[kClient];
  if (client.phase === HANDSHAKE) handshakeData(client, Buffer.from(READ_BUFFER.subarray(0, nread)));
  else {
    if (stamps !== undefined) chunkArrivedAt = epochNow();
    parseFrames(client, READ_BUFFER, nread);
  }
}

/** Walks the frame headers in buf[0, end), skipping payloads; a header split across reads is kept. */
function parseFrames(client, chunk, chunkEnd) {
  let buf = chunk;
  let end = chunkEnd;
  if (client.part !== undefined) {
    buf = Buffer.concat([client.part, chunk.subarray(0, chunkEnd)]);
    end = buf.length;
    client.part = undefined;
  }
  let i = 0;
  while (i < end) {
    if (client.skip > 0) {
      const available = end - i;
      if (available < client.skip) {
        client.skip -= available;
        return;
      }
      i += client.skip;
      client.skip = 0;
      frameDone(client, client.opcode);
      continue;
    }
    if (end - i < 2) {
      client.part = Buffer.from(buf.subarray(i, end));
      return;
    }
    const b0 = buf[i];
    const b1 = buf[i + 1];
    let length = b1 & 0x7f;
    let headerLength = length === 126 ? 4 : length === 127 ? 10 : 2;
    if (b1 & 0x80) headerLength += 4;
    if (end - i < headerLength) {
      client.part = Buffer.from(buf.subarray(i, end));
      return;
    }
    if (length === 126) length = buf.readUInt16BE(i + 2);
    else if (length === 127) length = buf.readUInt32BE(i + 2) * 2 ** 32 + buf.readUInt32BE(i + 6);
    i += headerLength;
    client.opcode = b0 & 0x0f;
    // Latency mode reads the publish time at the head of the payload when it is in this chunk.
    if (stamps !== undefined && length >= 24 && end - i >= 24 && buf.readUInt32BE(i) === STAMP_PREFIX) {
      stamps.push(chunkArrivedAt - readStamp(buf, i + 5, end));
    }
    if (length === 0) frameDone(client, client.opcode);
    else client.skip = length;
  }
}

function frameDone(client, opcode) {
  if (opcode === 0x1 || opcode === 0x2) {
    if (client.phase === OPEN) {
      totals.frames++;
      if (echo !== undefined) echoReply(client);
      if (goal !== undefined && totals.frames >= goal.frames) reachGoal();
    } else if (client.phase === SIO_OPEN) {
      // Engine.IO's open packet: join the default namespace.
      client.phase = SIO_CONNECT;
      client.socket.write(SIO_CONNECT_FRAME);
    } else if (client.phase === SIO_CONNECT) {
      client.phase = OPEN;
      client.plan.opened(client);
    }
  } else if (opcode === 0x8) {
    totals.closeFrames++;
  }
}

// ---- handshake ----

function handshakeData(client, chunk) {
  client.head = client.head === undefined ? chunk : Buffer.concat([client.head, chunk]);
  const end = client.head.indexOf('\r\n\r\n');
  if (end < 0) {
    if (client.head.length > 16384) client.plan.failed(client, new Error('handshake response too long'));
    return;
  }
  const head = client.head.toString('latin1', 0, end);
  const rest = client.head.subarray(end + 4);
  client.head = undefined;
  if (!head.startsWith('HTTP/1.1 101')) {
    client.plan.failed(client, new Error(`handshake answered ${head.split('\r\n', 1)[0]}`));
    return;
  }
  if (client.plan.captureIds) client.id = CONNECTION_ID_HEADER.exec(head)?.[1] ?? '';
  if (client.plan.socketio) client.phase = SIO_OPEN;
  else {
    client.phase = OPEN;
    client.plan.opened(client);
  }
  if (rest.length > 0) parseFrames(client, rest, rest.length);
}

function onConnect() {
  const client = this[kClient];
  const { host, port, path } = client.plan;
  this.write(
    `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: switchboard-bench\r\n\r\n`,
  );
}

function onError(err) {
  const client = this[kClient];
  if (client.phase !== OPEN) client.plan.failed(client, err);
}

function onClose() {
  const client = this[kClient];
  if (client.phase === OPEN && !client.closing) totals.unexpectedCloses++;
  else if (client.phase !== OPEN) client.plan.failed(client, new Error('closed during the handshake'));
}

/**
 * Opens `count` connections, at most `concurrency` handshakes in flight, spread round-robin
 * over the `sources` (127.0.0.x) so one source address never runs out of ports. Resolves when
 * every one has opened or failed, with the time from the first connect to the last open.
 */
function connectAll({ host, port, path, count, concurrency, sources, socketio = false, captureIds = false, timeoutMs = 120_000 }) {
  return new Promise((resolve) => {
    let launched = 0;
    let opened = 0;
    let failed = 0;
    let firstError;
    const ids = [];
    const started = performance.now();
    let settled = false;
    const timer = setTimeout(() => finish(true), timeoutMs);
    const plan = {
      host,
      port,
      path,
      socketio,
      captureIds,
      opened(client) {
        if (client.settled) return;
        client.settled = true;
        opened++;
        clients.push(client);
        if (captureIds) ids.push(client.id);
        next();
      },
      failed(client, err) {
        if (client.settled) return;
        client.settled = true;
        failed++;
        firstError ??= err.message;
        client.socket.destroy();
        next();
      },
    };
    function launch() {
      const source = sources[launched % sources.length];
      launched++;
      const socket = net.connect({ host, port, localAddress: source, noDelay: true, onread: { buffer: READ_BUFFER, callback: onRead } });
      const client = new Client(socket, plan);
      socket[kClient] = client;
      socket.on('connect', onConnect);
      socket.on('error', onError);
      socket.on('close', onClose);
    }
    function next() {
      if (opened + failed === count) finish(false);
      else if (launched < count) launch();
    }
    function finish(timedOut) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const ms = performance.now() - started;
      resolve({ opened, failed, timedOut, ms, rate: (opened / ms) * 1000, firstError, ids: captureIds ? ids : undefined, total: clients.length });
    }
    if (count === 0) finish(false);
    for (let i = 0; i < Math.min(concurrency, count); i++) launch();
  });
}

// ---- counting towards a goal ----

function reachGoal() {
  const reached = goal;
  goal = undefined;
  clearTimeout(reached.timer);
  reached.resolve({ frames: totals.frames, reached: true, at: epochNow() });
}

/** Resolves when `frames` data frames have arrived since the last reset (or at the timeout). */
function awaitFrames(frames, timeoutMs) {
  if (totals.frames >= frames) return Promise.resolve({ frames: totals.frames, reached: true, at: epochNow() });
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      goal = undefined;
      resolve({ frames: totals.frames, reached: false, at: epochNow() });
    }, timeoutMs);
    goal = { frames, resolve, timer };
  });
}

// ---- echo: closed loop, one message in flight per connection ----

function echoSend(client) {
  client.waiting = true;
  client.sentAt = performance.now();
  echo.sent++;
  client.socket.write(echo.frame);
}

function echoReply(client) {
  if (!client.waiting) {
    echo.unexpected++;
    return;
  }
  client.waiting = false;
  echo.outstanding--;
  if (!echo.running) return;
  echo.received++;
  echo.samples.push(performance.now() - client.sentAt);
  echo.outstanding++;
  echoSend(client);
}

/** `text`, when given, is the exact message (the HTTP scenarios send 5 bytes); else ~`size` bytes of JSON. */
async function runEcho({ durationMs, size, socketio, text: exact }) {
  const text = exact ?? (socketio ? `42["m","${'x'.repeat(Math.max(1, size - 10))}"]` : JSON.stringify({ action: 'echo', pad: 'x'.repeat(Math.max(1, size - 24)) }));
  echo = { running: true, frame: maskedTextFrame(text), samples: new Samples(), sent: 0, received: 0, outstanding: 0, unexpected: 0 };
  resetCounters();
  const started = performance.now();
  for (const client of clients) {
    echo.outstanding++;
    echoSend(client);
  }
  await new Promise((resolve) => setTimeout(resolve, durationMs));
  echo.running = false;
  const ms = performance.now() - started;
  const received = echo.received;
  // Every message still in flight must come back: nothing may be lost.
  const drainUntil = performance.now() + 10_000;
  while (echo.outstanding > 0 && performance.now() < drainUntil) await new Promise((resolve) => setTimeout(resolve, 5));
  const result = {
    sent: echo.sent,
    received,
    lost: echo.outstanding,
    unexpected: echo.unexpected,
    ms,
    rate: (received / ms) * 1000,
    latency: percentiles(echo.samples),
    frameBytes: echo.frame.length,
  };
  echo = undefined;
  return result;
}

function percentiles(samples) {
  if (samples.length === 0) return { p50: NaN, p99: NaN, max: NaN, count: 0 };
  const sorted = (samples instanceof Samples ? samples.toFloat64Array() : Float64Array.from(samples)).sort();
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1], count: sorted.length };
}

// ---- management API through undici (keep-alive Pool) ----

async function runHttp({ kind, port, durationMs, concurrency, ids, topic, size, subscribers, lagMessages = 64 }) {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
  const data = Buffer.from('x'.repeat(size)).toString('base64');
  const body = JSON.stringify({ data, type: 'TEXT' });
  const headers = { 'content-type': 'application/json' };
  const latencies = new Samples();
  const statuses = {};
  let ok = 0;
  let errors = 0;
  let reportedDeliveries = 0;
  let firstError;
  resetCounters();
  const t0 = epochNow();
  const started = performance.now();
  const end = started + durationMs;
  const publishPath = `/apigateways/websocket/v1/topics/${encodeURIComponent(topic ?? 't')}:publish`;
  async function worker() {
    while (performance.now() < end) {
      // Publishing stops getting ahead of delivery: no unbounded queues on either side.
      if (kind === 'publish') {
        while (ok * subscribers - totals.frames > lagMessages * subscribers && performance.now() < end) await nextMacrotask();
      }
      const path = kind === 'send' ? `/apigateways/websocket/v1/connections/${ids[(Math.random() * ids.length) | 0]}:send` : publishPath;
      const t = performance.now();
      try {
        const response = await pool.request({ path, method: 'POST', headers, body });
        if (kind === 'publish' && response.statusCode === 200) {
          const answer = await response.body.json();
          reportedDeliveries += answer.delivered;
        } else {
          const text = await response.body.text();
          if (response.statusCode !== 200) firstError ??= `${response.statusCode} ${text.slice(0, 200)}`;
        }
        latencies.push(performance.now() - t);
        statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
        if (response.statusCode === 200) ok++;
        else errors++;
      } catch (err) {
        errors++;
        firstError ??= err.message;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = performance.now() - started;
  const expected = kind === 'send' ? ok : ok * subscribers;
  const delivery = await awaitFrames(expected, 15_000);
  await pool.close();
  return {
    requests: ok + errors,
    ok,
    errors,
    statuses,
    firstError,
    ms,
    rate: (ok / ms) * 1000,
    latency: percentiles(latencies),
    expected,
    delivered: delivery.frames,
    reportedDeliveries,
    lost: Math.max(0, expected - delivery.frames),
    deliveryRate: (delivery.frames / (delivery.at - t0)) * 1000,
  };
}

// ---- calling the backend directly: what a gateway's added latency is measured against ----

/**
 * `concurrency` closed loops of POST `path` with `text` as the body to `url`, over an undici
 * keep-alive Pool, for `durationMs`: the round trip without any gateway in between.
 */
async function runDirect({ url, path, text, durationMs, concurrency = 1 }) {
  const pool = new Pool(url, { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000 });
  const body = Buffer.from(text);
  const headers = { 'content-type': 'application/json' };
  const latencies = new Samples();
  let ok = 0;
  let errors = 0;
  let firstError;
  const started = performance.now();
  const end = started + durationMs;
  async function worker() {
    while (performance.now() < end) {
      const t = performance.now();
      try {
        const response = await pool.request({ path, method: 'POST', headers, body });
        await response.body.arrayBuffer();
        latencies.push(performance.now() - t);
        if (response.statusCode === 200) ok++;
        else errors++;
      } catch (err) {
        errors++;
        firstError ??= err.message;
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = performance.now() - started;
  await pool.close();
  return { ok, errors, firstError, ms, rate: (ok / ms) * 1000, latency: percentiles(latencies) };
}

// ---- commands ----

serve({
  connect: (args) => connectAll(args),
  reset: () => {
    resetCounters();
    return { ...totals };
  },
  counters: () => ({ ...totals, connections: clients.length }),
  await: ({ frames, timeoutMs }) => awaitFrames(frames, timeoutMs),
  echo: (args) => runEcho(args),
  stampsStart: () => {
    stamps = new Samples();
    return {};
  },
  stampsStop: () => {
    const samples = stamps ?? [];
    stamps = undefined;
    return percentiles(samples);
  },
  http: (args) => runHttp(args),
  direct: (args) => runDirect(args),
  async close() {
    const n = clients.length;
    for (const client of clients) {
      client.closing = true;
      client.socket.destroy();
    }
    clients.length = 0;
    goal = undefined;
    echo = undefined;
    resetCounters();
    totals.unexpectedCloses = 0;
    await nextMacrotask();
    return { closed: n };
  },
});
