/**
 * Hand-assembled WebAssembly for hot float64 loops (TVM's plane solvers, block matching). V8's code for
 * typed-array loops checks every access's bounds and keeps few values in registers; the same loop as wasm runs
 * 2–3× faster here. Wasm's f64 arithmetic is IEEE-754 double arithmetic exactly as JS's (no fused multiply-add,
 * sqrt correctly rounded, min/max with JS's NaN and −0 rules), so a kernel doing a loop's operations in the
 * loop's order gives the same bits; so does SIMD's f64x2 arithmetic lane by lane (the `v…` helpers), for loops
 * whose iterations pair up.
 *
 * Kernels are written as expressions (`add(load(p), mul(get(A), …))`), each helper emitting its operands' code
 * and then its opcode, so stack order follows the written order. Array arguments are byte addresses into one
 * imported memory, which an `Arena` owns and hands out as Float64Array views.
 */

export type Code = number[];
export const I32 = 0x7f;
export const F64 = 0x7c;
/** SIMD: here always two f64 lanes. */
export const V128 = 0x7b;

function uleb(v: number): Code {
  const out: Code = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

function sleb(v: number): Code {
  const out: Code = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && !(b & 0x40)) || (v === -1 && b & 0x40)) return [...out, b];
    out.push(b | 0x80);
  }
}

const op = (code: number) => (a: Code, b: Code): Code => [...a, ...b, code];
const unary = (code: number) => (a: Code): Code => [...a, code];

export const get = (local: number): Code => [0x20, ...uleb(local)];
export const set = (local: number, v: Code): Code => [...v, 0x21, ...uleb(local)];
export const i32 = (v: number): Code => [0x41, ...sleb(v)];
export const f64 = (v: number): Code => [0x44, ...new Uint8Array(Float64Array.of(v).buffer)];
export const iadd = op(0x6a);
export const isub = op(0x6b);
export const imul = op(0x6c);
export const ilt = op(0x48);
export const ieq = op(0x46);
export const ieqz = unary(0x45);
export const ine = op(0x47);
export const ile = op(0x4c);
export const iand = op(0x71);
export const add = op(0xa0);
export const sub = op(0xa1);
export const mul = op(0xa2);
export const div = op(0xa3);
export const max = op(0xa5);
export const lt = op(0x63);
export const gt = op(0x64);
export const le = op(0x65);
export const sqrt = unary(0x9f);
export const abs = unary(0x99);
export const neg = unary(0x9a);
/** f64 at byte address `addr` + `offset`. */
export const load = (addr: Code, offset = 0): Code => [...addr, 0x2b, 3, ...uleb(offset)];
export const store = (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, 0x39, 3, ...uleb(offset)];
const simd = (code: number): Code => [0xfd, ...uleb(code)];
const vop = (code: number) => (a: Code, b: Code): Code => [...a, ...b, ...simd(code)];
/** Two f64 lanes at `addr` + `offset` (any alignment). */
export const vload = (addr: Code, offset = 0): Code => [...addr, ...simd(0x00), 3, ...uleb(offset)];
export const vstore = (addr: Code, v: Code, offset = 0): Code => [...addr, ...v, ...simd(0x0b), 3, ...uleb(offset)];
/** Both lanes `v`. */
export const vsplat = (v: Code): Code => [...v, ...simd(0x14)];
export const vlane = (v: Code, lane: 0 | 1): Code => [...v, ...simd(0x21), lane];
export const vadd = vop(0xf0);
export const vsub = vop(0xf1);
export const vmul = vop(0xf2);
/** Per lane a ≥ b (a > b) as all ones or zeros. */
export const vge = vop(0x4c);
export const vgt = vop(0x4a);
export const vnot = (v: Code): Code => [...v, ...simd(0x4d)];
/** Bitwise `mask ? a : b`. */
export const vselect = (a: Code, b: Code, mask: Code): Code => [...a, ...b, ...mask, ...simd(0x52)];
/** `v` with lane `lane` replaced by f64 `x`. */
export const vreplace = (v: Code, lane: 0 | 1, x: Code): Code => [...v, ...x, ...simd(0x22), lane];
/** A lane mask's sign bits as an i32 (bit k = lane k). */
export const vbitmask = (v: Code): Code => [...v, ...simd(0xc4)];

/** `cond ? a : b`, both evaluated. */
export const select = (a: Code, b: Code, cond: Code): Code => [...a, ...b, ...cond, 0x1b];
export const when = (cond: Code, then: Code, otherwise?: Code): Code =>
  otherwise ? [...cond, 0x04, 0x40, ...then, 0x05, ...otherwise, 0x0b] : [...cond, 0x04, 0x40, ...then, 0x0b];
/** `do { body } while (cond)`: the body runs at least once. */
export const doWhile = (body: Code, cond: Code): Code => [0x03, 0x40, ...body, ...cond, 0x0d, 0x00, 0x0b];
/** `for (; local < end; local += step) body` for an i32 local. */
export const forRange = (local: number, end: Code, step: number, body: Code): Code =>
  when(ilt(get(local), end), doWhile([...body, ...set(local, iadd(get(local), i32(step)))], ilt(get(local), end)));

export interface WasmFunction {
  name: string;
  params: number[];
  results: number[];
  /** Types of the locals after the parameters. */
  locals: number[];
  body: Code;
}

/** A module importing `env.memory` and exporting the functions. */
export function assemble(functions: WasmFunction[]): Uint8Array<ArrayBuffer> {
  const vec = (items: Code[]): Code => [...uleb(items.length), ...items.flat()];
  const section = (id: number, bytes: Code): Code => [id, ...uleb(bytes.length), ...bytes];
  const name = (s: string): Code => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
  const types = functions.map((f) => [0x60, ...vec(f.params.map((p) => [p])), ...vec(f.results.map((r) => [r]))]);
  const bodies = functions.map((f) => {
    const body = [...vec(f.locals.map((t) => [1, t])), ...f.body, 0x0b];
    return [...uleb(body.length), ...body];
  });
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, 0x00]])),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(7, vec(functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(bodies)),
  ]);
}

/** Compiles `functions` once per thread; `instantiate(memory)` gives their exports on that memory. */
export function kernels<T>(functions: () => WasmFunction[]): (memory: WebAssembly.Memory) => T {
  let module: WebAssembly.Module | undefined;
  return (memory) => {
    module ??= new WebAssembly.Module(assemble(functions()));
    return new WebAssembly.Instance(module, { env: { memory } }).exports as T;
  };
}

/** A fixed-size wasm memory handing out float64 arrays (never grown, so the views stay valid). */
export class Arena {
  readonly memory: WebAssembly.Memory;
  private used = 0;

  /** Room for `doubles` float64 values. */
  constructor(doubles: number) {
    this.memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil((doubles * 8) / 65536)) });
  }

  /** A zeroed array of n values. */
  f64(n: number): Float64Array {
    const view = new Float64Array(this.memory.buffer, this.used, n);
    this.used += n * 8;
    return view;
  }

  /** The byte address of a view this arena handed out. */
  addr(view: Float64Array): number {
    if (view.buffer !== this.memory.buffer) throw new Error('Arena: array is not in this arena');
    return view.byteOffset;
  }
}

/** The locals of a plane sweep: row index, the row's and the column's byte offsets, w·8 and (w − 1)·8. */
export interface PlaneLocals {
  i: number;
  row: number;
  j: number;
  wb: number;
  lastCol: number;
}

/**
 * A row-major plane's loops in byte offsets: for i = 0, 1, … while i < `rows` (at least once), row = i·w·8, then
 * `rowStart`, `element` for j = 0, 8, … < w·8, and `rowEnd`.
 */
export function planeSweep(l: PlaneLocals, w: Code, rows: Code, rowStart: Code, element: Code, rowEnd: Code): Code {
  return [
    ...set(l.wb, imul(w, i32(8))),
    ...set(l.lastCol, isub(get(l.wb), i32(8))),
    ...set(l.i, i32(0)),
    ...doWhile([
      ...set(l.row, imul(get(l.i), get(l.wb))),
      ...rowStart,
      ...set(l.j, i32(0)),
      ...forRange(l.j, get(l.wb), 8, element),
      ...rowEnd,
      ...set(l.i, iadd(get(l.i), i32(1))),
    ], ilt(get(l.i), rows)),
  ];
}
