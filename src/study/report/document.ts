/**
 * The report's document model: what the study says, independent of the output format. The HTML and
 * Markdown renderers both read it, so the two reports cannot drift apart.
 *
 * Text fields are plain text (the renderers escape them); the one markup is `backticks`, rendered as code
 * (pipeline names such as `median:3,jpeg:20`).
 */

export interface ReportDocument {
  title: string;
  subtitle?: string;
  sections: Section[];
}

export interface Section {
  /** Anchor of the section: a letter, then letters, digits, '-' or '_' (unique in the document). */
  id: string;
  heading: string;
  blocks: Block[];
}

export interface ParagraphBlock {
  kind: 'paragraph';
  text: string;
}

export type Cell = string | number;

export interface TableBlock {
  kind: 'table';
  id: string;
  caption: string;
  columns: string[];
  rows: Cell[][];
  /** Per column; by default numeric columns are right-aligned and the others left-aligned. */
  align?: Alignment[];
  /** The paper-style text form of the same table (e.g. sklearn's classification report), shown folded. */
  preformatted?: string;
}

export type Alignment = 'left' | 'right';

export interface FigureBlock {
  kind: 'figure';
  id: string;
  caption: string;
  /** PNG bytes: inlined in the HTML, written to `file` beside the Markdown. */
  png: Buffer;
  alt: string;
  /** Relative path of the PNG beside the reports, e.g. `figures/fig1.png`. */
  file: string;
}

export interface PlotBlock {
  kind: 'plot';
  id: string;
  caption: string;
  /** A standalone SVG document (see plot.ts): inlined in the HTML, written to `file` (and rasterised). */
  svg: string;
  /** Relative path of the SVG beside the reports, e.g. `figures/accuracy-vs-eps.svg`; the PNG takes the same name. */
  file: string;
}

export interface CodeBlock {
  kind: 'code';
  text: string;
  /** Fence info string in Markdown and a class in HTML, e.g. `sh` or `json`. */
  language?: string;
}

export interface ListBlock {
  kind: 'list';
  items: string[];
}

export type Block = ParagraphBlock | TableBlock | FigureBlock | PlotBlock | CodeBlock | ListBlock;

/** Blocks that carry an anchor and a caption (listed in the table of contents). */
export type CaptionedBlock = TableBlock | FigureBlock | PlotBlock;

export function isCaptioned(block: Block): block is CaptionedBlock {
  return block.kind === 'table' || block.kind === 'figure' || block.kind === 'plot';
}

/** A piece of inline text: plain, or code (between backticks). */
export interface Span {
  text: string;
  code: boolean;
}

/** Splits text at `backtick` pairs; a lone backtick stays literal text. */
export function inlineSpans(text: string): Span[] {
  const spans: Span[] = [];
  const re = /`([^`]+)`/g;
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m.index > last) spans.push({ text: text.slice(last, m.index), code: false });
    spans.push({ text: m[1], code: true });
    last = m.index + m[0].length;
  }
  if (last < text.length) spans.push({ text: text.slice(last), code: false });
  return spans;
}

/** The text without its markup (for tooltips and alt texts). */
export function plainText(text: string): string {
  return inlineSpans(text)
    .map((s) => s.text)
    .join('');
}

const ID = /^[A-Za-z][A-Za-z0-9_-]*$/;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const LANGUAGE = /^[A-Za-z0-9_+-]+$/;

/** Width and height from a PNG's IHDR chunk (the renderers give images their size to keep the layout stable). */
export function pngSize(png: Buffer, what = 'png'): { width: number; height: number } {
  if (png.length < 24 || !png.subarray(0, 8).equals(PNG_SIGNATURE) || png.toString('latin1', 12, 16) !== 'IHDR') {
    throw new Error(`${what}: not a PNG image`);
  }
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

/** The PNG rendering of a plot sits beside its SVG. */
export function plotPngFile(plot: PlotBlock): string {
  return plot.file.replace(/\.svg$/, '.png');
}

function checkFile(file: string, ext: string, what: string): void {
  // Relative, forward slashes, no climbing out: the files are written beside the reports.
  const parts = file.split('/');
  if (file === '' || file.startsWith('/') || file.includes('\\') || parts.some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`${what}.file: '${file}' must be a relative path like 'figures/name${ext}' (no '..', no leading '/')`);
  }
  if (!/^[A-Za-z0-9._-]+$/.test(parts.join(''))) {
    throw new Error(`${what}.file: '${file}' may only use letters, digits, '.', '_', '-' and '/'`);
  }
  if (!file.endsWith(ext)) throw new Error(`${what}.file: '${file}' must end with '${ext}'`);
}

/**
 * Throws on the first problem that would make a broken report: duplicate or malformed anchors, ragged
 * tables, files outside the report folder or written twice, figures that are not PNG.
 */
export function checkDocument(doc: ReportDocument): void {
  if (!doc.title) throw new Error('document.title: empty');
  const ids = new Set<string>();
  const files = new Set<string>();
  const claimId = (id: string, what: string): void => {
    if (!ID.test(id)) throw new Error(`${what}.id: '${id}' must start with a letter and use only letters, digits, '-', '_'`);
    if (ids.has(id)) throw new Error(`${what}.id: '${id}' is used twice`);
    ids.add(id);
  };
  const claimFile = (file: string, what: string): void => {
    if (files.has(file)) throw new Error(`${what}.file: '${file}' is used twice`);
    files.add(file);
  };
  doc.sections.forEach((section, s) => {
    const where = `sections[${s}]`;
    claimId(section.id, where);
    section.blocks.forEach((block, b) => {
      const what = `${where}.blocks[${b}] (${block.kind})`;
      switch (block.kind) {
        case 'table': {
          claimId(block.id, what);
          const n = block.columns.length;
          if (n === 0) throw new Error(`${what}.columns: empty`);
          block.rows.forEach((row, r) => {
            if (row.length !== n) throw new Error(`${what}.rows[${r}]: ${row.length} cells, expected ${n} (one per column)`);
          });
          if (block.align && block.align.length !== n) throw new Error(`${what}.align: ${block.align.length} entries, expected ${n}`);
          break;
        }
        case 'figure':
          claimId(block.id, what);
          checkFile(block.file, '.png', what);
          claimFile(block.file, what);
          pngSize(block.png, `${what}.png`);
          if (!block.alt) throw new Error(`${what}.alt: empty (describe the image)`);
          break;
        case 'plot':
          claimId(block.id, what);
          checkFile(block.file, '.svg', what);
          claimFile(block.file, what);
          claimFile(plotPngFile(block), what);
          if (!/^<svg[\s>]/.test(block.svg)) throw new Error(`${what}.svg: must be an SVG document starting with '<svg'`);
          // The SVG is inlined unescaped into the HTML: the report must stay free of scripts.
          if (/<script|<foreignObject|<[^>]*\son[a-z]+\s*=/i.test(block.svg)) throw new Error(`${what}.svg: contains scripts or event handlers`);
          break;
        case 'code':
          if (block.language !== undefined && !LANGUAGE.test(block.language)) {
            throw new Error(`${what}.language: '${block.language}' must be a single word like 'sh' or 'json'`);
          }
          break;
        case 'paragraph':
        case 'list':
          break;
        default:
          throw new Error(`${what}: unknown block kind`);
      }
    });
  });
}
