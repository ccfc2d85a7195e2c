/** Route-side helpers: run the inference tasks through the queue and match descriptors against the gallery. */
import type { ServerContext } from './context.js';
import { HttpError } from './errors.js';
import { ownBytes } from './images.js';
import { ANALYSE, ATTACK, type AnalysePayload, type AnalyseResult, type AttackPayload, type AttackResult, type TaskError } from './inference.js';
import type { MatchT } from './schemas.js';
import { roundTo } from '../util/round.js';

function unwrap<T>(r: T | TaskError): T {
  if (r && typeof r === 'object' && 'error' in r) throw new HttpError((r as TaskError).error.status, (r as TaskError).error.message);
  return r as T;
}

const faceOptions = (ctx: ServerContext, bytes: Buffer, label: string) => {
  const o = ctx.options;
  return { bytes: ownBytes(bytes), label, backbone: o.backbone, maxPixels: o.maxPixels, maxFaces: o.maxFaces, minFaceSize: o.minFaceSize };
};

/** Faces of a photo with descriptors through `pipeline` (null: none) and/or bare. */
export async function analyse(ctx: ServerContext, bytes: Buffer, label: string, want: { pipeline: string | null; bare: boolean; largestOnly: boolean }): Promise<AnalyseResult> {
  const payload: AnalysePayload = { ...faceOptions(ctx, bytes, label), ...want, seed: ctx.nextSeed() };
  return unwrap(await ctx.queue.run<AnalyseResult | TaskError>(ANALYSE, payload, [payload.bytes.buffer as ArrayBuffer], ctx.options.timeoutMs));
}

export async function runAttack(ctx: ServerContext, bytes: Buffer, rest: Omit<AttackPayload, keyof ReturnType<typeof faceOptions> | 'seed' | 'gallery'>): Promise<{ result: AttackResult; identities: string[] }> {
  const snap = ctx.gallery.matrix.snapshot();
  if (new Set(snap.identities).size < 2) throw new HttpError(409, 'attack: the gallery needs faces of at least 2 identities');
  const payload: AttackPayload = { ...faceOptions(ctx, bytes, 'body'), ...rest, gallery: snap.descriptors, seed: ctx.nextSeed() };
  const result = unwrap(await ctx.queue.run<AttackResult | TaskError>(ATTACK, payload, [payload.bytes.buffer as ArrayBuffer, snap.descriptors.buffer as ArrayBuffer], ctx.options.attackTimeoutMs));
  return { result, identities: snap.identities };
}

/** The `k` nearest identities of a descriptor, with the same-person decision. */
export function matchesOf(ctx: ServerContext, d: Float32Array, k: number): MatchT[] {
  return ctx.gallery.search(d, k).map((m) => ({ ...m, distance: round(m.distance), same: m.distance < ctx.options.threshold }));
}

export const round = (v: number): number => roundTo(v, 4);
export const roundBox = (b: { x: number; y: number; width: number; height: number }) => ({ x: round(b.x), y: round(b.y), width: round(b.width), height: round(b.height) });
