/** The web page: `/` (markup), `/app.css`, `/app.js` (compiled from web/app.ts). */
import { readFile } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import { PAGE_CSS, PAGE_HTML } from '../web/page.js';

export function webRoutes(): FastifyPluginAsync {
  return async (app) => {
    const script = await readFile(new URL('../web/app.js', import.meta.url));
    const opts = { schema: { hide: true }, config: { rateLimit: false } };
    app.get('/', opts, async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE_HTML));
    app.get('/app.css', opts, async (_req, reply) => reply.type('text/css; charset=utf-8').send(PAGE_CSS));
    app.get('/app.js', opts, async (_req, reply) => reply.type('text/javascript; charset=utf-8').send(script));
  };
}
