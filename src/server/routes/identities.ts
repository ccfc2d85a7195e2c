/** Enrolment and identity management: /v1/identities… */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { readImages } from '../images.js';
import { analyse, round, roundBox } from '../recognise.js';
import { CreateIdentityBody, EnrolReply, ErrorReply, IdentityDetail, IdentityParams, IdentitySummary } from '../schemas.js';

export function identityRoutes(ctx: ServerContext, guards: { read: Guard; write: Guard }): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get('/v1/identities', { preHandler: guards.read, schema: { tags: ['gallery'], summary: 'list identities', response: { 200: Type.Object({ identities: Type.Array(IdentitySummary) }) } } }, async () => ({
      identities: await ctx.gallery.store.identities(),
    }));

    app.post(
      '/v1/identities',
      { preHandler: guards.write, schema: { tags: ['gallery'], summary: 'create an identity (faces are added by enrolment)', body: CreateIdentityBody, response: { 201: IdentitySummary, 409: ErrorReply } } },
      async (req, reply) => {
        if (!(await ctx.gallery.store.createIdentity(req.body.id, req.body.display_name ?? null))) throw new HttpError(409, `identity '${req.body.id}' exists already`);
        const rec = (await ctx.gallery.store.identity(req.body.id))!;
        return reply.status(201).send({ id: rec.id, display_name: rec.display_name, faces: rec.faces, created_at: rec.created_at });
      },
    );

    app.get('/v1/identities/:id', { preHandler: guards.read, schema: { tags: ['gallery'], summary: 'one identity and its faces', params: IdentityParams, response: { 200: IdentityDetail, 404: ErrorReply } } }, async (req) => {
      const rec = await ctx.gallery.store.identity(req.params.id);
      if (!rec) throw new HttpError(404, `no identity '${req.params.id}'`);
      return rec;
    });

    app.delete('/v1/identities/:id', { preHandler: guards.write, schema: { tags: ['gallery'], summary: 'delete an identity and its faces', params: IdentityParams, response: { 204: Type.Null(), 404: ErrorReply } } }, async (req, reply) => {
      if (!(await ctx.gallery.deleteIdentity(req.params.id))) throw new HttpError(404, `no identity '${req.params.id}'`);
      return reply.status(204).send(null);
    });

    app.post(
      '/v1/identities/:id/faces',
      {
        preHandler: guards.write,
        config: { imageBody: ['image'] },
        schema: { tags: ['gallery'], summary: "enrol the photo's largest face under this identity (detect, align, describe, store)", params: IdentityParams, response: { 201: EnrolReply, 422: ErrorReply } },
      },
      async (req, reply) => {
        const [bytes] = await readImages(req, ['image'], ctx.options.maxPixels);
        const found = await analyse(ctx, bytes, 'image', { pipeline: null, bare: true, largestOnly: true });
        if (found.faces.length === 0) throw new HttpError(422, `image: no face found (smallest accepted: ${ctx.options.minFaceSize} px)`);
        const stored = await ctx.gallery.enrol(
          req.params.id,
          found.faces.map((f) => ({ descriptor: f.bare!, box: f.box, score: f.score })),
        );
        return reply.status(201).send({
          identity: req.params.id,
          faces: stored.map((f) => ({ id: f.id, box: roundBox(f.box), score: round(f.score), quality: { score: round(f.score), size: round(Math.min(f.box.width, f.box.height)) } })),
        });
      },
    );
  };
}

export type Guard = (req: import('fastify').FastifyRequest) => Promise<void>;
