/**
 * Clip to the 0–255 image range; −0 becomes 0, NaN stays NaN so that upstream bugs stay visible.
 *
 * @example
 * ```ts
 * import { clip255 } from 'robustify';
 * console.log(clip255(300), clip255(-2), clip255(12.5)); // 255 0 12.5
 * ```
 */
export function clip255(v: number): number {
  return v <= 0 ? 0 : v > 255 ? 255 : v;
}
