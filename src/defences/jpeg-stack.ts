/**
 * One tall image for a whole batch, laid out so that one JPEG encode and one decode of it give what a JPEG of
 * each image alone gives: a codec call costs ~0.5 ms of fixed overhead in sharp, several times libjpeg's own
 * work on a 150 px face.
 *
 * Why the layout reproduces per-image JPEGs (libjpeg's baseline encoder, 4:2:0 = MCUs of 16×16 pixels):
 * - Each image starts on an MCU row, so its blocks hold the same pixels as in its own JPEG.
 * - Below an image, its own encoder repeats the last *luma* row down to the end of its last 8-row block, and
 *   the last *chroma* row (subsampled from the last pair of rows) down to the end of the MCU. The padding rows
 *   here produce the same samples: copies of the last row where only luma counts, and the last pair of rows
 *   where only chroma counts (luma rows past the last 8-row block are dropped by the decoder). Where a pair of
 *   rows feeds both (even heights whose last luma block ends past the image, e.g. 150), its second row is the
 *   next-to-last row shifted to the last row's luma: adding the same amount to R, G and B changes libjpeg's
 *   integer Y by that amount and leaves Cb and Cr unchanged, since its weights sum to exactly 1 and 0.
 * - The decoder's "fancy" chroma upsampling reads the chroma row above an image's first row; its own decoder
 *   repeats the first row there. A 16-row mirror of the image's first MCU row above it decodes to that same row:
 *   mirroring a block flips the sign of its odd vertical DCT terms, which libjpeg's quantiser and integer IDCT
 *   treat symmetrically. When the image ends on an MCU row (height a multiple of 16), a mirror below does the
 *   same for its last row; for odd heights the last row reads only the chroma row above it.
 * Greyscale JPEGs (8×8 MCUs, no chroma) are padded with copies of the last row: bit-exact. For RGB, odd heights
 * and multiples of 16 were bit-exact on every face and quality we tried but q100, where the forward DCT's
 * rounding is not exactly mirror-symmetric (1 value in 490 faces off by 2). Other even heights keep two
 * differences: the last row reads the chroma sample decoded below the last one (its own decoder repeats the
 * last one), and where the shifted row would leave 0–255 (dark or bright bottom edges) the nearest colour stands
 * in, so that chroma sample, and through the quantiser its MCU row, may differ. On the 490 faces14 images at
 * 150×150, q1–q100: ≤ 0.06% of values differ, mean |Δ| ≤ 0.001, max 13 (q20).
 */

/** libjpeg's largest image side (JPEG_MAX_DIMENSION). */
export const JPEG_MAX_SIDE = 65500;

/** libjpeg's integer RGB → Y weights (scaled by 2^16; they sum to exactly 2^16). */
const Y_R = 19595;
const Y_G = 38470;
const Y_B = 7471;

/** Where each image sits in its slot of the stack. */
export interface StackLayout {
  /** Rows of one image. */
  height: number;
  /** Rows above the image (its mirror) in its slot. */
  top: number;
  /** Rows from the image's first row to the end of its padding. */
  body: number;
  /** Rows of the mirror below the padding. */
  bottom: number;
  /** top + body + bottom. */
  slot: number;
}

/** The slot of an image of `height` rows in a stack of `count` (a lone image is its own JPEG: no padding). */
export function stackLayout(height: number, channels: 1 | 3, count: number): StackLayout {
  if (count === 1) return { height, top: 0, body: height, bottom: 0, slot: height };
  const mcu = channels === 3 ? 16 : 8;
  const body = Math.ceil(height / mcu) * mcu;
  const top = channels === 3 ? 16 : 0;
  const bottom = channels === 3 && height % 16 === 0 ? 16 : 0;
  return { height, top, body, bottom, slot: top + body + bottom };
}

/** libjpeg's Y of the pixel at px[i…i+2]. */
function luma(px: ArrayLike<number>, i: number): number {
  return (Y_R * px[i] + Y_G * px[i + 1] + Y_B * px[i + 2] + 32768) >> 16;
}

/**
 * The pair of padding rows that reproduce the last chroma row at the last row's luma (see the module comment):
 * the last row, and the next-to-last row shifted to the last row's luma. Where that shift leaves 0–255 (dark or
 * bright edges), the nearest colour at that luma: the chroma sample may then differ slightly from the image's
 * own JPEG.
 */
function chromaPadRows(img: Uint8ClampedArray, rowBytes: number, height: number): [Uint8ClampedArray, Uint8ClampedArray] {
  const last = (height - 1) * rowBytes;
  const prev = (height - 2) * rowBytes;
  const first = img.subarray(last, last + rowBytes);
  const second = new Uint8ClampedArray(rowBytes);
  for (let i = 0; i < rowBytes; i += 3) {
    const y = luma(img, last + i);
    second.set(colourAtLuma(img, prev + i, y - luma(img, prev + i), y) ?? first.subarray(i, i + 3), i);
  }
  return [first, second];
}

/**
 * The pixel at `at` shifted by d on every channel (luma + d, same chroma), clipped to 0–255 and, if clipped,
 * brought back to luma y through the channels that still have room; undefined if that fails.
 */
function colourAtLuma(img: Uint8ClampedArray, at: number, d: number, y: number): number[] | undefined {
  const px = [0, 1, 2].map((k) => Math.min(255, Math.max(0, img[at + k] + d)));
  for (let step = 0; step < 8 && luma(px, 0) !== y; step++) {
    const e = y - luma(px, 0);
    for (let k = 0; k < 3; k++) px[k] = Math.min(255, Math.max(0, px[k] + e));
  }
  return luma(px, 0) === y ? px : undefined;
}

/**
 * The padding rows of an image's body, after its own rows (see the module comment): each one either the index of
 * one of its rows to copy, or a synthesised row. `img` holds the image's own rows.
 */
function paddingRows(img: Uint8ClampedArray, rowBytes: number, layout: StackLayout, channels: 1 | 3): (number | Uint8ClampedArray)[] {
  const { height, body } = layout;
  const last = height - 1;
  const rows: (number | Uint8ClampedArray)[] = [];
  if (body === height) return rows;
  if (channels === 1 || height % 2 === 1) {
    // Greyscale, or an odd height: the encoder itself pads with copies of the last row.
    for (let r = height; r < body; r++) rows.push(last);
    return rows;
  }
  const lumaEnd = Math.ceil(height / 8) * 8;
  const pad = lumaEnd > height ? chromaPadRows(img, rowBytes, height) : [last, last];
  for (let r = height; r < body; r++) {
    const second = (r - height) % 2 === 1;
    rows.push(r < lumaEnd ? pad[second ? 1 : 0] : second ? last : last - 1);
  }
  return rows;
}

/**
 * One image of slot × count rows holding `count` images of layout.height × rowBytes (interleaved channels):
 * `fill(i, rows)` writes image i's pixels into `rows`; the padding and mirrors are added around them.
 */
export function stackImages(
  count: number,
  rowBytes: number,
  layout: StackLayout,
  channels: 1 | 3,
  fill: (i: number, rows: Uint8ClampedArray) => void,
): Uint8ClampedArray {
  const { height, top, body, bottom, slot } = layout;
  const out = new Uint8ClampedArray(slot * count * rowBytes);
  for (let i = 0; i < count; i++) {
    const start = (i * slot + top) * rowBytes;
    // Row r of the body (own rows, then padding) is at row `top + r` of the slot.
    const at = (r: number) => start + r * rowBytes;
    const copyRow = (from: number, to: number) => out.copyWithin(to, from, from + rowBytes);
    const own = out.subarray(start, at(height));
    fill(i, own);
    paddingRows(own, rowBytes, layout, channels).forEach((row, k) => {
      if (typeof row === 'number') copyRow(at(row), at(height + k));
      else out.set(row, at(height + k));
    });
    for (let r = 0; r < top; r++) copyRow(at(r), at(-1 - r));
    for (let r = 0; r < bottom; r++) copyRow(at(body - 1 - r), at(body + r));
  }
  return out;
}

/** Image i's own rows (height × rowBytes) inside a decoded stack. */
export function unstackImage<T extends Uint8Array | Uint8ClampedArray>(stack: T, rowBytes: number, layout: StackLayout, i: number): T {
  const start = (i * layout.slot + layout.top) * rowBytes;
  return stack.subarray(start, start + layout.height * rowBytes) as T;
}
