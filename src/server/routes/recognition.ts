/** Recognition through the server's defence pipeline: POST /v1/identify and /v1/verify. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { pickPipeline, type ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { readImages } from '../images.js';
import { analyse, matchesOf, round, roundBox } from '../recognise.js';
import { ErrorReply, IdentifyQuery, IdentifyReply, VerifyQuery, VerifyReply } from '../schemas.js';
import type { Guard } from './identities.js';

export function recognitionRoutes(ctx: ServerContext, guards: { read: Guard }): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/v1/identify',
      {
        preHandler: guards.read,
        config: { imageBody: ['image'] },
        schema: { tags: ['recognition'], summary: 'every face in the photo → its nearest gallery identities, through the pipeline', querystring: IdentifyQuery, response: { 200: IdentifyReply, 400: ErrorReply } },
      },
      async (req) => {
        const pipeline = pickPipeline(ctx, req.query.pipeline);
        const [bytes] = await readImages(req, ['image'], ctx.options.maxPixels);
        const compare = req.query.compare === true;
        const r = await analyse(ctx, bytes, 'image', { pipeline, bare: compare, largestOnly: false });
        return {
          pipeline,
          threshold: ctx.options.threshold,
          width: r.width,
          height: r.height,
          faces: r.faces.map((f) => ({
            box: roundBox(f.box),
            score: round(f.score),
            matches: matchesOf(ctx, f.defended!, req.query.k),
            ...(compare ? { undefended: matchesOf(ctx, f.bare!, req.query.k) } : {}),
          })),
        };
      },
    );

    app.post(
      '/v1/verify',
      {
        preHandler: guards.read,
        config: { imageBody: ['a', 'b'] },
        schema: {
          tags: ['recognition'],
          summary: 'same person? two photos (multipart a, b) or a photo and ?identity=ID; largest face of each, through the pipeline',
          querystring: VerifyQuery,
          response: { 200: VerifyReply, 400: ErrorReply, 404: ErrorReply, 422: ErrorReply },
        },
      },
      async (req) => {
        const pipeline = pickPipeline(ctx, req.query.pipeline);
        const identity = req.query.identity;
        const images = await readImages(req, identity === undefined ? ['a', 'b'] : ['image'], ctx.options.maxPixels);
        const labels = identity === undefined ? ['a', 'b'] : ['image'];
        const faces = await Promise.all(images.map((b, i) => analyse(ctx, b, labels[i], { pipeline, bare: false, largestOnly: true })));
        faces.forEach((f, i) => {
          if (f.faces.length === 0) throw new HttpError(422, `${labels[i]}: no face found`);
        });
        const d0 = faces[0].faces[0].defended!;
        let distance: number;
        if (identity !== undefined) {
          const m = ctx.gallery.matrix.nearestOf(d0, identity);
          if (!m) throw new HttpError(404, `no enrolled faces for identity '${identity}'`);
          distance = m.distance;
        } else {
          const d1 = faces[1].faces[0].defended!;
          distance = Math.sqrt(d0.reduce((s, v, j) => s + (v - d1[j]) ** 2, 0));
        }
        return { same: distance < ctx.options.threshold, distance: round(distance), threshold: ctx.options.threshold, pipeline, ...(identity !== undefined ? { identity } : {}) };
      },
    );
  };
}
