// The backend behind the HTTP integrations: node:http answering every request `ok`
// (text/plain, keep-alive). The run starts one per Switchboard or relay process, pinned with
// the load generator (core 1), so both sides of the comparison call the same backend on the
// same resources. It counts what it was asked, by path.
import http from 'node:http';
import { serve } from '../lib/child.js';

const OK = Buffer.from('ok');
const counts = { message: 0, connect: 0, other: 0 };

const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  if (req.url === '/message') counts.message++;
  else if (req.url === '/connect') counts.connect++;
  else counts.other++;
  // The request body is read (and dropped) before the answer, as a real backend does.
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': OK.length });
    res.end(OK);
  });
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.requestTimeout = 0;
server.maxRequestsPerSocket = 0;
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

serve(
  {
    async counts() {
      return { ...counts };
    },
  },
  { port: server.address().port, url: `http://127.0.0.1:${server.address().port}` },
);
