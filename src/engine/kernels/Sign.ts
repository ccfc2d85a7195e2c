/**
 * Sign for wasm. tfjs-backend-wasm 4.22's own Sign returns 0 for |x| below about 1e-6, which silently zeroes
 * most of an L∞ attack's step on a confident sample (whose loss gradients are ~1e-9 per pixel): PGD then
 * stalls. This one follows the cpu backend exactly: −1, 0 or 1, and 0 for NaN.
 */
import { Sign, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { asWasm } from './wasm_util.js';

function sign(args: { inputs: { x: TensorInfo }; backend: {} }): TensorInfo {
  const backend = asWasm(args.backend);
  const { x } = args.inputs;
  const out = backend.makeOutput(x.shape, x.dtype);
  // Views taken after the allocation, which may grow (and so move) the heap.
  const src = backend.typedArrayFromHeap(x) as Float32Array | Int32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array | Int32Array;
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    dst[i] = v > 0 ? 1 : v < 0 ? -1 : 0;
  }
  return out;
}

export const signConfig: KernelConfig = {
  kernelName: Sign,
  backendName: 'wasm',
  kernelFunc: sign as unknown as KernelFunc,
};
