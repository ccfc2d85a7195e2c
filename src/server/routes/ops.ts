/** Operations: liveness, readiness (gallery reachable, not shutting down), Prometheus metrics, public config. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../context.js';
import { ConfigReply, ErrorReply } from '../schemas.js';
import type { Guard } from './identities.js';

export function opsRoutes(ctx: ServerContext, guards: { read: Guard }): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/healthz', { config: { rateLimit: false }, schema: { tags: ['ops'], response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

    app.get(
      '/readyz',
      { config: { rateLimit: false }, schema: { tags: ['ops'], response: { 200: Type.Object({ status: Type.Literal('ready'), faces: Type.Integer() }), 503: ErrorReply } } },
      async (_req, reply) => {
        if (!ctx.ready) return reply.status(503).send({ error: 'shutting down' });
        if (ctx.queue.failed) return reply.status(503).send({ error: 'inference workers stopped; the server needs a restart' });
        try {
          await ctx.gallery.store.ping();
        } catch {
          return reply.status(503).send({ error: 'gallery database unavailable' });
        }
        return { status: 'ready' as const, faces: ctx.gallery.size };
      },
    );

    app.get('/metrics', { config: { rateLimit: false }, schema: { tags: ['ops'], summary: 'Prometheus text format' } }, async (_req, reply) => {
      ctx.metrics.queueDepth.set(ctx.queue.depth);
      return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
    });

    app.get('/v1/config', { preHandler: guards.read, schema: { tags: ['ops'], summary: "the server's model, pipelines and switches", response: { 200: ConfigReply } } }, async () => ({
      model: { id: ctx.model.id, version: ctx.model.version, dim: ctx.model.dim },
      pipeline: ctx.pipelines[0],
      pipelines: ctx.pipelines,
      threshold: ctx.options.threshold,
      attacks: ctx.options.allowAttacks,
      writes: ctx.options.apiKey !== undefined,
      read_key: ctx.options.readKey,
      max_attack_iter: ctx.options.maxAttackIter,
    }));
  };
}
