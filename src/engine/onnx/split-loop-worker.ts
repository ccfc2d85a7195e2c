/** One SplitLoop worker (split-loop.ts): a one-thread ORT session of the graph, evaluating or iterating its slice. */
import { parentPort, workerData } from 'node:worker_threads';
import { createSession, loadOnnxRuntime, type OrtModule } from './runtime.js';
import type { FloatData, SplitLoopNames, SplitLoopReply, SplitLoopRequest } from './split-loop.js';

const port = parentPort;
if (!port) throw new Error('split-loop-worker.js must run as a worker thread');
const { model, names } = workerData as { model: Uint8Array; names: SplitLoopNames | undefined };

type OrtTensor = InstanceType<OrtModule['Tensor']>;

const loaded = await loadOnnxRuntime();
if (!loaded) throw new Error('onnxruntime-node does not load in this worker');
const ort: OrtModule = loaded;
const session = await createSession(ort, model, 1);
const tensor = (t: FloatData): OrtTensor => new ort.Tensor('float32', t.data, t.dims);

let feeds: Record<string, OrtTensor> = {};
let current: OrtTensor | undefined;
let next: OrtTensor | undefined;

async function handle(req: SplitLoopRequest): Promise<SplitLoopReply> {
  if (req.op === 'eval') {
    const results = await session.run(Object.fromEntries(Object.entries(req.feeds).map(([k, t]) => [k, tensor(t)])), req.outputs);
    return { ok: true, outputs: Object.fromEntries(req.outputs.map((k) => [k, { data: results[k].data as Float32Array, dims: [...results[k].dims] }])) };
  }
  if (!names) throw new Error(`'${req.op}' on a graph without a carried tensor`);
  if (req.op === 'start') {
    feeds = Object.fromEntries([...Object.entries(req.batched), ...Object.entries(req.shared)].map(([k, t]) => [k, tensor(t)]));
    current = tensor(req.carry);
    next = new ort.Tensor('float32', new Float32Array(req.carry.data.length), req.carry.dims);
    return { ok: true };
  }
  if (!current || !next) throw new Error(`'${req.op}' before 'start'`);
  if (req.op === 'run') {
    for (let i = 0; i < req.iterations; i++) {
      await session.run({ ...feeds, [names.input]: current }, { [names.output]: next });
      [current, next] = [next, current];
    }
    return { ok: true };
  }
  return { ok: true, carry: (current.data as Float32Array).slice() };
}

// Requests are answered one at a time, in order (the main side waits for each reply before the next).
port.on('message', (req: SplitLoopRequest) => {
  handle(req).then(
    (reply) => port.postMessage(reply, reply.ok ? [reply.carry, ...Object.values(reply.outputs ?? {}).map((t) => t.data)].flatMap((d) => (d ? [d.buffer as ArrayBuffer] : [])) : []),
    (e: unknown) => port.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) } satisfies SplitLoopReply),
  );
});
port.postMessage({ ok: true } satisfies SplitLoopReply);
