/**
 * Posted photos: a raw body (image/png, image/jpeg, image/webp, application/octet-stream) or multipart form
 * parts. The header is read at once (format and pixel count, no decoding), so an oversized or non-image upload
 * is refused before it reaches a worker.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import { ImageDecodeError, readImageHeader } from '../image/index.js';
import { HttpError } from './errors.js';

export const RAW_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'application/octet-stream'];

/** Registers the raw-image and multipart parsers, both capped at `maxBody` bytes. */
export async function registerImageParsers(app: FastifyInstance, maxBody: number): Promise<void> {
  app.addContentTypeParser(RAW_IMAGE_TYPES, { parseAs: 'buffer', bodyLimit: maxBody }, (_req, body, done) => done(null, body));
  await app.register(multipart, { limits: { fileSize: maxBody, files: 2, fields: 4, parts: 6, fieldSize: 1024 } });
}

const EXPECTED = `an image body (${RAW_IMAGE_TYPES.join(', ')}) or multipart/form-data`;

/**
 * The images `names` of a request, in order: a raw body is the first name's image; multipart parts are
 * matched by field name. Each one's header is checked against `maxPixels`.
 */
export async function readImages(req: FastifyRequest, names: readonly string[], maxPixels: number): Promise<Buffer[]> {
  const found = new Map<string, Buffer>();
  if (req.isMultipart()) {
    for await (const part of req.parts()) {
      if (part.type !== 'file') continue;
      if (!names.includes(part.fieldname)) throw new HttpError(400, `multipart: unexpected file field '${part.fieldname}' (expected ${names.join(', ')})`);
      found.set(part.fieldname, await part.toBuffer());
    }
  } else if (Buffer.isBuffer(req.body)) {
    found.set(names[0], req.body);
  } else {
    throw new HttpError(415, `expected ${EXPECTED}, got ${req.headers['content-type'] ?? 'no content type'}`);
  }
  const out: Buffer[] = [];
  for (const name of names) {
    const bytes = found.get(name);
    if (!bytes) throw new HttpError(400, names.length === 1 ? `missing image: send ${EXPECTED}` : `missing image '${name}' (multipart fields: ${names.join(', ')})`);
    await checkHeader(bytes, name, maxPixels);
    out.push(bytes);
  }
  return out;
}

async function checkHeader(bytes: Buffer, label: string, maxPixels: number): Promise<void> {
  try {
    await readImageHeader(bytes, label, { maxPixels });
  } catch (e) {
    if (e instanceof ImageDecodeError) throw new HttpError(/exceeds the pixel budget/.test(e.reason) ? 413 : 400, e.message);
    throw e;
  }
}

/** A copy of `b` in its own ArrayBuffer (transferred to the worker without detaching a pooled buffer). */
export function ownBytes(b: Buffer): Uint8Array {
  return new Uint8Array(b);
}
