/**
 * Small helpers shared by the fast wasm kernels: heap views, intermediate tensors, and calls into the
 * backend's own code (XNNPACK convolutions, Transpose). Intermediates are raw backend TensorInfos, not engine tensors, so every
 * one must be released with `release` before the kernel returns.
 */
import { backend_util, getKernel, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type Shape4 = [number, number, number, number];
export type Pads = { top: number; bottom: number; left: number; right: number };

/** The backend object a kernel receives, typed (tfjs passes it as `{}`). */
export function asWasm(backend: {}): BackendWasm {
  return backend as BackendWasm;
}

/** A live float32 view of a tensor's wasm memory. Re-take it after any allocation (the heap may grow). */
export function heapF32(backend: BackendWasm, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

/** A new, uninitialised float32 tensor on the wasm heap. */
export function alloc(backend: BackendWasm, shape: number[]): TensorInfo {
  return backend.makeOutput(shape, 'float32');
}

export function release(backend: BackendWasm, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** The wasm backend's own Transpose kernel, called directly (no engine bookkeeping, no tape). */
export function transpose(backend: BackendWasm, x: TensorInfo, perm: number[]): TensorInfo {
  const config = getKernel('Transpose', 'wasm');
  if (config === undefined) throw new Error("src/engine/kernels: the wasm backend has no 'Transpose' kernel");
  return config.kernelFunc({ inputs: { x }, backend, attrs: { perm } }) as TensorInfo;
}

/** A filter as the wasm convolution functions see it: a registered tensor id and a shape. */
export interface FilterRef {
  id: number;
  shape: Shape4;
}

export function filterRef(backend: BackendWasm, info: TensorInfo): FilterRef {
  return { id: backend.dataIdMap.get(info.dataId)!.id, shape: info.shape as Shape4 };
}

type WasmConvFn = (...args: number[]) => void;
const convFns = new WeakMap<BackendWasm, { conv: WasmConvFn; depthwise: WasmConvFn }>();

/**
 * XNNPACK forward convolution, explicit non-negative pads. Calls the backend's exported C functions (the
 * ones its Conv2D / DepthwiseConv2dNative kernels wrap) so that filters need not be engine-visible tensors
 * (see filter_cache.ts). `depthwise`: filter [fh, fw, C, multiplier]; else [fh, fw, C, O].
 */
export function forwardConv(
  backend: BackendWasm,
  x: TensorInfo,
  filter: FilterRef,
  pads: Pads,
  strides: [number, number],
  dilations: [number, number],
  depthwise: boolean,
): TensorInfo {
  let fns = convFns.get(backend);
  if (fns === undefined) {
    const types = new Array<string>(19).fill('number');
    const cwrap = (name: string) => backend.wasm.cwrap(name, null, types as Parameters<typeof backend.wasm.cwrap>[2]) as WasmConvFn;
    fns = { conv: cwrap('Conv2D'), depthwise: cwrap('DepthwiseConv2dNative') };
    convFns.set(backend, fns);
  }
  const pad: backend_util.ExplicitPadding = [[0, 0], [pads.top, pads.bottom], [pads.left, pads.right], [0, 0]];
  const info = backend_util.computeConv2DInfo(x.shape as Shape4, filter.shape, strides, dilations, pad, undefined, depthwise);
  const out = alloc(backend, info.outShape);
  const [n, h, w] = x.shape;
  (depthwise ? fns.depthwise : fns.conv)(
    backend.dataIdMap.get(x.dataId)!.id, n, h, w,
    filter.id, info.filterHeight, info.filterWidth,
    pads.top, pads.right, pads.bottom, pads.left, 0,
    info.dilationHeight, info.dilationWidth, info.strideHeight, info.strideWidth,
    info.inChannels, info.outChannels,
    backend.dataIdMap.get(out.dataId)!.id,
  );
  return out;
}

/**
 * Copies rows [top, top+outH) and columns [left, left+outW) of an NHWC tensor into a new tensor, with zeros
 * where the window leaves the source: one helper for both cropping and zero-padding.
 */
export function window4d(backend: BackendWasm, x: TensorInfo, top: number, left: number, outH: number, outW: number): TensorInfo {
  const [n, h, w, c] = x.shape as Shape4;
  const out = alloc(backend, [n, outH, outW, c]);
  const dst = heapF32(backend, out);
  const src = heapF32(backend, x);
  dst.fill(0);
  const y0 = Math.max(0, -top), y1 = Math.min(outH, h - top);
  const x0 = Math.max(0, -left), x1 = Math.min(outW, w - left);
  if (x1 <= x0) return out;
  const run = (x1 - x0) * c;
  for (let b = 0; b < n; b++) {
    for (let y = y0; y < y1; y++) {
      const s = ((b * h + y + top) * w + x0 + left) * c;
      dst.set(src.subarray(s, s + run), ((b * outH + y) * outW + x0) * c);
    }
  }
  return out;
}

export function requireNHWC(kernel: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC') {
    throw new Error(`src/engine/kernels/${kernel}: dataFormat '${dataFormat}' is not supported on wasm (use NHWC)`);
  }
}
