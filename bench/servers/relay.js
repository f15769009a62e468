// The hand-written relay a team would write instead of Switchboard: a `ws` server that, for
// every client message, does one undici `Pool.request` to the backend and sends the answer's
// body back; and, for every handshake, asks the backend first (POST /connect) and completes
// the upgrade only on a 2xx, sending a non-empty answer as the client's first message: the
// contract of Switchboard's connect integration (README, "connect").
//   --backend-url URL   the backend (bench/servers/http-backend.js)
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { Pool } from 'undici';
import { WebSocketServer } from 'ws';
import { serve } from '../lib/child.js';
import { memoryReport } from './common.js';

const at = process.argv.indexOf('--backend-url');
const backendUrl = at === -1 ? undefined : process.argv[at + 1];
if (backendUrl === undefined) throw new Error('relay.js needs --backend-url');
// undici's defaults, as a relay written from its README would have them.
const pool = new Pool(backendUrl);

const clients = new Set();
const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, clientTracking: false, maxPayload: 128 * 1024 });
const server = http.createServer((req, res) => {
  res.writeHead(426).end();
});

server.on('upgrade', (req, socket, head) => {
  socket.on('error', () => undefined);
  const id = randomUUID();
  pool
    .request({
      path: '/connect',
      method: 'POST',
      headers: { 'x-connection-id': id, 'x-forwarded-for': req.socket.remoteAddress ?? '', 'user-agent': req.headers['user-agent'] ?? '' },
    })
    .then(async (response) => {
      const welcome = Buffer.from(await response.body.arrayBuffer());
      if (response.statusCode < 200 || response.statusCode >= 300 || socket.destroyed) {
        socket.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        opened(ws, id);
        if (welcome.length > 0) ws.send(welcome, { binary: false });
      });
    })
    .catch(() => socket.destroy());
});

function opened(ws, id) {
  clients.add(ws);
  ws.on('message', async (data, isBinary) => {
    try {
      const response = await pool.request({
        path: '/message',
        method: 'POST',
        headers: { 'content-type': isBinary ? 'application/octet-stream' : 'application/json', 'x-connection-id': id },
        body: data,
      });
      const body = Buffer.from(await response.body.arrayBuffer());
      ws.send(body, { binary: isBinary });
    } catch {
      ws.close(1011, 'backend unavailable');
    }
  });
  ws.on('close', () => clients.delete(ws));
  ws.on('error', () => undefined);
}

await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

serve(
  {
    async stats() {
      return { connections: clients.size };
    },
    async memory() {
      return { ...(await memoryReport()), connections: clients.size };
    },
  },
  { port: server.address().port, path: '/bench' },
);
