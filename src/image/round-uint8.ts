/**
 * float32 → uint8 exactly as a store into a Uint8ClampedArray (round half to even, clip to 0–255, NaN → 0), with
 * WebAssembly SIMD: V8's own typed-array conversion takes ~4 ns a value, a fifth of a 150 px face's JPEG round trip.
 */

/** Values converted per call of the kernel: its memory holds one block of floats, then one of bytes. */
const BLOCK = 1 << 16;

/**
 * The kernel `convert(src, dst, n)`, n a multiple of 16, 16 values a turn: four f32x4.nearest (ties to even),
 * i32x4.trunc_sat_f32x4_s (NaN → 0, saturating), two i16x8.narrow_i32x4_s and one i8x16.narrow_i16x8_u (both
 * saturating: the clip to 0–255).
 */
function kernelBytes(): Uint8Array<ArrayBuffer> {
  const ROUND_4 = (offset: number) => [0x20, 0x00, 0xfd, 0x00, 0x04, offset, 0xfd, 0x6a, 0xfd, 0xf8, 0x01]; // v128.load; nearest; trunc_sat
  const NARROW_32_16 = [0xfd, 0x85, 0x01];
  const body = [
    0x00, // no locals besides the parameters src (0), dst (1), n (2)
    0x02, 0x40, 0x03, 0x40, // block, loop
    0x20, 0x02, 0x45, 0x0d, 0x01, // if n == 0: exit the block
    0x20, 0x01, // dst (the store's address)
    ...ROUND_4(0), ...ROUND_4(16), ...NARROW_32_16,
    ...ROUND_4(32), ...ROUND_4(48), ...NARROW_32_16,
    0xfd, 0x66, // i8x16.narrow_i16x8_u
    0xfd, 0x0b, 0x04, 0x00, // v128.store
    0x20, 0x00, 0x41, 0xc0, 0x00, 0x6a, 0x21, 0x00, // src += 64
    0x20, 0x01, 0x41, 0x10, 0x6a, 0x21, 0x01, // dst += 16
    0x20, 0x02, 0x41, 0x10, 0x6b, 0x21, 0x02, // n -= 16
    0x0c, 0x00, // next turn
    0x0b, 0x0b, 0x0b, // end loop, block, function
  ];
  const section = (id: number, bytes: number[]) => [id, bytes.length, ...bytes]; // every size < 128
  const name = (s: string) => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
  const pages = (BLOCK * 5) / 65536;
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
    ...section(1, [0x01, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x00]), // type: (i32, i32, i32) → ()
    ...section(3, [0x01, 0x00]), // function 0 has type 0
    ...section(5, [0x01, 0x00, pages]), // one memory of `pages` pages
    ...section(7, [0x02, ...name('memory'), 0x02, 0x00, ...name('convert'), 0x00, 0x00]), // exports
    ...section(10, [0x01, body.length, ...body]), // code
  ]);
}

interface Kernel {
  floats: Float32Array;
  bytes: Uint8Array;
  convert: (src: number, dst: number, n: number) => void;
}

let kernel: Kernel | null | undefined;

/** The compiled kernel, or null where WebAssembly SIMD is missing. */
function getKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  const bytes = kernelBytes();
  if (typeof WebAssembly === 'undefined' || !WebAssembly.validate(bytes)) return (kernel = null);
  const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as {
    memory: WebAssembly.Memory;
    convert: Kernel['convert'];
  };
  const buffer = exports.memory.buffer;
  kernel = { floats: new Float32Array(buffer, 0, BLOCK), bytes: new Uint8Array(buffer, BLOCK * 4, BLOCK), convert: exports.convert };
  return kernel;
}

/** Write src's values into dst (same length) as a Uint8ClampedArray stores them. */
export function roundToUint8(dst: Uint8Array | Uint8ClampedArray, src: Float32Array): void {
  if (dst.length !== src.length) throw new Error(`roundToUint8: dst has ${dst.length} values, src ${src.length}`);
  const k = getKernel();
  const simd = k ? src.length - (src.length % 16) : 0;
  for (let at = 0; at < simd; at += BLOCK) {
    const n = Math.min(BLOCK, simd - at);
    k!.floats.set(src.subarray(at, at + n));
    k!.convert(0, BLOCK * 4, n);
    dst.set(k!.bytes.subarray(0, n), at);
  }
  // The tail (and everything without SIMD): the engine's own conversion.
  const tail = new Uint8ClampedArray(src.length - simd);
  tail.set(src.subarray(simd));
  dst.set(tail, simd);
}
