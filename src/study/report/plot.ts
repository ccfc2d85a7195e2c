/**
 * Line and scatter charts as standalone SVG, drawn by hand: the study's robustness curves (accuracy vs eps,
 * vs PGD iterations) and the pipeline search's clean-vs-adversarial Pareto front.
 *
 * The SVG uses no ids (several plots are inlined into one HTML page) and no CSS, so librsvg (sharp) and
 * browsers draw it the same. Coordinates are printed with two decimals: same input, same bytes.
 */
import { escapeXml, fitText, FONT_FAMILY, formatNumber, textWidth } from './text.js';

export type Point = [x: number, y: number];

export interface Series {
  name: string;
  points: Point[];
}

export interface LinePlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /**
   * Linear scale: where the x ticks go (default: round numbers over the data). Categorical scale: the
   * categories in order (default: every x value in the data, ascending).
   */
  xTicks?: number[];
  /** Fixed y range, e.g. [0, 1] for accuracy (default: round numbers around the data). */
  yRange?: [number, number];
  /** `categorical` spaces the distinct x values evenly, e.g. eps 0, 1, 2, 4, 8, 16. Default `linear`. */
  xScale?: 'linear' | 'categorical';
  width?: number;
  height?: number;
}

export interface ScatterPoint {
  x: number;
  y: number;
  /** Printed beside the point. */
  label?: string;
  /** Drawn larger and in colour; the others are grey. */
  highlight?: boolean;
}

export interface ScatterPlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  points: ScatterPoint[];
  /**
   * A Pareto front where both axes are better when larger, drawn as the staircase bounding the region its
   * points dominate (in any order; sorted by x here).
   */
  front?: Point[];
  xRange?: [number, number];
  yRange?: [number, number];
  /** Legend names of the three kinds of marks. */
  names?: { points?: string; highlight?: string; front?: string };
  width?: number;
  height?: number;
}

/** Okabe–Ito colours (told apart with the common colour-vision deficiencies), without the yellow. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'] as const;
/** Dash patterns cycle at a different length than colours, so neighbouring series differ in both. */
const DASHES = ['', '7 4', '2 3', '10 3 2 3', '4 2', '1 5'] as const;
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'down', 'cross'] as const;
type Marker = (typeof MARKERS)[number];

const GREY = '#8c8c8c';
const AXIS = '#333333';
const GRID = '#e3e3e3';
const TITLE_SIZE = 17;
const LABEL_SIZE = 13;
const TICK_SIZE = 12;
const LEGEND_SIZE = 12;
const LEGEND_ROW = 20;
const LEGEND_SWATCH = 30;
const LEGEND_MAX = 260;
/** Marks may poke out of the plot area by this much before being clipped (a point at y = 1 keeps its marker). */
const CLIP_PAD = 8;
/** Linear axes keep their end values this far inside the plot area, so points on the bounds clear the axis lines. */
const INSET = 10;

const n = (v: number): string => formatNumber(v, 2);

function checkFinite(v: number, what: string): void {
  if (!Number.isFinite(v)) throw new Error(`${what}: expected a finite number, got ${v}`);
}

function checkRange(r: [number, number] | undefined, what: string): void {
  if (r === undefined) return;
  checkFinite(r[0], `${what}[0]`);
  checkFinite(r[1], `${what}[1]`);
  if (!(r[1] > r[0])) throw new Error(`${what}: [${r[0]}, ${r[1]}] is empty (expected min < max)`);
}

function checkSize(width: number, height: number, what: string): void {
  if (!(Number.isInteger(width) && width >= 200 && Number.isInteger(height) && height >= 150)) {
    throw new Error(`${what}: width×height ${width}×${height} must be integers of at least 200×150`);
  }
}

/** One axis: the value → pixel mapping and the labelled ticks. */
interface Axis {
  pos: (v: number) => number;
  ticks: { at: number; label: string }[];
}

/** Decimals needed to print multiples of `step` exactly (0.25 → 2, 5 → 0). */
function decimalsOf(step: number): number {
  const s = formatNumber(step, 10);
  const dot = s.indexOf('.');
  return dot < 0 ? 0 : s.length - dot - 1;
}

/** Round-number ticks (1, 2, 5 × 10^k) covering [min, max]; `fixed` keeps the given bounds instead of rounding them out. */
export function niceTicks(min: number, max: number, target = 6, fixed = false): { lo: number; hi: number; ticks: number[]; decimals: number } {
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    min -= pad;
    max += pad;
  }
  const rough = (max - min) / target;
  const mag = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= rough) ?? 10 * mag;
  const decimals = decimalsOf(step);
  const lo = fixed ? min : Math.floor(min / step + 1e-9) * step;
  const hi = fixed ? max : Math.ceil(max / step - 1e-9) * step;
  // Ticks as integer multiples of the step, rounded to its decimals: no 0.30000000000000004 labels.
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k <= Math.floor(hi / step + 1e-9); k++) ticks.push(Number((k * step).toFixed(decimals)));
  return fixed ? { lo, hi, ticks, decimals } : { lo: Number(lo.toFixed(decimals)), hi: Number(hi.toFixed(decimals)), ticks, decimals };
}

function tickLabel(v: number, decimals: number): string {
  const s = v.toFixed(decimals);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
}

function linearAxis(values: number[], range: [number, number] | undefined, from: number, to: number, tickAt?: number[]): Axis {
  let lo: number;
  let hi: number;
  let ticks: { at: number; label: string }[];
  if (tickAt) {
    const all = [...values, ...tickAt, ...(range ?? [])];
    lo = range ? range[0] : Math.min(...all);
    hi = range ? range[1] : Math.max(...all);
    if (lo === hi) {
      lo -= 1;
      hi += 1;
    }
    const decimals = Math.max(0, ...tickAt.map((t) => decimalsOf(t)));
    ticks = tickAt.map((t) => ({ at: t, label: tickLabel(t, decimals) }));
  } else {
    const nice = range ? niceTicks(range[0], range[1], 6, true) : niceTicks(Math.min(...values), Math.max(...values));
    lo = nice.lo;
    hi = nice.hi;
    ticks = nice.ticks.map((t) => ({ at: t, label: tickLabel(t, nice.decimals) }));
  }
  const dir = Math.sign(to - from);
  const a = from + dir * INSET;
  const b = to - dir * INSET;
  const pos = (v: number): number => a + ((v - lo) / (hi - lo)) * (b - a);
  return { pos, ticks };
}

function categoricalAxis(categories: number[], from: number, to: number): Axis {
  const band = (to - from) / categories.length;
  const index = new Map(categories.map((c, i) => [c, i]));
  return {
    pos: (v) => {
      const i = index.get(v);
      if (i === undefined) throw new Error(`xTicks: x = ${v} is not one of the categories [${categories.join(', ')}]`);
      return from + (i + 0.5) * band;
    },
    ticks: categories.map((c) => ({ at: c, label: formatNumber(c, 6) })),
  };
}

function markerPath(shape: Marker, x: number, y: number, r: number): string {
  switch (shape) {
    case 'circle':
      return `<circle cx="${n(x)}" cy="${n(y)}" r="${n(r)}"/>`;
    case 'square':
      return `<rect x="${n(x - r * 0.85)}" y="${n(y - r * 0.85)}" width="${n(r * 1.7)}" height="${n(r * 1.7)}"/>`;
    case 'triangle':
      return `<path d="M${n(x)} ${n(y - r * 1.15)}L${n(x + r)} ${n(y + r * 0.75)}L${n(x - r)} ${n(y + r * 0.75)}Z"/>`;
    case 'down':
      return `<path d="M${n(x)} ${n(y + r * 1.15)}L${n(x + r)} ${n(y - r * 0.75)}L${n(x - r)} ${n(y - r * 0.75)}Z"/>`;
    case 'diamond':
      return `<path d="M${n(x)} ${n(y - r * 1.2)}L${n(x + r)} ${n(y)}L${n(x)} ${n(y + r * 1.2)}L${n(x - r)} ${n(y)}Z"/>`;
    case 'cross': {
      const a = r * 0.45;
      const b = r * 1.1;
      return `<path d="M${n(x - a)} ${n(y - b)}h${n(2 * a)}v${n(b - a)}h${n(b - a)}v${n(2 * a)}h${n(a - b)}v${n(b - a)}h${n(-2 * a)}v${n(a - b)}h${n(a - b)}v${n(-2 * a)}h${n(b - a)}Z"/>`;
    }
  }
}

/** What a legend row shows: a line sample and/or a marker. */
interface LegendEntry {
  name: string;
  colour: string;
  dash?: string;
  line: boolean;
  marker?: Marker;
  markerRadius?: number;
}

function legendWidth(entries: LegendEntry[]): number {
  const widest = Math.max(...entries.map((e) => textWidth(e.name, LEGEND_SIZE)));
  return Math.min(LEGEND_MAX, LEGEND_SWATCH + 8 + widest + 24);
}

function legend(entries: LegendEntry[], x: number, y: number, width: number): string {
  const height = entries.length * LEGEND_ROW + 10;
  const rows = entries.map((e, i) => {
    const cy = y + 5 + LEGEND_ROW * (i + 0.5);
    const sx = x + 8;
    const line = e.line
      ? `<line x1="${n(sx)}" y1="${n(cy)}" x2="${n(sx + LEGEND_SWATCH)}" y2="${n(cy)}" stroke="${e.colour}" stroke-width="2.2"${e.dash ? ` stroke-dasharray="${e.dash}"` : ''}/>`
      : '';
    const marker = e.marker ? `<g fill="${e.colour}" stroke="#ffffff" stroke-width="1">${markerPath(e.marker, sx + LEGEND_SWATCH / 2, cy, e.markerRadius ?? 4)}</g>` : '';
    const name = fitText(e.name, LEGEND_SIZE, width - LEGEND_SWATCH - 22);
    const full = name === e.name ? '' : `<title>${escapeXml(e.name)}</title>`;
    return `${line}${marker}<text x="${n(sx + LEGEND_SWATCH + 8)}" y="${n(cy + LEGEND_SIZE * 0.35)}" font-size="${LEGEND_SIZE}" fill="${AXIS}">${full}${escapeXml(name)}</text>`;
  });
  return `<g><rect x="${n(x)}" y="${n(y)}" width="${n(width)}" height="${n(height)}" fill="#ffffff" stroke="#cccccc" rx="3"/>${rows.join('')}</g>`;
}

/** Plot-area geometry: left/top/right/bottom edges in pixels. */
interface Area {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/** What a chart type supplies to the common drawing: texts, legend, axes and marks. */
interface Chart {
  title: string;
  xLabel: string;
  yLabel: string;
  width: number;
  height: number;
  legend: LegendEntry[];
  /** Builds both axes once the plot area is known. */
  axes: (area: Area) => { x: Axis; y: Axis };
  /** Marks drawn clipped to the plot area, then marks drawn unclipped (labels). */
  marks: (x: Axis, y: Axis, area: Area) => { clipped: string; free?: string };
  /** Widest y tick label, to size the left margin before the axes exist. */
  yTickWidth: number;
}

/** Title, axes, gridlines, ticks, legend and the clipped marks: what every chart here has in common. */
function drawChart(f: Chart): string {
  const legendW = f.legend.length > 0 ? legendWidth(f.legend) : 0;
  const legendH = f.legend.length * LEGEND_ROW + 10;
  const top = 52;
  const height = Math.max(f.height, top + legendH + 20);
  const area: Area = {
    left: 18 + LABEL_SIZE + 10 + f.yTickWidth + 8,
    top,
    right: f.width - 20 - (legendW > 0 ? legendW + 18 : 0),
    bottom: height - 58,
  };
  if (area.right - area.left < 100) throw new Error(`plot '${f.title}': legend too wide for a ${f.width} px wide plot`);
  const { x, y } = f.axes(area);
  const { clipped, free = '' } = f.marks(x, y, area);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${height}" viewBox="0 0 ${f.width} ${height}" font-family="${FONT_FAMILY}" role="img">`,
    `<title>${escapeXml(f.title)}</title>`,
    `<rect width="${f.width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${n(f.width / 2)}" y="30" font-size="${TITLE_SIZE}" font-weight="bold" text-anchor="middle" fill="#111111">${escapeXml(fitText(f.title, TITLE_SIZE, f.width - 20))}</text>`,
  );
  const grid: string[] = [];
  const labels: string[] = [];
  for (const t of y.ticks) {
    const py = y.pos(t.at);
    if (py < area.top - 0.5 || py > area.bottom + 0.5) continue;
    grid.push(`<line x1="${n(area.left)}" y1="${n(py)}" x2="${n(area.right)}" y2="${n(py)}"/>`);
    labels.push(`<text x="${n(area.left - 8)}" y="${n(py + TICK_SIZE * 0.35)}" text-anchor="end">${escapeXml(t.label)}</text>`);
  }
  for (const t of x.ticks) {
    const px = x.pos(t.at);
    if (px < area.left - 0.5 || px > area.right + 0.5) continue;
    grid.push(`<line x1="${n(px)}" y1="${n(area.top)}" x2="${n(px)}" y2="${n(area.bottom)}"/>`);
    labels.push(`<text x="${n(px)}" y="${n(area.bottom + 8 + TICK_SIZE)}" text-anchor="middle">${escapeXml(t.label)}</text>`);
  }
  out.push(`<g stroke="${GRID}" stroke-width="1">${grid.join('')}</g>`);
  // A nested <svg> clips without a clipPath id, so many plots can share one HTML page.
  const clip = { x: area.left - CLIP_PAD, y: area.top - CLIP_PAD, w: area.right - area.left + 2 * CLIP_PAD, h: area.bottom - area.top + 2 * CLIP_PAD };
  out.push(
    `<svg x="${n(clip.x)}" y="${n(clip.y)}" width="${n(clip.w)}" height="${n(clip.h)}" viewBox="${n(clip.x)} ${n(clip.y)} ${n(clip.w)} ${n(clip.h)}" overflow="hidden">${clipped}</svg>`,
  );
  out.push(
    `<path d="M${n(area.left)} ${n(area.top)}V${n(area.bottom)}H${n(area.right)}" fill="none" stroke="${AXIS}" stroke-width="1.2"/>`,
    `<g font-size="${TICK_SIZE}" fill="${AXIS}">${labels.join('')}</g>`,
    `<text x="${n((area.left + area.right) / 2)}" y="${n(area.bottom + 8 + TICK_SIZE + 26)}" font-size="${LABEL_SIZE}" text-anchor="middle" fill="${AXIS}">${escapeXml(f.xLabel)}</text>`,
    `<text transform="translate(${n(18 + LABEL_SIZE)} ${n((area.top + area.bottom) / 2)}) rotate(-90)" font-size="${LABEL_SIZE}" text-anchor="middle" fill="${AXIS}">${escapeXml(f.yLabel)}</text>`,
    free,
  );
  if (legendW > 0) out.push(legend(f.legend, f.width - 20 - legendW, area.top, legendW));
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Widest tick label the y axis will print, before the plot area is known (labels do not depend on it). */
function yTickWidth(values: number[], range: [number, number] | undefined): number {
  const axis = linearAxis(values, range, 0, 1);
  return Math.max(...axis.ticks.map((t) => textWidth(t.label, TICK_SIZE)));
}

/** A line chart: one line per series, each with its own colour, dash pattern and marker, and a legend. */
export function linePlot(o: LinePlotOptions): string {
  const { width = 800, height = 480, xScale = 'linear' } = o;
  checkSize(width, height, 'linePlot');
  if (o.series.length === 0) throw new Error('linePlot: series is empty');
  o.series.forEach((s, i) => {
    if (!s.name) throw new Error(`linePlot: series[${i}].name is empty`);
    s.points.forEach(([x, y], k) => {
      checkFinite(x, `linePlot: series[${i}].points[${k}] x`);
      checkFinite(y, `linePlot: series[${i}].points[${k}] y`);
    });
  });
  checkRange(o.yRange, 'linePlot: yRange');
  o.xTicks?.forEach((t, i) => checkFinite(t, `linePlot: xTicks[${i}]`));
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1]));
  if (xs.length === 0) throw new Error('linePlot: no points in any series');
  const categories = xScale === 'categorical' ? (o.xTicks ?? [...new Set(xs)].sort((a, b) => a - b)) : undefined;
  if (categories && new Set(categories).size !== categories.length) throw new Error('linePlot: xTicks has duplicate categories');

  const style = (i: number): { colour: string; dash: string; marker: Marker } => ({
    colour: PALETTE[i % PALETTE.length],
    dash: DASHES[i % DASHES.length],
    marker: MARKERS[i % MARKERS.length],
  });
  return drawChart({
    title: o.title,
    xLabel: o.xLabel,
    yLabel: o.yLabel,
    width,
    height,
    legend: o.series.map((s, i) => ({ name: s.name, ...style(i), line: true })),
    yTickWidth: yTickWidth(ys, o.yRange),
    axes: (a) => ({
      x: categories ? categoricalAxis(categories, a.left, a.right) : linearAxis(xs, undefined, a.left, a.right, o.xTicks),
      y: linearAxis(ys, o.yRange, a.bottom, a.top),
    }),
    marks: (x, y) => ({
      clipped: o.series
        .map((s, i) => {
          const { colour, dash, marker } = style(i);
          const pts = s.points.map(([px, py]) => [x.pos(px), y.pos(py)] as const);
          const d = pts.map(([px, py], k) => `${k === 0 ? 'M' : 'L'}${n(px)} ${n(py)}`).join('');
          const line = pts.length > 1 ? `<path d="${d}" fill="none" stroke="${colour}" stroke-width="2.2" stroke-linejoin="round"${dash ? ` stroke-dasharray="${dash}"` : ''}/>` : '';
          const marks = pts.map(([px, py]) => markerPath(marker, px, py, 4.5)).join('');
          return `<g>${line}<g fill="${colour}" stroke="#ffffff" stroke-width="1">${marks}</g></g>`;
        })
        .join('\n'),
    }),
  });
}

/**
 * A scatter chart of candidates (grey), highlighted candidates (blue, labelled if they carry a label) and
 * an optional Pareto front (vermilion staircase).
 */
export function scatterPlot(o: ScatterPlotOptions): string {
  const { width = 800, height = 480 } = o;
  checkSize(width, height, 'scatterPlot');
  if (o.points.length === 0) throw new Error('scatterPlot: points is empty');
  o.points.forEach((p, i) => {
    checkFinite(p.x, `scatterPlot: points[${i}].x`);
    checkFinite(p.y, `scatterPlot: points[${i}].y`);
  });
  const front = [...(o.front ?? [])].sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  front.forEach(([x, y], i) => {
    checkFinite(x, `scatterPlot: front[${i}] x`);
    checkFinite(y, `scatterPlot: front[${i}] y`);
  });
  checkRange(o.xRange, 'scatterPlot: xRange');
  checkRange(o.yRange, 'scatterPlot: yRange');
  const xs = [...o.points.map((p) => p.x), ...front.map((p) => p[0])];
  const ys = [...o.points.map((p) => p.y), ...front.map((p) => p[1])];
  const names = { points: 'candidates', highlight: 'highlighted', front: 'Pareto front', ...o.names };
  const plain = o.points.filter((p) => !p.highlight);
  const marked = o.points.filter((p) => p.highlight);
  const ACCENT = PALETTE[0];
  const FRONT = PALETTE[1];
  const entries: LegendEntry[] = [];
  if (plain.length > 0) entries.push({ name: names.points, colour: GREY, line: false, marker: 'circle' });
  if (marked.length > 0) entries.push({ name: names.highlight, colour: ACCENT, line: false, marker: 'circle', markerRadius: 5.5 });
  if (front.length > 0) entries.push({ name: names.front, colour: FRONT, line: true });

  return drawChart({
    title: o.title,
    xLabel: o.xLabel,
    yLabel: o.yLabel,
    width,
    height,
    legend: entries,
    yTickWidth: yTickWidth(ys, o.yRange),
    axes: (a) => ({ x: linearAxis(xs, o.xRange, a.left, a.right), y: linearAxis(ys, o.yRange, a.bottom, a.top) }),
    marks: (x, y, a) => {
      // Staircase: from each front point straight down to the next one's height, then across to it.
      const steps = front.map(([fx, fy], i) => {
        const px = n(x.pos(fx));
        const py = n(y.pos(fy));
        return i === 0 ? `M${px} ${py}` : `V${py}H${px}`;
      });
      const frontPath =
        front.length > 0
          ? `<path d="${steps.join('')}" fill="none" stroke="${FRONT}" stroke-width="2" stroke-linejoin="round"/>` +
            `<g fill="${FRONT}">${front.map(([fx, fy]) => markerPath('circle', x.pos(fx), y.pos(fy), 2.5)).join('')}</g>`
          : '';
      const dots = (pts: ScatterPoint[], colour: string, r: number, stroke: string): string =>
        pts.length === 0 ? '' : `<g fill="${colour}" stroke="${stroke}" stroke-width="1">${pts.map((p) => markerPath('circle', x.pos(p.x), y.pos(p.y), r)).join('')}</g>`;
      const labels = o.points
        .filter((p) => p.label)
        .map((p) => {
          const px = x.pos(p.x);
          const py = y.pos(p.y);
          const label = p.label as string;
          // Flip to the left of the point when the label would run past the plot area.
          const right = px + 8 + textWidth(label, 11) <= a.right + CLIP_PAD;
          return `<text x="${n(right ? px + 8 : px - 8)}" y="${n(py - 6)}" text-anchor="${right ? 'start' : 'end'}">${escapeXml(label)}</text>`;
        });
      return {
        clipped: [dots(plain, GREY, 4, '#ffffff'), frontPath, dots(marked, ACCENT, 5.5, '#ffffff')].join('\n'),
        free: labels.length > 0 ? `<g font-size="11" fill="#222222" stroke="#ffffff" stroke-width="3" paint-order="stroke">${labels.join('')}</g>` : '',
      };
    },
  });
}
