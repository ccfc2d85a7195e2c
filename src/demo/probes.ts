/**
 * Probes for the re-identification demo: each gallery face seen again a little differently — cut from its
 * photo with a small shift, scale and rotation, mirrored, and slightly brighter or darker — as a second
 * photo of the same person would be.
 */
import { CHANNELS, type RgbImage } from '../image/index.js';
import { warpSimilarity, type Similarity } from '../data/prepare/index.js';
import type { Random } from '../util/random.js';
import { roundTo } from '../util/round.js';

export interface ProbeTransform {
  /** Shift of the crop in chip pixels. */
  shift: [number, number];
  /** Zoom of the crop (>1: the face appears larger). */
  scale: number;
  rotation_deg: number;
  flip: boolean;
  /** Multiplier of every pixel value (then clipped to 0–255). */
  brightness: number;
}

/** Draw a transform: shift 1–3 px, scale ±3–6 %, rotation ±2–4°, brightness ±6–12 %; every probe mirrored. */
export function drawTransform(rng: Random): ProbeTransform {
  const signed = (lo: number, hi: number): number => (rng.next() < 0.5 ? -1 : 1) * (lo + (hi - lo) * rng.next());
  return {
    shift: [roundTo(signed(1, 3), 2), roundTo(signed(1, 3), 2)],
    scale: roundTo(1 + signed(0.03, 0.06), 4),
    rotation_deg: roundTo(signed(2, 4), 2),
    flip: true,
    brightness: roundTo(1 + signed(0.06, 0.12), 4),
  };
}

/**
 * The probe chip: `chipToPhoto` (the gallery chip's pixel → photo mapping) composed with the transform's
 * re-crop about the chip centre, cut from `photo`, then mirrored and rescaled in brightness.
 */
export function makeProbe(photo: RgbImage, chipToPhoto: Similarity, size: number, t: ProbeTransform): RgbImage {
  // Re-crop J(p) = s·R(θ)·(p − c) + c + shift in chip coordinates; a zoom of s shows 1/s as much photo.
  const theta = (t.rotation_deg * Math.PI) / 180;
  const ja = Math.cos(theta) / t.scale;
  const jb = Math.sin(theta) / t.scale;
  const c = (size - 1) / 2;
  const jtx = c - (ja * c - jb * c) + t.shift[0];
  const jty = c - (jb * c + ja * c) + t.shift[1];
  // chipToPhoto ∘ J, as products of complex numbers: (a + ib)(ja + i·jb), and a·J's shift + own shift.
  const { a, b, tx, ty } = chipToPhoto;
  const composed: Similarity = { a: a * ja - b * jb, b: a * jb + b * ja, tx: a * jtx - b * jty + tx, ty: b * jtx + a * jty + ty };
  const chip = warpSimilarity(photo, composed, size, size);
  const out = new Float32Array(chip.data.length);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const src = (y * size + (t.flip ? size - 1 - x : x)) * CHANNELS;
      const dst = (y * size + x) * CHANNELS;
      for (let ch = 0; ch < CHANNELS; ch++) out[dst + ch] = Math.min(255, chip.data[src + ch] * t.brightness);
    }
  }
  return { data: out, height: size, width: size };
}
