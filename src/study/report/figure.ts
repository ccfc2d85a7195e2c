/**
 * Labelled image figures as PNG: grids of faces with captions and verdict frames (the paper's Figs 1–5) and
 * pipeline strips, one image per stage with arrows between (Figs 6–8). Images are composited by sharp;
 * titles, captions, frames and arrows are one SVG overlay rasterised by librsvg.
 */
import sharp, { type OverlayOptions } from 'sharp';
import { CHANNELS, checkImage, toUint8, type RgbImage } from '../../image/index.js';
import { escapeXml, FONT_FAMILY, formatNumber, textWidth } from './text.js';

/** `good`: green frame (e.g. classified correctly), `bad`: red frame, `none`: no frame. */
export type Frame = 'good' | 'bad' | 'none';

export interface GridCell {
  image: RgbImage;
  /** Lines under the image; the first is set in bold. */
  caption: string[];
  frame?: Frame;
}

export interface ImageGridOptions {
  title?: string;
  columns: number;
  cells: GridCell[];
  /** Integer magnification, nearest-neighbour so that perturbations stay visible pixel by pixel. Default 1. */
  scale?: number;
  /** Labels left of each row, e.g. `clean` / `adversarial`; at most one per row. */
  rowLabels?: string[];
}

export interface PipelineStage {
  /** Stage name under its image; '\n' starts another line. */
  label: string;
  image: RgbImage;
}

export interface PipelineStripOptions {
  title?: string;
  stages: PipelineStage[];
  /** As in `imageGrid`. Default 1. */
  scale?: number;
}

const FRAME_COLOUR: Record<Exclude<Frame, 'none'>, string> = { good: '#1a9850', bad: '#d73027' };
const FRAME_WIDTH = 4;
const MARGIN = 16;
const GAP = 18;
const ARROW_GAP = 56;
const TITLE_SIZE = 18;
const TITLE_BAND = 38;
const CAPTION_SIZE = 13;
const ROW_LABEL_SIZE = 14;
const LINE_HEIGHT = 18;
const CAPTION_GAP = 8;

const n = (v: number): string => formatNumber(v, 2);

/** The image as 8-bit RGB pixels, magnified `scale` times by nearest neighbour. */
async function tile(img: RgbImage, scale: number): Promise<{ input: Buffer; width: number; height: number }> {
  const raw = { width: img.width, height: img.height, channels: CHANNELS } as const;
  const width = img.width * scale;
  const height = img.height * scale;
  const input = scale === 1 ? Buffer.from(toUint8(img)) : await sharp(toUint8(img), { raw }).resize(width, height, { kernel: 'nearest' }).raw().toBuffer();
  return { input, width, height };
}

interface Layout {
  title?: string;
  columns: number;
  cells: GridCell[];
  scale: number;
  /** Horizontal space between columns. */
  gap: number;
  /** Draw an arrow in each gap between neighbours of a row. */
  arrows: boolean;
  rowLabels: string[];
  what: string;
}

/** Lays the cells out in rows, draws frames, captions and arrows in one SVG, composites the images under it. */
async function compose(l: Layout): Promise<Buffer> {
  if (!Number.isInteger(l.columns) || l.columns < 1) throw new Error(`${l.what}: columns must be a positive integer, got ${l.columns}`);
  if (!Number.isInteger(l.scale) || l.scale < 1 || l.scale > 16) throw new Error(`${l.what}: scale must be an integer in 1–16, got ${l.scale}`);
  if (l.cells.length === 0) throw new Error(`${l.what}: no images`);
  l.cells.forEach((c, i) => checkImage(c.image, `${l.what}: image ${i}`));

  const imgW = Math.max(...l.cells.map((c) => c.image.width)) * l.scale;
  const imgH = Math.max(...l.cells.map((c) => c.image.height)) * l.scale;
  const lines = Math.max(...l.cells.map((c) => c.caption.length));
  const captionW = Math.max(0, ...l.cells.flatMap((c) => c.caption.map((t, k) => textWidth(t, CAPTION_SIZE) * (k === 0 ? 1.1 : 1))));
  const slotW = Math.ceil(Math.max(imgW + 2 * FRAME_WIDTH, captionW + 4));
  const slotH = imgH + 2 * FRAME_WIDTH + (lines > 0 ? CAPTION_GAP + lines * LINE_HEIGHT : 0);
  const cols = Math.min(l.columns, l.cells.length);
  const rows = Math.ceil(l.cells.length / cols);
  if (l.rowLabels.length > rows) throw new Error(`${l.what}: ${l.rowLabels.length} row labels for ${rows} rows`);
  const labelW = l.rowLabels.length > 0 ? Math.ceil(Math.max(...l.rowLabels.map((t) => textWidth(t, ROW_LABEL_SIZE) * 1.1))) + GAP : 0;
  const titleH = l.title ? TITLE_BAND : 0;
  const contentW = labelW + cols * slotW + (cols - 1) * l.gap;
  const width = Math.ceil(Math.max(contentW, l.title ? textWidth(l.title, TITLE_SIZE) * 1.1 : 0) + 2 * MARGIN);
  const height = MARGIN + titleH + rows * slotH + (rows - 1) * GAP + MARGIN;
  const x0 = (width - contentW) / 2 + labelW;

  const svg: string[] = [];
  if (l.title) {
    svg.push(`<text x="${n(width / 2)}" y="${n(MARGIN + TITLE_SIZE)}" font-size="${TITLE_SIZE}" font-weight="bold" text-anchor="middle" fill="#111111">${escapeXml(l.title)}</text>`);
  }
  l.rowLabels.forEach((text, r) => {
    const y = MARGIN + titleH + r * (slotH + GAP) + FRAME_WIDTH + imgH / 2 + ROW_LABEL_SIZE * 0.35;
    svg.push(`<text x="${n(x0 - GAP)}" y="${n(y)}" font-size="${ROW_LABEL_SIZE}" font-weight="bold" text-anchor="end" fill="#111111">${escapeXml(text)}</text>`);
  });
  const composites: OverlayOptions[] = [];
  for (const [i, cell] of l.cells.entries()) {
    const r = Math.floor(i / cols);
    const c = i % cols;
    const slotX = x0 + c * (slotW + l.gap);
    const slotY = MARGIN + titleH + r * (slotH + GAP);
    const t = await tile(cell.image, l.scale);
    const left = Math.round(slotX + (slotW - t.width) / 2);
    const top = Math.round(slotY + FRAME_WIDTH + (imgH - t.height) / 2);
    composites.push({ input: t.input, raw: { width: t.width, height: t.height, channels: CHANNELS }, left, top });
    const frame = cell.frame ?? 'none';
    if (frame !== 'none') {
      const h = FRAME_WIDTH / 2;
      svg.push(`<rect x="${n(left - h)}" y="${n(top - h)}" width="${n(t.width + FRAME_WIDTH)}" height="${n(t.height + FRAME_WIDTH)}" fill="none" stroke="${FRAME_COLOUR[frame]}" stroke-width="${FRAME_WIDTH}"/>`);
    }
    const cx = slotX + slotW / 2;
    const captionY = slotY + imgH + 2 * FRAME_WIDTH + CAPTION_GAP;
    cell.caption.forEach((text, k) => {
      const style = k === 0 ? 'font-weight="bold" fill="#111111"' : 'fill="#444444"';
      svg.push(`<text x="${n(cx)}" y="${n(captionY + k * LINE_HEIGHT + CAPTION_SIZE)}" font-size="${CAPTION_SIZE}" text-anchor="middle" ${style}>${escapeXml(text)}</text>`);
    });
    if (l.arrows && c > 0) {
      const ax0 = slotX - l.gap + 8;
      const ax1 = slotX - 8;
      const ay = slotY + FRAME_WIDTH + imgH / 2;
      svg.push(
        `<path d="M${n(ax0)} ${n(ay)}H${n(ax1 - 10)}" stroke="#444444" stroke-width="3" fill="none"/>` +
          `<path d="M${n(ax1)} ${n(ay)}L${n(ax1 - 13)} ${n(ay - 8)}L${n(ax1 - 13)} ${n(ay + 8)}Z" fill="#444444"/>`,
      );
    }
  }
  const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="${FONT_FAMILY}">${svg.join('')}</svg>`;
  composites.push({ input: Buffer.from(overlay), left: 0, top: 0 });
  return sharp({ create: { width, height, channels: CHANNELS, background: '#ffffff' } })
    .composite(composites)
    .removeAlpha() // the SVG overlay would otherwise add an alpha channel to an opaque figure
    .png()
    .toBuffer();
}

/** Images in a grid of `columns`, each with caption lines under it and an optional verdict frame; PNG bytes. */
export async function imageGrid(o: ImageGridOptions): Promise<Buffer> {
  return compose({ title: o.title, columns: o.columns, cells: o.cells, scale: o.scale ?? 1, gap: GAP, arrows: false, rowLabels: o.rowLabels ?? [], what: 'imageGrid' });
}

/** One row of stage images with arrows between, each labelled under it: a pipeline stage by stage; PNG bytes. */
export async function pipelineStrip(o: PipelineStripOptions): Promise<Buffer> {
  const cells = o.stages.map((s) => ({ image: s.image, caption: s.label.split('\n') }));
  return compose({ title: o.title, columns: Math.max(1, cells.length), cells, scale: o.scale ?? 1, gap: ARROW_GAP, arrows: true, rowLabels: [], what: 'pipelineStrip' });
}
