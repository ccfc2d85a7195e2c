/** Clip to the 0–255 image range; −0 becomes 0, NaN stays NaN so that upstream bugs stay visible. */
export function clip255(v: number): number {
  return v <= 0 ? 0 : v > 255 ? 255 : v;
}
