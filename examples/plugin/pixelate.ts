/**
 * A plugin defence: block-average pixelation. Written against the public API only — the common body
 * (`IdentityGradientDefence`: validated parameters, BPDA gradient, pipeline token) and `mapBatch`.
 */
import type { tf } from 'robustify';
import { D, IdentityGradientDefence, mapBatch, paramSpecs, type ParamSpecs } from 'robustify/defences';

export const PIXELATE_PARAMS: ParamSpecs = paramSpecs({
  block_size: D.integer(2, 1, 32, 'side of the averaged blocks in pixels'),
});

export class Pixelate extends IdentityGradientDefence<{ block_size: number }> {
  constructor(params: { block_size?: number } = {}) {
    super('pixelate', PIXELATE_PARAMS, params);
  }

  apply(x: tf.Tensor4D): Promise<tf.Tensor4D> {
    const b = this.params.block_size;
    return mapBatch(this.name, x, (data, [n, h, w, c]) => {
      const out = new Float32Array(data.length);
      for (let i = 0; i < n; i++)
        for (let y0 = 0; y0 < h; y0 += b)
          for (let x0 = 0; x0 < w; x0 += b)
            for (let ch = 0; ch < c; ch++) {
              let sum = 0;
              let count = 0;
              for (let y = y0; y < Math.min(h, y0 + b); y++) for (let xx = x0; xx < Math.min(w, x0 + b); xx++, count++) sum += data[((i * h + y) * w + xx) * c + ch];
              for (let y = y0; y < Math.min(h, y0 + b); y++) for (let xx = x0; xx < Math.min(w, x0 + b); xx++) out[((i * h + y) * w + xx) * c + ch] = sum / count;
            }
      return out;
    });
  }
}
