/** HTTP errors with a one-line reason, and the handler that turns any error into one (never a stack or a path). */
import type { FastifyError, FastifyInstance } from 'fastify';
import { GalleryUnavailable } from './gallery/postgres.js';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/** The first line of a message, without absolute file paths (a reason must not reveal the server's layout). */
export function oneLine(message: string): string {
  return message.split('\n')[0].replace(/(file:\/\/)?\/[\w.@+-]+(\/[\w.@+-]+)+/g, '<path>').slice(0, 300);
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | HttpError | Error, req, reply) => {
    if (err instanceof HttpError) {
      reply.headers(err.headers);
      return reply.status(err.statusCode).send({ error: oneLine(err.message) });
    }
    if (err instanceof GalleryUnavailable) {
      req.log.warn({ err: err.message }, 'gallery unavailable');
      return reply.status(503).header('retry-after', '1').send({ error: 'gallery database unavailable; retry shortly' });
    }
    const status = (err as FastifyError).statusCode;
    if (status !== undefined && status >= 400 && status < 500) {
      const msg = (err as FastifyError).validation ? `${(err as FastifyError).validationContext ?? 'request'}: ${err.message.replace(/^(body|querystring|params|headers)\/?/, '')}` : err.message;
      return reply.status(status).send({ error: oneLine(msg) });
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send({ error: `internal error (request ${req.id})` });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]}` }));
}
