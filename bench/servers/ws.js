// The hand-written gateway peer on `ws`: answers every message with "pong", fans out with a
// loop over its subscribers. Two fan-out modes:
//   plain   `ws.send(payload)` per socket: what a gateway written in an afternoon does;
//   --cork  one frame built per message, written to every socket under a per-socket cork
//           that lifts after the batch: the optimised hand-written loop, for reference.
import { WebSocketServer } from 'ws';
import { serve } from '../lib/child.js';
import { memoryReport, pacedPublish, payloadOf } from './common.js';

const corkMode = process.argv.includes('--cork');
const PONG = Buffer.from('pong');

const clients = new Set();
const topics = new Map();

const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, clientTracking: false, maxPayload: 128 * 1024 });
wss.on('connection', (ws) => {
  clients.add(ws);
  ws.on('message', () => ws.send(PONG, { binary: false }));
  ws.on('close', () => clients.delete(ws));
  ws.on('error', () => undefined);
});
await new Promise((resolve) => wss.once('listening', resolve));

/** Server frames are unmasked: a 2- or 4-byte header and the payload, built once per message. */
function encodeTextFrame(payload) {
  const short = payload.length < 126;
  const frame = Buffer.allocUnsafe((short ? 2 : 4) + payload.length);
  frame[0] = 0x81;
  if (short) frame[1] = payload.length;
  else {
    frame[1] = 126;
    frame.writeUInt16BE(payload.length, 2);
  }
  payload.copy(frame, short ? 2 : 4);
  return frame;
}

serve(
  {
    async prepare({ topic }) {
      topics.set(topic, [...clients]);
      return { subscribed: clients.size };
    },
    async publish({ topic, count, batch, size }) {
      const subscribers = topics.get(topic) ?? [];
      const payload = payloadOf(size);
      const last = subscribers[subscribers.length - 1];
      let publishOne;
      if (!corkMode) {
        publishOne = () => {
          for (let i = 0; i < subscribers.length; i++) subscribers[i].send(payload, { binary: false });
        };
      } else {
        const corked = [];
        const uncorkAll = () => {
          for (let i = 0; i < corked.length; i++) corked[i].uncork();
          corked.length = 0;
        };
        publishOne = () => {
          const frame = encodeTextFrame(payload);
          for (let i = 0; i < subscribers.length; i++) {
            const socket = subscribers[i]._socket;
            if (!socket.writableCorked) {
              socket.cork();
              if (corked.push(socket) === 1) process.nextTick(uncorkAll);
            }
            socket.write(frame);
          }
        };
      }
      const run = await pacedPublish({ count, batch, publishOne, backlog: () => (last === undefined ? 0 : last.bufferedAmount) });
      return { published: run.published, t0: run.t0, t1: run.t1, waits: run.waits };
    },
    async stats() {
      return { connections: clients.size };
    },
    async memory() {
      return { ...(await memoryReport()), connections: clients.size };
    },
  },
  { port: wss.address().port, path: '/bench' },
);
