import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifySchema } from 'fastify';
import { RPC_CODE } from '../errors/index.js';

/**
 * The web console (console/, built by `vite build console` into dist/console) served by the
 * management listener at /console. The files are public static content: the page asks for
 * the API key and sends it with every API call it makes, so serving it needs no auth.
 */
export interface ConsoleOptions {
  /** The built console; default: dist/console of this package. */
  root?: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Everything the page loads comes from this origin; the API key it holds can go nowhere
 * else, and no other site may frame it.
 */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** Pages, not API operations: @fastify/swagger leaves routes marked so out of /openapi.json. */
const HIDDEN = { hide: true } as FastifySchema;

/** Vite names every asset by its content hash: a given URL never changes. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

export function registerConsole(app: FastifyInstance, options: ConsoleOptions = {}): void {
  const root = resolve(options.root ?? defaultConsoleRoot());
  const index = join(root, 'index.html');

  const notBuilt = (reply: FastifyReply): FastifyReply =>
    reply
      .code(503)
      .header('content-type', 'application/json; charset=utf-8')
      .send({ code: RPC_CODE.UNAVAILABLE, message: `the web console is not built: run \`npm run build\` (it writes ${index})`, details: [] });

  const serveIndex = async (reply: FastifyReply): Promise<FastifyReply> => {
    const body = await readFile(index).catch(() => undefined);
    if (body === undefined) return notBuilt(reply);
    return reply.headers({ ...SECURITY_HEADERS, 'content-type': CONTENT_TYPES['.html']!, 'cache-control': 'no-cache' }).send(body);
  };

  app.get('/console', { schema: HIDDEN }, (_req, reply) => serveIndex(reply));
  app.get<{ Params: { '*': string } }>('/console/*', { schema: HIDDEN }, async (req, reply) => {
    const path = req.params['*'];
    if (path === '' || path === 'index.html') return serveIndex(reply);
    const file = resolve(root, path);
    // Only files below the console's folder, named plainly: no traversal, no dotfiles.
    if (!file.startsWith(root + sep) || path.includes('\0') || path.split('/').some((part) => part.startsWith('.'))) return reply.callNotFound();
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) {
      if (!existsSync(index)) return notBuilt(reply);
      return reply.callNotFound();
    }
    const body = await readFile(file);
    return reply
      .headers({
        ...SECURITY_HEADERS,
        'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
        'cache-control': path.startsWith('assets/') ? IMMUTABLE : 'no-cache',
      })
      .send(body);
  });
}

/**
 * dist/console of the package this file belongs to: the nearest folder above with a
 * package.json, from src/console (tests) and dist/src/console (installed) alike.
 */
export function defaultConsoleRoot(): string {
  const start = dirname(fileURLToPath(import.meta.url));
  for (let folder = start; ; folder = dirname(folder)) {
    if (existsSync(join(folder, 'package.json'))) return join(folder, 'dist', 'console');
    if (dirname(folder) === folder) return join(start, '..', '..', 'console');
  }
}
