/**
 * BMCNN's two networks as ONNX graphs on onnxruntime (MLAS): the denoising pass of the `bmcnn` defence. The
 * graphs compute exactly what pilotForward / mainForward in model.ts compute (same layouts: ONNX's
 * SpaceToDepth and DepthToSpace 'DCR' order channels as (row parity, column parity, channel), like
 * net.ts), up to float rounding; the VJP graph is their composition differentiated by src/engine/onnx/autodiff.
 */
import { decodeModel, differentiate, encodeModel } from '../engine/onnx/autodiff/index.js';
import { OnnxConv } from '../engine/onnx/conv.js';
import { INT32, OnnxGraph } from '../engine/onnx/graph.js';
import { IdleCache } from '../util/idle.js';
import { createSession, loadOnnxRuntime, type OrtModule, type OrtSession } from '../engine/onnx/runtime.js';
import { mapImageRanges } from '../engine/pool/js-pool.js';
import type { TaskRef } from '../engine/pool/pool.js';
import { poolThreads } from '../engine/threads.js';
import { gatherIndices, matchCells, type MatchOptions } from './match.js';
import type { ConvNet } from './net.js';

/** conv (+ReLU but on the last) over NCHW `h`. */
function convs(g: OnnxGraph, net: ConvNet, h: string, inChannels = net.config.inChannels): string {
  net.layers.forEach((l, i) => {
    let filter = l.kernel.dataSync() as Float32Array;
    let shape = l.kernel.shape;
    if (i === 0 && inChannels !== shape[2]) {
      // Zero weights for the input's padding channels.
      const [kh, kw, cin, cout] = shape;
      const wide = new Float32Array(kh * kw * inChannels * cout);
      for (let t = 0; t < kh * kw; t++) wide.set(filter.subarray(t * cin * cout, (t + 1) * cin * cout), t * inChannels * cout);
      [filter, shape] = [wide, [kh, kw, inChannels, cout]];
    }
    const weights = { filter, shape, bias: l.bias.dataSync() as Float32Array };
    // 3×3 'same', stride 1: one pixel of padding on every side whatever the size.
    h = new OnnxConv(g, weights, 8, 1, 'same').forward(h);
    if (i < net.layers.length - 1) h = g.op('Relu', [h]);
  });
  return h;
}

const NCHW = { perm: { ints: [0, 3, 1, 2] } };
const NHWC = { perm: { ints: [0, 2, 3, 1] } };

/** NHWC x/255 → x/255 − 0.5 as NCHW planes. */
function centred(g: OnnxGraph, x01: string): string {
  return g.op('Transpose', [g.op('Sub', [x01, g.floats([0.5], [])])], NCHW);
}

/** Centred NCHW planes → space-to-depth with the σ map appended: a net's input. */
function netInput(g: OnnxGraph, planes: string, sigmaMap: string): string {
  return g.op('Concat', [g.op('SpaceToDepth', [planes], { blocksize: { i: 2 } }), sigmaMap], { axis: { i: 1 } });
}

/**
 * The pilot estimate of NHWC 0–255 `x`, NHWC 0–255, unclipped (pilotForward in model.ts), and the centred
 * planes of x it starts from.
 */
function pilotNodes(g: OnnxGraph, net: ConvNet, x: string, sigma: string): { pilot: string; planes: string } {
  const c255 = g.floats([255], []);
  const x01 = g.op('Div', [x, c255]);
  const planes = centred(g, x01);
  const noise = g.op('DepthToSpace', [convs(g, net, netInput(g, planes, sigma))], { blocksize: { i: 2 }, mode: { s: 'DCR' } });
  return { pilot: g.op('Mul', [g.op('Sub', [x01, g.op('Transpose', [noise], NHWC)]), c255]), planes };
}

/**
 * The pilot graph: the pilot `y`, and the centred planes of x (`noisy`) and of the pilot (`centred`) that
 * stackInput gathers from (ORT's vectorised elementwise nodes, ≈ 0.4 ms per 150 px face less than JS loops).
 */
function pilotModel(net: ConvNet): Uint8Array {
  const g = new OnnxGraph();
  const { pilot, planes } = pilotNodes(g, net, g.input('x', ['N', 'H', 'W', 3]), g.input('sigma', ['N', 1, 'H2', 'W2']));
  g.output('y', pilot, ['N', 'H', 'W', 3]);
  g.output('noisy', planes, ['N', 3, 'H', 'W']);
  g.output('centred', centred(g, g.op('Div', [pilot, g.floats([255], [])])), ['N', 3, 'H', 'W']);
  return g.toBytes();
}

/** model.ts's aggregate(): ConvTranspose with the one-hot kernel, as [in = 48, out = 3, 4, 4]. */
function aggregateKernel(patch: number, ch: number): Float32Array {
  const k = new Float32Array(ch * 3 * patch * patch);
  for (let a = 0; a < patch; a++) {
    for (let b = 0; b < patch; b++) {
      for (let c = 0; c < 3; c++) k[((((a * patch + b) * 3 + c) * 3 + c) * patch + a) * patch + b] = 1;
    }
  }
  return k;
}

/**
 * The block-matching CNN from its input on: net input [N, 24k+1, H/2, W/2] (netInput's layout) and pilot →
 * output, NHWC 0–255, unclipped (mainForward in model.ts).
 */
function mainTrunk(g: OnnxGraph, net: ConvNet, patch: number, input: string, inChannels: number, p01: string, count: string): string {
  const patches = convs(g, net, input, inChannels);
  const ch = net.config.outChannels;
  const sum = g.op('ConvTranspose', [patches, g.floats(aggregateKernel(patch, ch), [ch, 3, patch, patch])], {
    kernel_shape: { ints: [patch, patch] }, strides: { ints: [2, 2] }, pads: { ints: [1, 1, 1, 1] },
  });
  const avg = g.op('Div', [sum, count]);
  return g.op('Mul', [g.op('Sub', [p01, g.op('Transpose', [avg], NHWC)]), g.floats([255], [])]);
}

/**
 * The first conv's input channels padded with zeros to a multiple of 16: ORT then runs it in its blocked
 * NCHWc layout like the other convs (97 channels fell back to a slower im2col path).
 */
const paddedChannels = (c: number): number => Math.ceil(c / 16) * 16;

/** The denoiser's forward main graph: the stacked input comes from stackInput (below). */
function mainModel(net: ConvNet, patch: number): Uint8Array {
  const g = new OnnxGraph();
  const input = g.input('input', ['N', paddedChannels(net.config.inChannels), 'H2', 'W2']);
  const p01 = g.op('Div', [g.input('pilot', ['N', 'H', 'W', 3]), g.floats([255], [])]);
  g.output('y', mainTrunk(g, net, patch, input, paddedChannels(net.config.inChannels), p01, g.input('count', [1, 1, 'H', 'W'])), ['N', 'H', 'W', 3]);
  return g.toBytes();
}

/**
 * The vector-Jacobian product of the whole denoiser (pilot included, matched positions `idx` fixed): grad_x =
 * ∇ₓ Σ main(x, pilot(x))·gy, compiled by the ONNX differentiator. Here the matches are stacked in the graph
 * (Gather, whose gradient scatter-adds). Static sides: the differentiator needs the convolutions' sizes.
 */
function vjpModel(pilot: ConvNet, main: ConvNet, matches: number, patch: number, h: number, w: number): Uint8Array {
  const g = new OnnxGraph();
  const x = g.input('x', ['N', h, w, 3]);
  const sigma = g.input('sigma', ['N', 1, h / 2, w / 2]);
  const c255 = g.floats([255], []);
  const x01 = g.op('Div', [x, c255]);
  const p01 = g.op('Div', [pilotNodes(g, pilot, x, sigma).pilot, c255]);
  let sx = x01;
  let sp = p01;
  if (matches > 1) {
    // Rows of the [N·H·W, 3] image gathered at [N, H, W, k] → [N, H, W, k, 3] → [N, H, W, 3k] (block j = match j).
    const idx = g.input('idx', ['N', h, w, matches], INT32);
    const stack = (v: string) => g.op('Reshape', [g.op('Gather', [g.op('Reshape', [v, g.int64s([-1, 3])]), idx], { axis: { i: 0 } }), g.int64s([0, 0, 0, -1])]);
    sx = stack(x01);
    sp = stack(p01);
  }
  const input = netInput(g, centred(g, g.op('Concat', [sx, sp], { axis: { i: 3 } })), sigma);
  const y = mainTrunk(g, main, patch, input, main.config.inChannels, p01, g.input('count', [1, 1, h, w]));
  g.output('weighted', g.op('Mul', [y, g.input('gy', ['N', h, w, 3])]), ['N', h, w, 3]);
  return encodeModel(differentiate(decodeModel(g.toBytes(), 'bmcnn'), { wrt: 'x', of: 'weighted', keep: [], file: 'bmcnn' }));
}

/**
 * The main net's input written into `out` [N, paddedChannels, H/2, W/2] from the centred planes of the noisy
 * images and of the pilots and the matched cells: what the Gather → Concat → centring → SpaceToDepth nodes
 * of vjpModel compute (the same float32 operations), in plain JS, which profiled ~4× faster than those nodes
 * on ORT (they were a quarter of the main net's time). Channel (row parity, column parity, c) for c over
 * [noisy of matches 0…k−1, pilot of matches 0…k−1], then σ/255; the padding channels are not written (the
 * caller's zeros). One pass per match and plane, writing the four parities of every cell: 0.9 ms per 150 px
 * face against 2.3 for centring each value in the gathers' loop into a fresh array.
 */
function stackInput(
  out: Float32Array, noisy: Float32Array, pilot: Float32Array, cells: { dy: Int8Array; dx: Int8Array } | null,
  n: number, h: number, w: number, k: number, sigma: readonly number[],
): void {
  const [h2, w2] = [h / 2, w / 2];
  const plane = h2 * w2;
  const pixels = h * w;
  const ch = paddedChannels(24 * k + 1);
  const parity = 6 * k * plane; // from one (row parity, column parity) block of channels to the next
  const at = new Int32Array(plane); // each cell's matched cell, as the flat index of its top-left pixel
  for (let img = 0; img < n; img++) {
    const base = img * ch * plane;
    out.fill(Math.fround(sigma[img] / 255), base + 24 * k * plane, base + (24 * k + 1) * plane);
    for (let j = 0; j < k; j++) {
      for (let cell = 0, m = img * plane * k + j; cell < plane; cell++, m += k) {
        at[cell] = 2 * Math.floor(cell / w2) * w + 2 * (cell % w2) + (cells ? cells.dy[m] * w + cells.dx[m] : 0);
      }
      for (let s = 0; s < 6; s++) {
        // Noisy planes at channel 3j + c of a parity's block, pilot planes at 3k + 3j + c.
        const o = base + (s < 3 ? 3 * j + s : 3 * k + 3 * j + s - 3) * plane;
        const src = s < 3 ? noisy : pilot;
        const from = (img * 3 + (s % 3)) * pixels;
        for (let cell = 0; cell < plane; cell++) {
          const a = from + at[cell];
          const oc = o + cell;
          out[oc] = src[a];
          out[oc + parity] = src[a + 1];
          out[oc + 2 * parity] = src[a + w];
          out[oc + 3 * parity] = src[a + w + 1];
        }
      }
    }
  }
}

/** How many 4×4 patch estimates cover each pixel (1, 2 or 4), as aggregate()'s scatter of ones counts them. */
function coverCount(h: number, w: number, patch: number): Float32Array {
  const along = (size: number): Float32Array => {
    const c = new Float32Array(size);
    for (let i = 0; i < size / 2; i++) for (let a = 0; a < patch; a++) if (2 * i + a - 1 >= 0 && 2 * i + a - 1 < size) c[2 * i + a - 1]++;
    return c;
  };
  const rows = along(h);
  const cols = along(w);
  return Float32Array.from({ length: h * w }, (_, p) => rows[Math.floor(p / w)] * cols[p % w]);
}

interface SliceGraphs {
  /** Names the model's graphs in the workers' session caches. */
  key: string;
  pilot: Uint8Array;
  /** The main net ('main') or the VJP graph at these sides ('vjp:H×W'), and its bytes. */
  name: string;
  second: Uint8Array;
}

/** One slice of a batch for a worker: pilot, block matching and the main net (or the VJP) in one task. */
interface SlicePart {
  /** Nested, so that mapImageRanges copies them instead of transferring the model's own bytes. */
  graphs: SliceGraphs;
  x: Float32Array;
  /** The gradient w.r.t. the output, for the VJP. */
  gy?: Float32Array;
  /** The VJP's matches when the forward pass found them already (nested: copied, not transferred). */
  cells?: Cells;
  sigma: number[];
  n: number;
  h: number;
  w: number;
  match: MatchOptions;
  patch: number;
}

type Feeds = Record<string, InstanceType<OrtModule['Tensor']>>;
/** Each cell's k matched displacements (matchCells), or null with one match (the cell itself). */
type Cells = { dy: Int8Array; dx: Int8Array } | null;

/** A slice's output (denoised or VJP) and, from a forward pass, the matches it used. */
interface SliceResult {
  out: Float32Array;
  cells?: Cells;
}

/**
 * A worker's (or the inline caller's) sessions by graph, each released once unused for SESSION_IDLE_MS: the
 * VJP's session holds every activation of a slice (hundreds of MB), which the forward passes between
 * adaptive attacks, or the rest of a study, need not keep resident.
 */
const SESSION_IDLE_MS = 10_000;
const sessions = new IdleCache<OrtSession>(SESSION_IDLE_MS, (s) => s.release());

/** Run graph `name` (its session made from `bytes` on first use) on the feeds `feeds` picks for it. */
function runGraph(ort: OrtModule, name: string, bytes: Uint8Array, feeds: (s: OrtSession) => Feeds): Promise<Awaited<ReturnType<OrtSession['run']>>> {
  return sessions.use(name, () => createSession(ort, bytes, poolThreads()), (session) => session.run(feeds(session)));
}

/**
 * Reusable arrays by shape, per thread, dropped once unused for SESSION_IDLE_MS: the main net's stacked input
 * is 2.5 MB per 150 px face, and a fresh array's zeroing and page faults cost ≈ 0.8 ms per face, more than
 * half of writing it.
 */
const scratch = new IdleCache<Float32Array[]>(SESSION_IDLE_MS, async () => undefined);

/**
 * `use` on an array of shape `dims` (zeros when new) that no other task holds, with what the last use wrote
 * in it: stackInput rewrites all but the padding channels, which stay zero.
 */
function withScratch<R>(dims: readonly number[], use: (a: Float32Array) => Promise<R>): Promise<R> {
  return scratch.use(dims.join('x'), async () => [], async (free) => {
    const a = free.pop() ?? new Float32Array(dims.reduce((s, d) => s * d, 1));
    try {
      return await use(a);
    } finally {
      free.push(a);
    }
  });
}

/**
 * Worker task: one slice denoised (`gy` absent; with the matches it used) or its VJP, NHWC float32 out. A VJP
 * given its forward pass's matches runs no pilot pass of its own (its graph recomputes the pilot it
 * differentiates through).
 */
export async function bmcnnSlice(p: SlicePart): Promise<SliceResult> {
  const ort = await loadOnnxRuntime();
  if (!ort) throw new Error('bmcnn: onnxruntime-node does not load in this thread');
  const { n, h, w, graphs } = p;
  const k = p.match.matches;
  const x = new ort.Tensor('float32', p.x, [n, h, w, 3]);
  const sigma = sigmaMap(ort, n, h, w, p.sigma);
  const count = new ort.Tensor('float32', coverCount(h, w, p.patch), [1, 1, h, w]);
  const second = `${graphs.key}:${graphs.name}`;
  const pilotPass = () => runGraph(ort, `${graphs.key}:pilot`, graphs.pilot, () => ({ x, sigma }));
  const match = (pilot: Float32Array): Cells => (k > 1 ? matchCells(pilot, n, h, w, p.match) : null);
  if (p.gy) {
    const cells = p.cells !== undefined ? p.cells : match((await pilotPass()).y.data as Float32Array);
    const feeds: Feeds = { x, sigma, count, gy: new ort.Tensor('float32', p.gy, [n, h, w, 3]) };
    if (cells) feeds.idx = new ort.Tensor('int32', gatherIndices(cells, n, h, w, k), [n, h, w, k]);
    // The differentiator drops inputs its graph no longer reads; ORT refuses feeds it does not know.
    const { grad_x } = await runGraph(ort, second, graphs.second, (s) => Object.fromEntries(s.inputNames.map((name) => [name, feeds[name]])));
    return { out: grad_x.data as Float32Array };
  }
  const { y: pilot, noisy, centred: pilotPlanes } = await pilotPass();
  const cells = match(pilot.data as Float32Array);
  const dims = [n, paddedChannels(24 * k + 1), h / 2, w / 2];
  return withScratch(dims, async (data) => {
    stackInput(data, noisy.data as Float32Array, pilotPlanes.data as Float32Array, cells, n, h, w, k, p.sigma);
    const { y } = await runGraph(ort, second, graphs.second, () => ({ input: new ort.Tensor('float32', data, dims), pilot, count }));
    return { out: y.data as Float32Array, cells };
  });
}

const SLICE: TaskRef = { module: import.meta.url, name: 'bmcnnSlice' };
/**
 * Images per slice at most, denoising and VJP: the sessions' arenas grow with their largest run (the VJP's
 * keeps every activation). A batch of 32 at 150×150 on two workers grew the process by 830–900 MB (VJP) and
 * 430–470 MB (forward) with slices of 8, 480–550 and 320–390 MB with slices of 4; under glibc's fixed mmap
 * threshold (cli/respawn.ts) the VJP by 460–500 MB with 4, 310–330 MB with 2, at ≈ 15 % more time per face.
 */
const SLICE_IMAGES = { denoise: 4, vjp: 2 };

/** σ/255 per image as an [N, 1, H/2, W/2] map (sigmaMap in net.ts, NCHW). */
function sigmaMap(ort: OrtModule, n: number, h: number, w: number, sigma: readonly number[]): InstanceType<OrtModule['Tensor']> {
  const cells = (h / 2) * (w / 2);
  const map = new Float32Array(n * cells);
  sigma.forEach((s, i) => map.fill(s / 255, i * cells, (i + 1) * cells));
  return new ort.Tensor('float32', map, [n, 1, h / 2, w / 2]);
}

let models = 0;

/** The arrays end to end (the one array itself when there is one). */
function concat<T extends Float32Array | Int8Array>(parts: readonly T[], Kind: { new (n: number): T }): T {
  if (parts.length === 1) return parts[0];
  const out = new Kind(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const bytesOf = (a: Float32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/**
 * BMCNN on onnxruntime, the batch split by images over `threads` pool workers (src/engine/pool/js-pool.ts),
 * each running pilot, block matching and the main net (or the VJP) of its slice on one-thread sessions: no
 * round trip through the calling thread between the stages, and data parallelism instead of ORT's intra-op
 * threads, which many of these small nodes barely use (as split-loop.ts found for PGD). One slice (one
 * thread or one image) runs inline, on `poolThreads()` intra-op threads.
 */
export class NativeBmcnn {
  private readonly key = `bmcnn${models++}`;
  private readonly pilotBytes: Uint8Array;
  private readonly mainBytes: Uint8Array;
  private readonly vjps = new Map<string, Uint8Array>();
  /**
   * The last forward pass's input and matches: an adaptive attack's VJP follows the forward pass on the same
   * images (pipeline.ts: apply, then estimateGradient), and takes its matches instead of a pilot pass and block
   * matching of its own (≈ 6–7 ms of a 150 px face's ≈ 27).
   */
  private last: { x: Float32Array; shape: string; sigma: string; cells: Cells } | undefined;

  constructor(
    private readonly pilot: ConvNet,
    private readonly main: ConvNet,
    private readonly match: MatchOptions,
    private readonly patch: number,
    private readonly threads: number,
  ) {
    this.pilotBytes = pilotModel(pilot);
    this.mainBytes = mainModel(main, patch);
  }

  /** The denoised batch (NHWC 0–255, even sides), unclipped. `x` is kept (read only) until the next pass. */
  async denoise(x: Float32Array, shape: readonly number[], sigma: readonly number[]): Promise<Float32Array> {
    this.last = undefined;
    const parts = await this.run(x, undefined, undefined, shape, sigma);
    const cells = parts.map((r) => r.cells ?? null);
    const joined = cells.every((c) => c === null) ? null : { dy: concat(cells.map((c) => c!.dy), Int8Array), dx: concat(cells.map((c) => c!.dx), Int8Array) };
    this.last = { x, shape: shape.join(), sigma: sigma.join(), cells: joined };
    return concat(parts.map((r) => r.out), Float32Array);
  }

  /** ∇ₓ⟨denoise(x), gy⟩ with x's matches held fixed (the last forward pass's, when it was on these images). */
  async vjp(x: Float32Array, gy: Float32Array, shape: readonly number[], sigma: readonly number[]): Promise<Float32Array> {
    const l = this.last;
    const same = l !== undefined && l.shape === shape.join() && l.sigma === sigma.join() && bytesOf(l.x).equals(bytesOf(x));
    return concat((await this.run(x, gy, same ? l.cells : undefined, shape, sigma)).map((r) => r.out), Float32Array);
  }

  private async run(x: Float32Array, gy: Float32Array | undefined, cells: Cells | undefined, shape: readonly number[], sigma: readonly number[]): Promise<SliceResult[]> {
    const [n, h, w] = shape;
    const size = h * w * 3;
    const perImage = (h / 2) * (w / 2) * this.match.matches;
    const graphs: SliceGraphs = {
      key: this.key, pilot: this.pilotBytes, ...(gy ? { name: `vjp:${h}x${w}`, second: this.vjpBytes(h, w) } : { name: 'main', second: this.mainBytes }),
    };
    const part = (a: number, b: number): SlicePart => ({
      graphs, x: x.slice(a * size, b * size), gy: gy?.slice(a * size, b * size),
      cells: cells && { dy: cells.dy.slice(a * perImage, b * perImage), dx: cells.dx.slice(a * perImage, b * perImage) },
      sigma: sigma.slice(a, b), n: b - a, h, w, match: this.match, patch: this.patch,
    });
    // At most SLICE_IMAGES a slice: a session's arena grows with its largest batch. The rounds are queued at
    // once, so that a worker takes its next slice as soon as it is done (the pool runs one task a worker at a
    // time); inline (one thread), one after another.
    const rounds: Promise<SliceResult[]>[] = [];
    for (let a = 0, step = SLICE_IMAGES[gy ? 'vjp' : 'denoise'] * this.threads; a < n; a += step) {
      const b = Math.min(n, a + step);
      const round = mapImageRanges(b - a, this.threads, SLICE, (i, j) => part(a + i, a + j), bmcnnSlice).then(({ results }) => Promise.all(results));
      rounds.push(round);
      if (this.threads === 1) await round;
    }
    return (await Promise.all(rounds)).flat();
  }

  private vjpBytes(h: number, w: number): Uint8Array {
    const key = `${h}x${w}`;
    let v = this.vjps.get(key);
    if (!v) this.vjps.set(key, (v = vjpModel(this.pilot, this.main, this.match.matches, this.patch, h, w)));
    return v;
  }
}
