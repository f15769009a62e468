#!/usr/bin/env node
// Serves the browser example: this folder's index.html and app.js, and the client SDK as
// `npm run build` emits it (dist/src/client/*.js) under /client/. Nothing else, no dependencies.
//
//   npm run build && node examples/browser-client/serve.js      # then open http://127.0.0.1:8000
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLIENT = join(HERE, '../../dist/src/client');
const PAGES = { '/': 'index.html', '/index.html': 'index.html', '/app.js': 'app.js' };

function fileFor(path) {
  if (PAGES[path] !== undefined) return join(HERE, PAGES[path]);
  const match = /^\/client\/([\w-]+\.js(?:\.map)?)$/.exec(path);
  return match === null ? undefined : join(CLIENT, match[1]);
}

/** Starts the server; port 0 picks a free one. Resolves with its URL and a close function. */
export async function startExampleServer(port = 8000, host = '127.0.0.1') {
  if (!existsSync(join(CLIENT, 'index.js'))) throw new Error(`${CLIENT}/index.js is missing: run npm run build first`);
  const server = createServer((req, res) => {
    const file = fileFor(new URL(req.url ?? '/', 'http://x').pathname);
    if (file === undefined || !existsSync(file)) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    const type = file.endsWith('.html') ? 'text/html' : file.endsWith('.map') ? 'application/json' : 'text/javascript';
    res.writeHead(200, { 'content-type': `${type}; charset=utf-8` }).end(readFileSync(file));
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  return {
    url: `http://${host}:${server.address().port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await startExampleServer(Number(process.argv[2] ?? 8000));
  console.log(`browser example at ${url}/ (the demo's realtime path: ws://localhost:8080/realtime)`);
}
