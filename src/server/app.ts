/**
 * The defended re-identification service: a Fastify app over a gallery database, with inference on worker
 * threads behind a bounded queue. `createServer` builds everything (nothing happens at import); `close()`
 * drains in-flight requests, then stops the workers and the database.
 */
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { WorkerPool } from '../engine/pool/pool.js';
import { hashSeed } from '../util/random.js';
import { canonicalPipeline, type ServerContext } from './context.js';
import { descriptorModel } from './descriptor-model.js';
import { installErrorHandler } from './errors.js';
import { Gallery } from './gallery/gallery.js';
import { registerImageParsers, RAW_IMAGE_TYPES } from './images.js';
import { WARM } from './inference.js';
import { createMetrics } from './metrics.js';
import { resolveServeOptions, type ServeOptions } from './options.js';
import { InferenceQueue } from './queue.js';
import { attackRoutes } from './routes/attack.js';
import { identityRoutes } from './routes/identities.js';
import { opsRoutes } from './routes/ops.js';
import { recognitionRoutes } from './routes/recognition.js';
import { webRoutes } from './routes/web.js';
import { requireKey } from './auth.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Names of the images a route takes (raw body or multipart fields): documented in OpenAPI. */
    imageBody?: string[];
  }
}

export interface RobustifyServer {
  app: FastifyInstance;
  ctx: ServerContext;
  /** Listens on the configured host and port; resolves to the address. */
  listen(): Promise<string>;
  /** Stops accepting, lets in-flight requests finish, then ends the workers and the gallery connection. */
  close(): Promise<void>;
}

export async function createServer(given: Partial<ServeOptions>): Promise<RobustifyServer> {
  const options = resolveServeOptions(given);
  const model = descriptorModel(options.backbone);
  const pipelines = [...new Set([canonicalPipeline(options.pipeline, 'pipeline'), ...options.allowPipelines.map((p) => canonicalPipeline(p, 'allowPipelines'))])];

  const app = Fastify({
    logger: { level: options.logLevel },
    bodyLimit: options.maxBody,
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  const gallery = await Gallery.open(options.gallery, model, (e) => app.log.error({ err: e.message }, 'gallery follow-up failed'));
  let pool: WorkerPool | undefined;
  try {
    pool = await WorkerPool.create({ workers: options.workers });
    // Each worker loads the networks and the server's pipeline now, not on its first request.
    await pool.map(WARM, Array.from({ length: pool.size }, () => ({ backbone: options.backbone, pipeline: pipelines[0] })));
  } catch (e) {
    await pool?.close();
    await gallery.close();
    throw e;
  }
  const metrics = createMetrics(() => ({ faces: gallery.size, identities: gallery.matrix.identities }));
  const queue = new InferenceQueue(pool, options.queue, (waiting, running) => {
    metrics.queueDepth.set(waiting);
    metrics.inferenceActive.set(running);
  });
  let seeds = 0;
  const ctx: ServerContext = { options, model, gallery, queue, metrics, pipelines, nextSeed: () => hashSeed(0, 'request', seeds++), ready: true };

  installErrorHandler(app);
  await registerImageParsers(app, options.maxBody);
  await app.register(swagger, {
    openapi: {
      info: { title: 'robustify re-identification service', version: '1', description: 'Enrol, identify and verify faces through a defence pipeline; attack them (red team).' },
      components: { securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' } } },
    },
    transform: ({ schema, url, route }) => {
      const names = route.config?.imageBody;
      if (!names) return { schema, url };
      const body = { type: 'object', properties: Object.fromEntries(names.map((n) => [n, { type: 'string', format: 'binary' }])), description: `multipart fields ${names.join(', ')}; or the ${names[0]} as the raw body` };
      return { schema: { ...schema, consumes: ['multipart/form-data', ...RAW_IMAGE_TYPES], body }, url };
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  if (options.rateLimit > 0) await app.register(rateLimit, { max: options.rateLimit, timeWindow: '1 minute' });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.latency.observe({ method: req.method, route }, reply.elapsedTime / 1000);
  });

  const write = requireKey(options.apiKey, 'write');
  const read = options.readKey ? requireKey(options.apiKey, 'read') : async (): Promise<void> => {};
  await app.register(opsRoutes(ctx, { read }));
  await app.register(identityRoutes(ctx, { read, write }));
  await app.register(recognitionRoutes(ctx, { read }));
  if (options.allowAttacks) await app.register(attackRoutes(ctx, { write }));
  await app.register(webRoutes());

  let closing: Promise<void> | undefined;
  return {
    app,
    ctx,
    listen: () => app.listen({ host: options.host, port: options.port }),
    close: () =>
      (closing ??= (async () => {
        ctx.ready = false;
        // forceCloseConnections: 'idle' closes only the connections idle when close() starts; a kept-alive one
        // whose request was in flight would then hold the server open for keepAliveTimeout (72 s).
        const sweep = setInterval(() => app.server.closeIdleConnections(), 50);
        try {
          await app.close();
        } finally {
          clearInterval(sweep);
        }
        await queue.drained();
        await pool.close();
        await gallery.close();
      })()),
  };
}
