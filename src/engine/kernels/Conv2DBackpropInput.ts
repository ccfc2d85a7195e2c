/**
 * Conv2DBackpropInput for wasm as XNNPACK forward convolutions of dy with the flipped, in/out-swapped filter
 * (phase-decomposed for strides > 1). Replaces tfjs-backend-wasm's direct loop, which is ~10× slower.
 *
 * The transformed filter is rebuilt on every call rather than cached: it costs about a millisecond even
 * for 3×3×256×256 (against 100+ ms for the convolution), and a cache would hold wasm memory outside the
 * engine's accounting.
 */
import {
  backend_util,
  Conv2DBackpropInput,
  type Conv2DBackpropInputAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { backpropInputByPhases } from './conv_backprop.js';
import { asWasm, fromValues, heapF32, requireNHWC, type Shape4 } from './wasm_util.js';

function conv2DBackpropInput(args: { inputs: { dy: TensorInfo; filter: TensorInfo }; backend: {}; attrs: Conv2DBackpropInputAttrs }): TensorInfo {
  const backend = asWasm(args.backend);
  const { dy, filter } = args.inputs;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs;
  requireNHWC('Conv2DBackpropInput', dataFormat);
  const info = backend_util.computeConv2DInfo(inputShape, filter.shape as Shape4, strides, 1, pad, dimRoundingMode, false);
  const [fh, fw, inC, outC] = filter.shape as Shape4;
  const w = heapF32(backend, filter).slice();
  return backpropInputByPhases(
    backend,
    dy,
    {
      inShape: info.inShape,
      filterHeight: fh,
      filterWidth: fw,
      strideHeight: info.strideHeight,
      strideWidth: info.strideWidth,
      padTop: info.padInfo.top,
      padLeft: info.padInfo.left,
    },
    false,
    (rowTaps, colTaps) => {
      // Sub-filter [taps.h, taps.w, outC, inC]: spatially flipped (tap order) and in/out swapped.
      const kh = rowTaps.length, kw = colTaps.length;
      const f = new Float32Array(kh * kw * outC * inC);
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const src = (rowTaps[i] * fw + colTaps[j]) * inC * outC;
          const dst = (i * kw + j) * outC * inC;
          for (let c = 0; c < inC; c++) {
            for (let o = 0; o < outC; o++) f[dst + o * inC + c] = w[src + c * outC + o];
          }
        }
      }
      return fromValues(backend, [kh, kw, outC, inC], f);
    },
  );
}

export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as unknown as KernelFunc,
};
