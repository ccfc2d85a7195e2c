/** API keys: writes always need one, reads when the server says so. Compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { HttpError } from './errors.js';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/** Equal-length digests, so neither the key's content nor its length leaks through timing. */
export function keyMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

/** The key a request carries: `x-api-key`, or `Authorization: Bearer <key>`. */
export function requestKey(req: FastifyRequest): string | undefined {
  const h = req.headers['x-api-key'];
  if (typeof h === 'string' && h !== '') return h;
  const auth = req.headers.authorization;
  const m = typeof auth === 'string' ? /^Bearer\s+(.+)$/i.exec(auth) : null;
  return m ? m[1] : undefined;
}

/** A preHandler refusing requests without the right key (`expected` undefined: writes are disabled). */
export function requireKey(expected: string | undefined, what: 'write' | 'read'): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    if (expected === undefined) throw new HttpError(403, `${what}s are disabled: the server was started without an API key (--api-key or ROBUSTIFY_API_KEY)`);
    const given = requestKey(req);
    if (given === undefined) throw new HttpError(401, 'missing API key (send it as x-api-key or Authorization: Bearer)', { 'www-authenticate': 'Bearer' });
    if (!keyMatches(given, expected)) throw new HttpError(401, 'wrong API key', { 'www-authenticate': 'Bearer' });
  };
}
