/**
 * Registers robustify's own kernels for the wasm backend (fast gradients, and a Sign that is exact). Idempotent.
 * Each kernel lives in its own file beside this one, like tfjs-core's one-op-per-file layout.
 * The wasm package is imported here so that its own kernels are registered first and ours replace them.
 * Kernels are looked up per call, so registering after the backend initialised works too.
 */
import { getKernel, registerKernel, unregisterKernel, type KernelConfig } from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { avgPoolGradConfig } from './AvgPoolGrad.js';
import { conv2DBackpropFilterConfig } from './Conv2DBackpropFilter.js';
import { conv2DBackpropInputConfig } from './Conv2DBackpropInput.js';
import { depthwiseConv2dNativeBackpropFilterConfig } from './DepthwiseConv2dNativeBackpropFilter.js';
import { depthwiseConv2dNativeBackpropInputConfig } from './DepthwiseConv2dNativeBackpropInput.js';
import { maxPoolGradConfig } from './MaxPoolGrad.js';
import { signConfig } from './Sign.js';

/** The kernels this module installs on 'wasm', in registration order. */
export const FAST_KERNELS: readonly KernelConfig[] = [
  conv2DBackpropInputConfig,
  conv2DBackpropFilterConfig,
  depthwiseConv2dNativeBackpropInputConfig,
  depthwiseConv2dNativeBackpropFilterConfig,
  maxPoolGradConfig,
  avgPoolGradConfig,
  signConfig,
];

/** tfjs-backend-wasm's own kernels that were replaced, by name (the benchmarks compare against them). */
export const BUILTIN_KERNELS = new Map<string, KernelConfig>();

let registered = false;

export function registerFastKernels(): void {
  if (registered) return;
  registered = true;
  for (const config of FAST_KERNELS) {
    const builtin = getKernel(config.kernelName, 'wasm');
    if (builtin !== undefined) {
      BUILTIN_KERNELS.set(config.kernelName, builtin);
      unregisterKernel(config.kernelName, 'wasm');
    }
    registerKernel(config);
  }
}
