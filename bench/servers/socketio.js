// The socket.io 4 peer, websocket transport only: answers every "m" event with a "pong"
// event, fans out to a room (`socketsJoin`, `io.to(room).emit`).
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { serve } from '../lib/child.js';
import { memoryReport, pacedPublish, payloadOf } from './common.js';

const http = createServer();
const io = new Server(http, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  httpCompression: false,
  // No heartbeats during a run: the load generator counts frames and would count pings.
  pingInterval: 3_600_000,
  pingTimeout: 3_600_000,
  maxHttpBufferSize: 128 * 1024,
});
io.on('connection', (socket) => {
  socket.on('m', () => socket.emit('pong', 'pong'));
});
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));

/** What a socket.io socket still holds: engine.io's packet queue plus ws's own buffer. */
function backlogOf(socket, frameSize) {
  if (socket === undefined) return 0;
  const conn = socket.conn;
  return conn.writeBuffer.length * frameSize + (conn.transport?.socket?.bufferedAmount ?? 0);
}

serve(
  {
    async prepare({ topic }) {
      io.socketsJoin(topic);
      let last;
      for (const socket of io.of('/').sockets.values()) last = socket;
      io.lastSubscriber = last;
      return { subscribed: io.of('/').adapter.rooms.get(topic)?.size ?? 0 };
    },
    async publish({ topic, count, batch, size }) {
      const text = payloadOf(size).toString('utf8');
      const last = io.lastSubscriber;
      const run = await pacedPublish({
        count,
        batch,
        publishOne: () => {
          io.to(topic).emit('m', text);
        },
        backlog: () => backlogOf(last, size + 16),
      });
      return { published: run.published, t0: run.t0, t1: run.t1, waits: run.waits };
    },
    async stats() {
      return { connections: io.of('/').sockets.size };
    },
    async memory() {
      return { ...(await memoryReport()), connections: io.of('/').sockets.size };
    },
  },
  { port: http.address().port, path: '/socket.io/?EIO=4&transport=websocket', socketio: true },
);
