// The uWebSockets.js peer (the published @trufflesuite build): answers every message with
// "pong", fans out with uWS's own topics (`ws.subscribe`, `app.publish`).
import uWS from '@trufflesuite/uws-js-unofficial';
import { serve } from '../lib/child.js';
import { memoryReport, pacedPublish, payloadOf, stampedPublish } from './common.js';

const sockets = new Set();
const app = uWS.App().ws('/*', {
  compression: uWS.DISABLED,
  maxPayloadLength: 128 * 1024,
  // No pings and no idle timeout: the load generator does not answer pings, like for every peer.
  idleTimeout: 0,
  sendPingsAutomatically: false,
  // Publishing is paced by the bench; a skipped slow receiver would show up as a loss.
  maxBackpressure: 256 * 1024 * 1024,
  closeOnBackpressureLimit: false,
  open: (ws) => sockets.add(ws),
  message: (ws) => {
    ws.send('pong', false);
  },
  close: (ws) => sockets.delete(ws),
});

const port = await new Promise((resolve, reject) => {
  app.listen('127.0.0.1', 0, (listenSocket) => {
    if (!listenSocket) reject(new Error('uWS could not listen'));
    else resolve(uWS.us_socket_local_port(listenSocket));
  });
});

serve(
  {
    async prepare({ topic }) {
      let last;
      for (const ws of sockets) {
        ws.subscribe(topic);
        last = ws;
      }
      app.lastSubscriber = last;
      return { subscribed: app.numSubscribers(topic) };
    },
    async publish({ topic, count, batch, size }) {
      const payload = payloadOf(size);
      const last = app.lastSubscriber;
      const run = await pacedPublish({
        count,
        batch,
        publishOne: () => {
          app.publish(topic, payload, false);
        },
        backlog: () => (last === undefined ? 0 : last.getBufferedAmount()),
      });
      return { published: run.published, t0: run.t0, t1: run.t1, waits: run.waits };
    },
    /** Stamped publishes for the latency reference (see the cluster figure). */
    async publishStamped({ topic, rate, durationMs, size, batch }) {
      const run = await stampedPublish({ rate, durationMs, size, batch, publishOne: (data) => void app.publish(topic, data, false) });
      return { published: run.published, delivered: run.published * app.numSubscribers(topic), t0: run.t0, t1: run.t1 };
    },
    async stats() {
      return { connections: sockets.size };
    },
    async memory() {
      return { ...(await memoryReport()), connections: sockets.size };
    },
  },
  { port, path: '/bench' },
);
