/** The red team's route: POST /v1/attack (registered only with allowAttacks). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { pickPipeline, type ServerContext } from '../context.js';
import { HttpError } from '../errors.js';
import { readImages } from '../images.js';
import { matchesOf, round, roundBox, runAttack } from '../recognise.js';
import { AttackQuery, AttackReply, ErrorReply } from '../schemas.js';
import type { Guard } from './identities.js';

const dataUrl = (png: Uint8Array): string => `data:image/png;base64,${Buffer.from(png).toString('base64')}`;

export function attackRoutes(ctx: ServerContext, guards: { write: Guard }): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/v1/attack',
      {
        preHandler: guards.write,
        config: { imageBody: ['image'] },
        schema: {
          tags: ['red team'],
          summary: "evasion attack on the photo's largest face (dodging its nearest identity); the adversarial face and what the bare and defended models answer",
          querystring: AttackQuery,
          response: { 200: AttackReply, 400: ErrorReply, 409: ErrorReply, 422: ErrorReply },
        },
      },
      async (req) => {
        const q = req.query;
        if (q.max_iter > ctx.options.maxAttackIter) throw new HttpError(400, `max_iter must be ≤ ${ctx.options.maxAttackIter} on this server, got ${q.max_iter}`);
        const pipeline = pickPipeline(ctx, q.pipeline);
        const [bytes] = await readImages(req, ['image'], ctx.options.maxPixels);
        const { result: r, identities } = await runAttack(ctx, bytes, {
          pipeline,
          against: q.against,
          attack: q.attack,
          params: { norm: 'inf', eps: q.eps, eps_step: q.eps_step, max_iter: q.max_iter },
        });
        const k = 3;
        const d = r.descriptors;
        return {
          attack: q.attack,
          against: q.against,
          pipeline,
          eps: q.eps,
          linf: round(r.linf),
          box: roundBox(r.box),
          source_identity: identities[r.label],
          images: { clean: dataUrl(r.clean_png), adversarial: dataUrl(r.adversarial_png), perturbation: dataUrl(r.perturbation_png) },
          bare: { clean: matchesOf(ctx, d.clean_bare, k), adversarial: matchesOf(ctx, d.adversarial_bare, k) },
          defended: { clean: matchesOf(ctx, d.clean_defended, k), adversarial: matchesOf(ctx, d.adversarial_defended, k) },
        };
      },
    );
  };
}
