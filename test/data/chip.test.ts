import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseChipMode, toChip } from '../../src/data/index.js';
import { TEMPLATES } from '../../src/data/prepare/index.js';
import type { RgbImage } from '../../src/image/index.js';

/** A 112×112 black image with a bright 3×3 dot at each ArcFace template point. */
function dots(): RgbImage {
  const img = { width: 112, height: 112, data: new Float32Array(112 * 112 * 3) };
  for (const [x, y] of TEMPLATES.arcface112.points) {
    for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
      const i = ((Math.round(y) + dy) * 112 + Math.round(x) + dx) * 3;
      img.data.fill(255, i, i + 3);
    }
  }
  return img;
}

/** Brightness-weighted centre of the pixels within r of (x, y). */
function centre(img: RgbImage, x: number, y: number, r = 5): [number, number] {
  let sw = 0, sx = 0, sy = 0;
  for (let j = Math.floor(y - r); j <= Math.ceil(y + r); j++) for (let i = Math.floor(x - r); i <= Math.ceil(x + r); i++) {
    const w = img.data[(j * img.width + i) * 3];
    sw += w; sx += w * i; sy += w * j;
  }
  return [sx / sw, sy / sw];
}

test('an ArcFace 112 crop is re-mapped so its landmarks land on the dlib 150 template', () => {
  const chip = toChip(dots(), 150, 'auto');
  assert.equal(chip.width, 150);
  const errors = TEMPLATES.dlib150.points.map(([x, y]) => {
    const [cx, cy] = centre(chip, x, y);
    return Math.hypot(cx - x, cy - y);
  });
  // Five points, four degrees of freedom: a least-squares fit between two templates of slightly different
  // shape (dlib's mouth is wider), so a few pixels off at the mouth, eyes close.
  assert.ok(Math.max(...errors) < 4, `errors ${errors.map((e) => e.toFixed(2))}`);
  assert.ok(errors[0] < 2 && errors[1] < 2, `eyes ${errors.slice(0, 2).map((e) => e.toFixed(2))}`);
});

test('resize mode and other sizes keep plain resizing; bad modes are named', () => {
  const img = { width: 64, height: 64, data: new Float32Array(64 * 64 * 3).fill(7) };
  const out = toChip(img, 150, 'auto');
  assert.equal(out.width, 150);
  assert.ok(out.data.every((v) => Math.abs(v - 7) < 1e-4));
  assert.throws(() => parseChipMode('crop'), /chip: unknown mode 'crop'/);
});
