/** One SplitLoop worker (split-loop.ts): a one-thread ORT session of the graph, evaluating or iterating its slice. */
import { parentPort, workerData } from 'node:worker_threads';
import { onRequest } from '../pool/quit.js';
import { createSession, loadOnnxRuntime, type OrtModule } from './runtime.js';
import { splitSizes, type FloatData, type SplitLoopNames, type SplitLoopReply, type SplitLoopRequest } from './split-loop.js';

const port = parentPort;
if (!port) throw new Error('split-loop-worker.js must run as a worker thread');
const init = workerData as { model?: Uint8Array; names: SplitLoopNames | undefined; chunk: number };
const { names, chunk } = init;

type OrtTensor = InstanceType<OrtModule['Tensor']>;

const loaded = await loadOnnxRuntime();
if (!loaded) throw new Error('onnxruntime-node does not load in this worker');
const ort: OrtModule = loaded;
const session = await createSession(ort, init.model!, 1);
// The session holds its own copy of the weights: the graph's bytes (tens of MB) need not stay resident.
delete init.model;
const tensor = (t: FloatData): OrtTensor => new ort.Tensor('float32', t.data, t.dims);

/**
 * The slice as runs of at most `chunk` samples: ORT's arena keeps what the largest run needed (a gradient
 * graph keeps every layer's activations), so a worker's memory follows the chunk, not the slice.
 */
function chunked(batched: Record<string, FloatData>): Record<string, FloatData>[] {
  const n = Object.values(batched)[0].dims[0];
  let from = 0;
  return splitSizes(n, Math.ceil(n / chunk)).map((size) => {
    const part = Object.fromEntries(
      Object.entries(batched).map(([k, t]) => {
        const per = t.data.length / t.dims[0];
        return [k, { data: t.data.slice(from * per, (from + size) * per), dims: [size, ...t.dims.slice(1)] }];
      }),
    );
    from += size;
    return part;
  });
}

/** Tensors of the chunks joined along the first axis. */
function joined(parts: readonly FloatData[]): FloatData {
  if (parts.length === 1) return parts[0];
  const data = new Float32Array(parts.reduce((s, p) => s + p.data.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p.data, at);
    at += p.data.length;
  }
  return { data, dims: [parts.reduce((s, p) => s + p.dims[0], 0), ...parts[0].dims.slice(1)] };
}

interface Carried {
  feeds: Record<string, OrtTensor>;
  current: OrtTensor;
  next: OrtTensor;
}
let carried: Carried[] = [];

async function handle(req: SplitLoopRequest): Promise<SplitLoopReply> {
  if (req.op === 'eval') {
    const shared = Object.entries(req.shared);
    const runs: Record<string, FloatData>[] = [];
    for (const part of chunked(req.batched)) {
      const results = await session.run(Object.fromEntries([...Object.entries(part), ...shared].map(([k, t]) => [k, tensor(t)])), req.outputs);
      runs.push(Object.fromEntries(req.outputs.map((k) => [k, { data: results[k].data as Float32Array, dims: [...results[k].dims] }])));
    }
    return { ok: true, outputs: Object.fromEntries(req.outputs.map((k) => [k, joined(runs.map((r) => r[k]))])) };
  }
  if (!names) throw new Error(`'${req.op}' on a graph without a carried tensor`);
  if (req.op === 'start') {
    const shared = Object.entries(req.shared).map(([k, t]) => [k, tensor(t)] as const);
    carried = chunked({ [names.input]: req.carry, ...req.batched }).map(({ [names.input]: carry, ...rest }) => ({
      feeds: Object.fromEntries([...Object.entries(rest).map(([k, t]) => [k, tensor(t)] as const), ...shared]),
      current: tensor(carry),
      next: new ort.Tensor('float32', new Float32Array(carry.data.length), carry.dims),
    }));
    return { ok: true };
  }
  if (carried.length === 0) throw new Error(`'${req.op}' before 'start'`);
  if (req.op === 'run') {
    for (const c of carried) {
      for (let i = 0; i < req.iterations; i++) {
        await session.run({ ...c.feeds, [names.input]: c.current }, { [names.output]: c.next });
        [c.current, c.next] = [c.next, c.current];
      }
    }
    return { ok: true };
  }
  return { ok: true, carry: joined(carried.map((c) => ({ data: (c.current.data as Float32Array).slice(), dims: [...c.current.dims] }))).data };
}

// Requests are answered one at a time, in order (the main side waits for each reply before the next).
onRequest(port, (req: SplitLoopRequest) => {
  handle(req).then(
    (reply) => port.postMessage(reply, reply.ok ? [reply.carry, ...Object.values(reply.outputs ?? {}).map((t) => t.data)].flatMap((d) => (d ? [d.buffer as ArrayBuffer] : [])) : []),
    (e: unknown) => port.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) } satisfies SplitLoopReply),
  );
});
port.postMessage({ ok: true } satisfies SplitLoopReply);
