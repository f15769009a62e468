// A soak load generator: a child process holding its share of the connections on raw
// node:net sockets (a few KiB each, so 10,000 fit in one process far under its open-files
// limit). Each connection speaks the realtime protocol: it waits for `connected`, subscribes
// to its topic, answers the server's heartbeat pings, and checks every publication's offset
// against the last one it saw, so a gap (a lost publication) or a repeat is counted where it
// happens. Connections come from rotating 127.0.0.x source addresses so churn never runs out
// of ephemeral ports.
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { serve } from '../lib/child.js';

const WS_KEY = Buffer.from('switchboardsoak!').toString('base64');
const HANDSHAKE = 0;
const OPEN = 1;
const CLOSING = 2;
const CLOSED = 3;

let target; // { port, path, topics, sources: [first, last] }
let nextSource = 0;
let nextUser = 0;
const live = new Set();
const totals = {
  opened: 0,
  openFailed: 0,
  closedByUs: 0,
  droppedByServer: 0,
  received: 0,
  gaps: 0,
  duplicates: 0,
  expectedOfClosed: 0,
  receivedOfClosed: 0,
  pongs: 0,
  errorEnvelopes: 0,
  pingsAnswered: 0,
  clientMessages: 0,
};
let chatterTimer;

class Connection {
  constructor(socket, topic) {
    this.socket = socket;
    this.topic = topic;
    this.phase = HANDSHAKE;
    this.pending = undefined;
    this.subscribedAt = undefined;
    this.last = 0;
    this.received = 0;
    this.early = [];
    this.closeRequested = false;
    this.mask = randomBytes(4);
  }
}

/** A masked client frame (RFC 6455 §5.3). */
function frame(opcode, payload, mask) {
  const length = payload.length;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(header + 4 + length);
  out[0] = 0x80 | opcode;
  if (length < 126) out[1] = 0x80 | length;
  else if (length < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(length, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(length), 2);
  }
  mask.copy(out, header);
  for (let i = 0; i < length; i++) out[header + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}

function sendText(conn, text) {
  if (conn.phase === OPEN && !conn.socket.destroyed) conn.socket.write(frame(0x1, Buffer.from(text), conn.mask));
}

function onData(conn, chunk) {
  let buf = conn.pending === undefined ? chunk : Buffer.concat([conn.pending, chunk]);
  conn.pending = undefined;
  if (conn.phase === HANDSHAKE) {
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) {
      conn.pending = buf;
      return;
    }
    if (!buf.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
      conn.failed = buf.subarray(0, buf.indexOf('\r\n')).toString('latin1');
      conn.socket.destroy();
      return;
    }
    conn.phase = OPEN;
    buf = buf.subarray(end + 4);
  }
  let i = 0;
  while (buf.length - i >= 2) {
    const b0 = buf[i];
    const b1 = buf[i + 1];
    let length = b1 & 0x7f;
    let header = 2;
    if (length === 126) {
      if (buf.length - i < 4) break;
      length = buf.readUInt16BE(i + 2);
      header = 4;
    } else if (length === 127) {
      if (buf.length - i < 10) break;
      length = Number(buf.readBigUInt64BE(i + 2));
      header = 10;
    }
    if (buf.length - i < header + length) break;
    const payload = buf.subarray(i + header, i + header + length);
    i += header + length;
    const opcode = b0 & 0x0f;
    if (opcode === 0x1) onEnvelope(conn, payload);
    else if (opcode === 0x9) {
      totals.pingsAnswered++;
      if (!conn.socket.destroyed) conn.socket.write(frame(0xa, payload, conn.mask));
    } else if (opcode === 0x8) {
      if (!conn.closeRequested) conn.serverClose = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      if (conn.phase === OPEN && !conn.socket.destroyed) conn.socket.write(frame(0x8, payload.subarray(0, 2), conn.mask));
      conn.phase = CLOSING;
    }
  }
  if (i < buf.length) conn.pending = Buffer.from(buf.subarray(i));
}

function onEnvelope(conn, payload) {
  let envelope;
  try {
    envelope = JSON.parse(payload.toString('utf8'));
  } catch {
    totals.errorEnvelopes++;
    return;
  }
  switch (envelope.type) {
    case 'connected':
      sendText(conn, JSON.stringify({ type: 'subscribe', requestId: 's', data: { topic: conn.topic } }));
      return;
    case 'subscribed': {
      if (envelope.requestId !== 's') return;
      conn.subscribedAt = envelope.data.offset;
      conn.last = envelope.data.offset;
      const early = conn.early;
      conn.early = [];
      for (const offset of early) publication(conn, offset);
      conn.resolveReady?.();
      return;
    }
    case 'publication':
      if (conn.subscribedAt === undefined) conn.early.push(envelope.data.offset);
      else publication(conn, envelope.data.offset);
      return;
    case 'pong':
      totals.pongs++;
      return;
    default:
      totals.errorEnvelopes++;
  }
}

function publication(conn, offset) {
  // Frames still arriving after this side asked to close were already settled in closeOne().
  if (conn.closeRequested || offset <= conn.subscribedAt) return;
  if (offset <= conn.last) {
    totals.duplicates++;
    return;
  }
  if (offset > conn.last + 1) totals.gaps += offset - conn.last - 1;
  conn.last = offset;
  conn.received++;
  totals.received++;
}

function sourceAddress() {
  const [first, last] = target.sources;
  const octet = first + (nextSource++ % (last - first + 1));
  return `127.0.0.${octet}`;
}

/** Opens one connection; resolves true once it is subscribed, false when it failed. */
function openOne() {
  return new Promise((resolve) => {
    const topic = `t${Math.floor(Math.random() * target.topics)}`;
    const user = `u${process.pid}-${nextUser++}`;
    const socket = net.connect({ port: target.port, host: '127.0.0.1', localAddress: sourceAddress() });
    const conn = new Connection(socket, topic);
    let settled = false;
    const settle = (ok) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(ok);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      settle(false);
    }, 15_000);
    conn.resolveReady = () => {
      live.add(conn);
      totals.opened++;
      settle(true);
    };
    socket.setNoDelay(true);
    socket.on('data', (chunk) => onData(conn, chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const wasLive = live.delete(conn);
      conn.phase = CLOSED;
      if (!settled) {
        settle(false);
        return;
      }
      if (wasLive && !conn.closeRequested) {
        // The server let go of a connection nobody asked to close: a heartbeat or limit drop.
        totals.droppedByServer++;
        totals.lastDrop = conn.serverClose ?? 'no close frame';
      }
      conn.closedResolve?.();
    });
    socket.on('connect', () => {
      socket.write(
        `GET ${target.path}?tenantId=soak&userId=${user} HTTP/1.1\r\nHost: 127.0.0.1:${target.port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
  });
}

/** Opens `count` connections, `concurrency` handshakes at a time, retrying failures a few times. */
async function openMany(count, concurrency = 200) {
  let opened = 0;
  let failed = 0;
  let attempts = 0;
  let left = count;
  const worker = async () => {
    while (left > 0) {
      left--;
      let ok = false;
      for (let attempt = 0; attempt < 5 && !ok; attempt++) {
        attempts++;
        ok = await openOne();
        if (!ok) await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
      }
      if (ok) opened++;
      else {
        failed++;
        totals.openFailed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { opened, failed, attempts };
}

/** Closes a connection: with a close frame (answered by the server) or by destroying the socket. */
function closeOne(conn, graceful) {
  conn.closeRequested = true;
  totals.closedByUs++;
  live.delete(conn);
  totals.expectedOfClosed += conn.last - conn.subscribedAt;
  totals.receivedOfClosed += conn.received;
  return new Promise((resolve) => {
    if (conn.phase === CLOSED) return resolve();
    conn.closedResolve = resolve;
    if (graceful && conn.phase === OPEN) {
      conn.socket.write(frame(0x8, Buffer.from([0x03, 0xe8]), conn.mask));
      conn.phase = CLOSING;
      setTimeout(() => conn.socket.destroy(), 5000).unref();
    } else {
      conn.socket.destroy();
    }
  });
}

function pick(count) {
  const all = [...live];
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all.slice(0, count);
}

function snapshot() {
  return { live: live.size, ...totals };
}

serve({
  async configure(message) {
    target = { port: message.port, path: message.path, topics: message.topics, sources: message.sources };
    return {};
  },
  async open({ count, concurrency }) {
    const started = Date.now();
    const result = await openMany(count, concurrency);
    return { ...result, ms: Date.now() - started, live: live.size };
  },
  /** Replaces `count` random connections: half leave with a close frame, half vanish. */
  async churn({ count }) {
    const started = Date.now();
    const victims = pick(count);
    await Promise.all(victims.map((conn, i) => closeOne(conn, i % 2 === 0)));
    const reopened = await openMany(victims.length, 100);
    return { closed: victims.length, ...reopened, ms: Date.now() - started };
  },
  /** Every live connection sends `perMinute` ping envelopes a minute, spread over time. */
  async chatter({ perMinute }) {
    clearInterval(chatterTimer);
    if (perMinute > 0) {
      let carry = 0;
      chatterTimer = setInterval(() => {
        carry += (live.size * perMinute) / 600;
        const n = Math.floor(carry);
        carry -= n;
        for (const conn of pick(n)) {
          sendText(conn, '{"type":"ping","requestId":"c"}');
          totals.clientMessages++;
        }
      }, 100);
    }
    return {};
  },
  async stats() {
    return snapshot();
  },
  /**
   * The loss check: every live subscriber must have every publication its topic acknowledged
   * after it subscribed (`acked` is the last acknowledged offset per topic).
   */
  async final({ acked }) {
    let missing = 0;
    let expectedLive = 0;
    let receivedLive = 0;
    let notSubscribed = 0;
    for (const conn of live) {
      if (conn.subscribedAt === undefined) {
        notSubscribed++;
        continue;
      }
      const last = acked[`soak:${conn.topic}`] ?? conn.subscribedAt;
      const expected = Math.max(0, last - conn.subscribedAt);
      expectedLive += expected;
      receivedLive += conn.received;
      if (conn.last < last) missing += last - conn.last;
    }
    return { ...snapshot(), missing, expectedLive, receivedLive, notSubscribed };
  },
  async closeAll() {
    clearInterval(chatterTimer);
    const all = [...live];
    await Promise.all(all.map((conn) => closeOne(conn, true)));
    return { closed: all.length };
  },
});
