/**
 * Conv2DBackpropFilter for wasm (tfjs-backend-wasm has none): one XNNPACK forward convolution of the
 * batch-transposed input by the output gradient, see conv_backprop.ts.
 */
import {
  backend_util,
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { conv2dBackpropFilter, filterGeometryOf } from './conv_backprop.js';
import { asWasm, requireNHWC, type Shape4 } from './wasm_util.js';

function conv2DBackpropFilterKernel(args: { inputs: { x: TensorInfo; dy: TensorInfo }; backend: {}; attrs: Conv2DBackpropFilterAttrs }): TensorInfo {
  const backend = asWasm(args.backend);
  const { x, dy } = args.inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs;
  requireNHWC('Conv2DBackpropFilter', dataFormat);
  const info = backend_util.computeConv2DInfo(x.shape as Shape4, filterShape, strides, 1, pad, dimRoundingMode, false);
  return conv2dBackpropFilter(backend, x, dy, filterGeometryOf(info));
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilterKernel as unknown as KernelFunc,
};
