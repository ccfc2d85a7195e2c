/**
 * The demo's outputs: the text table (stdout and report.md) and the contact sheet.
 */
import { CHANNELS, type RgbImage } from '../image/index.js';
import type { ProbeMatch } from '../models/gallery.js';
import { renderMarkdownTable } from '../study/report/markdown.js';
import { roundTo } from '../util/round.js';

/** Rank-1 and distance summary of one set of probes. */
export interface MatchSummary {
  correct: number;
  total: number;
  rank1: number;
  /** Mean distance to the probe's own gallery face. */
  mean_true_distance: number;
  /** Probes whose own gallery face lies within the verification threshold. */
  verified: number;
}

/** The face-api / dlib verification threshold on descriptor distance (same person below it). */
export const MATCH_THRESHOLD = 0.6;

const round = (v: number): number => roundTo(v, 4);

export function summarise(matches: readonly ProbeMatch[], truth: readonly number[]): MatchSummary {
  const correct = matches.filter((m, i) => m.pred === truth[i]).length;
  const total = matches.length;
  return {
    correct,
    total,
    rank1: round(correct / Math.max(1, total)),
    mean_true_distance: round(matches.reduce((s, m) => s + m.true_distance, 0) / Math.max(1, total)),
    verified: matches.filter((m) => m.true_distance < MATCH_THRESHOLD).length,
  };
}

/** One table row: a defence (or none) and its rank-1 on clean, oblivious-adversarial and adaptive probes. */
export interface TableRow {
  pipeline: string;
  clean: MatchSummary;
  adversarial: MatchSummary;
  adaptive?: MatchSummary;
}

const cell = (s: MatchSummary): string => `${String(s.correct).padStart(3)}/${s.total} ${(100 * s.rank1).toFixed(1).padStart(5)} %`;
const dist = (s: MatchSummary): string => s.mean_true_distance.toFixed(3);

/** Fixed-width text table: rank-1 clean / adversarial (oblivious) / adaptive, and mean own-face distances. */
export function formatTable(rows: readonly TableRow[]): string {
  const width = Math.max(8, ...rows.map((r) => r.pipeline.length));
  const head = `${'defence'.padEnd(width)}  ${'clean rank-1'.padEnd(15)}  ${'adv rank-1'.padEnd(15)}  ${'adaptive rank-1'.padEnd(15)}  dist clean/adv`;
  const lines = rows.map(
    (r) =>
      `${r.pipeline.padEnd(width)}  ${cell(r.clean)}  ${cell(r.adversarial)}  ${(r.adaptive ? cell(r.adaptive) : '—').padEnd(15)}  ${dist(r.clean)} / ${dist(r.adversarial)}`,
  );
  return [head, '-'.repeat(head.length), ...lines].join('\n') + '\n';
}

/** The same table in Markdown (the report's table writer, study/report/markdown.ts). */
export function markdownTable(rows: readonly TableRow[]): string {
  const pct = (s: MatchSummary): string => `${s.correct}/${s.total} (${(100 * s.rank1).toFixed(1)} %)`;
  return renderMarkdownTable({
    kind: 'table',
    id: 'defences',
    caption: 'Rank-1 re-identification per defence',
    columns: ['defence', 'clean rank-1', 'adversarial rank-1 (oblivious)', 'adaptive (BPDA) rank-1', 'mean own-face distance clean / adv'],
    rows: rows.map((r) => [`\`${r.pipeline}\``, pct(r.clean), pct(r.adversarial), r.adaptive ? pct(r.adaptive) : '—', `${dist(r.clean)} / ${dist(r.adversarial)}`]),
    align: ['left', 'right', 'right', 'right', 'right'],
  }) + '\n';
}

/** A tile of the sheet: the image and whether the face was matched to its own identity (frame colour). */
export interface Tile {
  image: RgbImage;
  /** true: green frame, false: red frame, undefined: grey (no match to show). */
  matched?: boolean;
}

const FRAME = 3;
const GAP = 2;
const COLOURS = { true: [40, 180, 60], false: [220, 40, 40], none: [128, 128, 128] } as const;

/** Rows of equally sized tiles, each framed by its match colour, on a white background. */
export function contactSheet(rows: readonly (readonly Tile[])[]): RgbImage {
  if (rows.length === 0 || rows[0].length === 0) throw new Error('contact sheet: no tiles');
  const { height: th, width: tw } = rows[0][0].image;
  const cols = Math.max(...rows.map((r) => r.length));
  const cellW = tw + 2 * FRAME + GAP;
  const cellH = th + 2 * FRAME + GAP;
  const width = cols * cellW + GAP;
  const height = rows.length * cellH + GAP;
  const data = new Float32Array(width * height * CHANNELS).fill(255);
  const fill = (x0: number, y0: number, w: number, h: number, rgb: readonly number[]): void => {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) data.set(rgb, (y * width + x) * CHANNELS);
  };
  rows.forEach((row, r) =>
    row.forEach((tile, c) => {
      const { image } = tile;
      if (image.height !== th || image.width !== tw) throw new Error(`contact sheet: tile ${r},${c} is ${image.height}×${image.width}, expected ${th}×${tw}`);
      const x0 = GAP + c * cellW;
      const y0 = GAP + r * cellH;
      fill(x0, y0, tw + 2 * FRAME, th + 2 * FRAME, tile.matched === undefined ? COLOURS.none : COLOURS[`${tile.matched}`]);
      for (let y = 0; y < th; y++) {
        const src = image.data.subarray(y * tw * CHANNELS, (y + 1) * tw * CHANNELS);
        data.set(src, ((y0 + FRAME + y) * width + x0 + FRAME) * CHANNELS);
      }
    }),
  );
  return { data, height, width };
}

/** |δ| magnified so that eps maps to full white: where the attack changed the image. */
export function perturbationImage(clean: RgbImage, adv: RgbImage, eps: number): RgbImage {
  const data = new Float32Array(clean.data.length);
  for (let i = 0; i < data.length; i++) data[i] = Math.min(255, (Math.abs(adv.data[i] - clean.data[i]) / eps) * 255);
  return { data, height: clean.height, width: clean.width };
}
