/** Request and response schemas (TypeBox): they validate requests, shape responses and make the OpenAPI page. */
import { Type, type Static } from '@sinclair/typebox';

export const IdentityId = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$', description: 'letters, digits, _ . - (at most 64)' });
export const IdentityParams = Type.Object({ id: IdentityId });

export const ErrorReply = Type.Object({ error: Type.String() }, { description: 'one-line reason' });

export const Box = Type.Object({ x: Type.Number(), y: Type.Number(), width: Type.Number(), height: Type.Number() });

export const Match = Type.Object({
  identity: Type.String(),
  face_id: Type.Integer(),
  distance: Type.Number(),
  /** Below the server's threshold. */
  same: Type.Boolean(),
});
export type MatchT = Static<typeof Match>;

export const PipelineQuery = Type.String({ description: "defence pipeline for this request (one of the server's allowed ones)" });

export const IdentifyQuery = Type.Object(
  {
    pipeline: Type.Optional(PipelineQuery),
    compare: Type.Optional(Type.Boolean({ description: 'also answer with the undefended network' })),
    k: Type.Integer({ minimum: 1, maximum: 50, default: 5, description: 'matches per face' }),
  },
  { additionalProperties: false },
);

export const IdentifiedFace = Type.Object({
  box: Box,
  score: Type.Number(),
  matches: Type.Array(Match),
  undefended: Type.Optional(Type.Array(Match)),
});

export const IdentifyReply = Type.Object({
  pipeline: Type.String(),
  threshold: Type.Number(),
  width: Type.Integer(),
  height: Type.Integer(),
  faces: Type.Array(IdentifiedFace),
});

export const VerifyQuery = Type.Object(
  {
    pipeline: Type.Optional(PipelineQuery),
    identity: Type.Optional(Type.Intersect([IdentityId], { description: 'compare the image with this identity (raw body) instead of a second image' })),
  },
  { additionalProperties: false },
);

export const VerifyReply = Type.Object({
  same: Type.Boolean(),
  distance: Type.Number(),
  threshold: Type.Number(),
  pipeline: Type.String(),
  identity: Type.Optional(Type.String()),
});

export const EnrolQuery = Type.Object({}, { additionalProperties: false });

export const EnrolReply = Type.Object({
  identity: Type.String(),
  faces: Type.Array(Type.Object({ id: Type.Integer(), box: Box, score: Type.Number(), quality: Type.Object({ score: Type.Number(), size: Type.Number() }) })),
});

export const CreateIdentityBody = Type.Object({ id: IdentityId, display_name: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: false });

export const IdentitySummary = Type.Object({ id: Type.String(), display_name: Type.Union([Type.String(), Type.Null()]), faces: Type.Integer(), created_at: Type.String() });
export const IdentityDetail = Type.Intersect([
  IdentitySummary,
  Type.Object({ face_list: Type.Array(Type.Object({ id: Type.Integer(), box: Box, score: Type.Number(), created_at: Type.String() })) }),
]);

export const AttackQuery = Type.Object(
  {
    attack: Type.Union([Type.Literal('pgd'), Type.Literal('bim'), Type.Literal('fgsm')], { default: 'pgd' }),
    against: Type.Union([Type.Literal('bare'), Type.Literal('defended')], { default: 'bare', description: 'the model the attacker differentiates (defended: BPDA through non-differentiable stages)' }),
    pipeline: Type.Optional(PipelineQuery),
    eps: Type.Number({ exclusiveMinimum: 0, maximum: 32, default: 4, description: 'L∞ budget on 0–255' }),
    eps_step: Type.Number({ exclusiveMinimum: 0, maximum: 32, default: 1 }),
    max_iter: Type.Integer({ minimum: 1, default: 10 }),
  },
  { additionalProperties: false },
);
export type AttackQueryT = Static<typeof AttackQuery>;

const Answers = Type.Object({ clean: Type.Array(Match), adversarial: Type.Array(Match) });
export const AttackReply = Type.Object({
  attack: Type.String(),
  against: Type.String(),
  pipeline: Type.String(),
  eps: Type.Number(),
  linf: Type.Number(),
  box: Box,
  /** The identity the attack moves the face away from. */
  source_identity: Type.String(),
  images: Type.Object({ clean: Type.String(), adversarial: Type.String(), perturbation: Type.String() }, { description: 'data: URLs of PNGs (the aligned 150×150 face)' }),
  bare: Answers,
  defended: Answers,
});

export const ConfigReply = Type.Object({
  model: Type.Object({ id: Type.String(), version: Type.String(), dim: Type.Integer() }),
  pipeline: Type.String(),
  pipelines: Type.Array(Type.String()),
  threshold: Type.Number(),
  attacks: Type.Boolean(),
  writes: Type.Boolean(),
  read_key: Type.Boolean(),
  max_attack_iter: Type.Integer(),
});
