/**
 * Conv2DBackpropInput for wasm as XNNPACK forward convolutions of dy with the flipped, in/out-swapped filter
 * (phase-decomposed for strides > 1). Replaces tfjs-backend-wasm's direct loop, which is ~10× slower.
 * Transformed filters are cached per filter tensor (filter_cache.ts).
 */
import {
  backend_util,
  Conv2DBackpropInput,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { backpropInputByPhases, backpropInputFused } from './conv_backprop.js';
import { cachedFilter } from './filter_cache.js';
import { asWasm, heapF32, requireNHWC, type Shape4 } from './wasm_util.js';

function conv2DBackpropInput(args: { inputs: { dy: TensorInfo; filter: TensorInfo }; backend: {}; attrs: Conv2DBackpropInputAttrs }): TensorInfo {
  const backend = asWasm(args.backend);
  const { dy, filter } = args.inputs;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs;
  requireNHWC('Conv2DBackpropInput', dataFormat);
  const info = backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4, strides, 1, pad, dimRoundingMode, false);
  const [fh, fw, inC, outC] = filter.shape as Shape4;
  const { strideHeight: sh, strideWidth: sw } = info;
  const geometry = { inShape: info.inShape, filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw, padTop: info.padInfo.top, padLeft: info.padInfo.left };

  /** f[base + o·rowLen + c] = w[i, j, c, o]: one tap with in/out channels swapped. */
  const copyTap = (w: Float32Array, f: Float32Array, i: number, j: number, base: number, rowLen: number): void => {
    const src = (i * fw + j) * inC * outC;
    for (let c = 0; c < inC; c++) {
      for (let o = 0; o < outC; o++) f[base + o * rowLen + c] = w[src + c * outC + o];
    }
  };

  if ((sh > 1 || sw > 1) && useFused(inC, fh, fw, sh, sw)) {
    return backpropInputFused(backend, dy, geometry, (th, tw) => cachedFilter(backend, filter, `fused ${sh} ${sw}`, () => {
      const w = heapF32(backend, filter); // taken here: the wasm heap may have grown since the last build
      const rowLen = sh * sw * inC;
      const f = new Float32Array(th * tw * outC * rowLen);
      for (let t = 0; t < th; t++) {
        for (let u = 0; u < tw; u++) {
          for (let a = 0; a < sh; a++) {
            const i = a + sh * (th - 1 - t);
            if (i >= fh) continue;
            for (let b = 0; b < sw; b++) {
              const j = b + sw * (tw - 1 - u);
              if (j < fw) copyTap(w, f, i, j, (t * tw + u) * outC * rowLen + (a * sw + b) * inC, rowLen);
            }
          }
        }
      }
      return { shape: [th, tw, outC, rowLen], values: f };
    }));
  }
  return backpropInputByPhases(backend, dy, geometry, false, (rowTaps, colTaps) => cachedFilter(backend, filter, `${rowTaps}|${colTaps}`, () => {
    const w = heapF32(backend, filter);
    const kh = rowTaps.length, kw = colTaps.length;
    const f = new Float32Array(kh * kw * outC * inC);
    for (let t = 0; t < kh; t++) {
      for (let u = 0; u < kw; u++) copyTap(w, f, rowTaps[t], colTaps[u], (t * kw + u) * outC * inC, inC);
    }
    return { shape: [kh, kw, outC, inC], values: f };
  }));
}

/**
 * Strided gradients: the fused form when it multiplies no zeros (filter a multiple of the stride), or few
 * zeros and dx is thin (per phase, XNNPACK's GEMM tiles would run mostly empty): measured 1.3–1.6× faster
 * than separate phases on the 7×7/2 RGB input layer. Separate phases otherwise: the fused form was 2–4×
 * slower on the backbone's 3×3/2 layers (16 taps computed per 9 real ones).
 */
function useFused(inC: number, fh: number, fw: number, sh: number, sw: number): boolean {
  const waste = (sh * Math.ceil(fh / sh) * sw * Math.ceil(fw / sw)) / (fh * fw);
  return waste === 1 || (inC < 16 && waste <= 1.35);
}

export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as unknown as KernelFunc,
};
