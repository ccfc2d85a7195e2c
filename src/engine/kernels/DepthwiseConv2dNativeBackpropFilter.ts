/**
 * DepthwiseConv2dNativeBackpropFilter for wasm (tfjs-backend-wasm has none): one XNNPACK depthwise
 * convolution with the batch folded into the channels, then a sum over the batch (see conv_backprop.ts).
 */
import {
  backend_util,
  DepthwiseConv2dNativeBackpropFilter,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { depthwiseBackpropFilter, filterGeometryOf } from './conv_backprop.js';
import { asWasm, type Shape4 } from './wasm_util.js';

function depthwiseBackpropFilterKernel(args: {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: {};
  attrs: DepthwiseConv2dNativeBackpropFilterAttrs;
}): TensorInfo {
  const backend = asWasm(args.backend);
  const { x, dy } = args.inputs;
  const { strides, dilations, pad, dimRoundingMode, filterShape } = args.attrs;
  const info = backend_util.computeConv2DInfo(x.shape as Shape4, filterShape, strides, dilations, pad, dimRoundingMode, true);
  return depthwiseBackpropFilter(backend, x, dy, filterGeometryOf(info));
}

export const depthwiseConv2dNativeBackpropFilterConfig: KernelConfig = {
  kernelName: DepthwiseConv2dNativeBackpropFilter,
  backendName: 'wasm',
  kernelFunc: depthwiseBackpropFilterKernel as unknown as KernelFunc,
};
