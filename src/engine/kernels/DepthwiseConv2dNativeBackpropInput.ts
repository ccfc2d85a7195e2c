/**
 * DepthwiseConv2dNativeBackpropInput for wasm (tfjs-backend-wasm has none): phase-decomposed XNNPACK
 * depthwise convolutions of dy with the flipped filter (see conv_backprop.ts). A channel multiplier m > 1
 * sums m such gradients, one per multiplier slice of dy; dilations are folded into the filter taps.
 */
import {
  backend_util,
  DepthwiseConv2dNativeBackpropInput,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { backpropInputByPhases } from './conv_backprop.js';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { cachedFilter } from './filter_cache.js';
import { alloc, asWasm, heapF32, release, type Shape4 } from './wasm_util.js';

function depthwiseBackpropInput(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: {};
  attrs: DepthwiseConv2dNativeBackpropInputAttrs;
}): TensorInfo {
  const backend = asWasm(args.backend);
  const { dy, filter } = args.inputs;
  const { strides, dilations, pad, dimRoundingMode, inputShape } = args.attrs;
  const info = backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4, strides, dilations, pad, dimRoundingMode, true);
  const [, fw, ch, m] = filter.shape as Shape4;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const geometry = {
    inShape: info.inShape,
    filterHeight: info.effectiveFilterHeight,
    filterWidth: info.effectiveFilterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
  const gradForSlice = (dyq: TensorInfo, q: number): TensorInfo =>
    backpropInputByPhases(backend, dyq, geometry, true, (rowTaps, colTaps) => cachedFilter(backend, filter, `${q} ${dh} ${dw} ${rowTaps}|${colTaps}`, () => {
      // Sub-filter [taps.h, taps.w, C, 1] of the dilated filter (zero between dilated taps and at −1 taps).
      const w = heapF32(backend, filter); // taken here: the wasm heap may have grown since the last build
      const kh = rowTaps.length, kw = colTaps.length;
      const f = new Float32Array(kh * kw * ch);
      for (let i = 0; i < kh; i++) {
        if (rowTaps[i] < 0 || rowTaps[i] % dh !== 0) continue;
        for (let j = 0; j < kw; j++) {
          if (colTaps[j] < 0 || colTaps[j] % dw !== 0) continue;
          const src = ((rowTaps[i] / dh) * fw + colTaps[j] / dw) * ch * m + q;
          const dst = (i * kw + j) * ch;
          for (let c = 0; c < ch; c++) f[dst + c] = w[src + c * m];
        }
      }
      return { shape: [kh, kw, ch, 1], values: f };
    }));
  if (m === 1) return gradForSlice(dy, 0);
  const dx = alloc(backend, info.inShape);
  heapF32(backend, dx).fill(0);
  for (let q = 0; q < m; q++) {
    const dyq = multiplierSlice(backend, dy, q, m);
    const part = gradForSlice(dyq, q);
    const acc = heapF32(backend, dx);
    const src = heapF32(backend, part);
    for (let k = 0; k < acc.length; k++) acc[k] += src[k];
    release(backend, dyq, part);
  }
  return dx;
}

/** dy[..., c·m + q] for all c, as [N, OH, OW, C]. */
function multiplierSlice(backend: BackendWasm, dy: TensorInfo, q: number, m: number): TensorInfo {
  const [n, h, w, cm] = dy.shape as Shape4;
  const out = alloc(backend, [n, h, w, cm / m]);
  const dst = heapF32(backend, out);
  const src = heapF32(backend, dy);
  for (let k = 0, s = q; k < dst.length; k++, s += m) dst[k] = src[s];
  return out;
}

export const depthwiseConv2dNativeBackpropInputConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropInput,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropInput as unknown as KernelFunc,
};
