/**
 * ONNX Runtime's own profile of a session (enableProfiling), summed per node over the profiled runs: time,
 * and for Conv/ConvTranspose/Gemm the FLOPs (2 × multiply-adds, from the shapes the profile records) and the
 * GFLOP/s each reached. What `npm run bench -- --only pgd` prints as the per-layer profile.
 */
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { OrtModule } from '../src/engine/onnx/runtime.js';
import { createSession } from '../src/engine/onnx/runtime.js';

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string; input_type_shape?: Array<Record<string, number[]>>; output_type_shape?: Array<Record<string, number[]>> };
}

export interface NodeProfile {
  node: string;
  op: string;
  ms: number;
  gflop?: number;
  gflops?: number;
}

/** Multiply-adds ×2 of a dense node from its recorded shapes (undefined for other ops). */
function flops(e: ProfileEvent): number | undefined {
  const shapes = (e.args?.input_type_shape ?? []).map((s) => Object.values(s)[0]);
  const out = (e.args?.output_type_shape ?? []).map((s) => Object.values(s)[0])[0];
  const prod = (v: number[]) => v.reduce((a, b) => a * b, 1);
  const op = e.args?.op_name;
  if ((op === 'Conv' || op === 'FusedConv') && shapes[1] && out) return 2 * prod(out) * prod(shapes[1].slice(1));
  // ConvTranspose: every input value meets the whole filter slice of its channel.
  if (op === 'ConvTranspose' && shapes[0] && shapes[1]) return 2 * prod(shapes[0]) * prod(shapes[1].slice(1));
  if ((op === 'Gemm' || op === 'MatMul' || op === 'FusedMatMul') && shapes[0] && out) return 2 * prod(out) * shapes[0][shapes[0].length - 1];
  return undefined;
}

/**
 * Run `runs` times `feed` through a profiling session of `model` (after one unprofiled warm-up it cannot
 * separate: the first run is dropped from the sums) and return the per-node sums per run, slowest first.
 */
export async function profileSession(
  ort: OrtModule,
  model: Uint8Array,
  runOnce: (session: Awaited<ReturnType<typeof createSession>>) => Promise<unknown>,
  runs: number,
): Promise<{ nodes: NodeProfile[]; totalMs: number; gflop: number }> {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-ort-profile-'));
  try {
    const session = await createSession(ort, model, undefined, { enableProfiling: true, profileFilePrefix: path.join(dir, 'profile') });
    for (let i = 0; i <= runs; i++) await runOnce(session);
    session.endProfiling();
    await session.release();
    const file = (await fsp.readdir(dir)).find((f) => f.endsWith('.json'));
    if (!file) throw new Error('ort profile: no profile file written');
    const events = JSON.parse(await fsp.readFile(path.join(dir, file), 'utf8')) as ProfileEvent[];
    const runEvents = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
    const firstEnd = runEvents.length > 0 ? (runEvents[0] as ProfileEvent & { ts: number }).ts + runEvents[0].dur : 0;
    const sums = new Map<string, NodeProfile>();
    for (const e of events as Array<ProfileEvent & { ts: number }>) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < firstEnd) continue;
      const node = e.name.slice(0, -'_kernel_time'.length);
      const p = sums.get(node) ?? { node, op: e.args?.op_name ?? '?', ms: 0 };
      p.ms += e.dur / 1000 / runs;
      const f = flops(e);
      if (f !== undefined) p.gflop = f / 1e9;
      sums.set(node, p);
    }
    const nodes = [...sums.values()].sort((a, b) => b.ms - a.ms);
    for (const p of nodes) if (p.gflop !== undefined) p.gflops = p.gflop / (p.ms / 1000);
    const totalMs = runEvents.slice(1).reduce((s, e) => s + e.dur / 1000, 0) / runs;
    return { nodes, totalMs, gflop: nodes.reduce((s, p) => s + (p.gflop ?? 0), 0) };
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
