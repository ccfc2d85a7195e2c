/**
 * The report as GitHub-flavoured Markdown, and the files it refers to: figures (PNG) and plots (SVG plus a
 * PNG rendering for viewers without SVG support). Same document, same bytes.
 */
import sharp from 'sharp';
import { checkDocument, inlineSpans, isCaptioned, plainText, plotPngFile, type Block, type ReportDocument, type TableBlock } from './document.js';
import { renderHtml } from './html.js';
import { cellText, columnAlignment } from './table.js';

/** A file of the report: its path relative to the report folder and its content. */
export interface ReportFile {
  path: string;
  bytes: Buffer;
}

/** Plots are rasterised at twice their SVG size, so the PNG stays sharp on high-density screens. */
const PLOT_PNG_DENSITY = 144;

// Characters that would start emphasis, links, HTML, entities or table cells inside running text. An
// underscore inside a word never starts emphasis in GFM, so identity names like Hugh_Laurie stay readable.
const MD_SPECIAL = /[\\`*[\]<>|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])|&(?=#?\w+;)/g;
// Line starts that would turn text into a heading, quote, list or rule.
const MD_LINE_START = /^(\s*)([#+-](?=\s|$)|[-=]{2,}|\d+[.)](?=\s|$))/gm;

/** Inline text for Markdown: punctuation escaped, `code` spans kept; in table cells '|' is escaped in code too. */
function inline(text: string, inTable = false): string {
  return inlineSpans(text)
    .map((s) => {
      if (s.code) return `\`${inTable ? s.text.replace(/\|/g, '\\|') : s.text}\``;
      const escaped = s.text.replace(MD_SPECIAL, (c) => `\\${c}`);
      // Backslashes only escape punctuation: "1." becomes "1\.", "#" becomes "\#".
      return inTable ? escaped : escaped.replace(MD_LINE_START, (_, space: string, mark: string) => `${space}${mark.slice(0, -1)}\\${mark.slice(-1)}`);
    })
    .join('');
}

/** A fence longer than any backtick run in the text, so the text cannot close it. */
function fenced(text: string, language = ''): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}${language}\n${text.replace(/\n$/, '')}\n${fence}`;
}

const anchor = (id: string): string => `<a id="${id}"></a>`;

/** One table block as Markdown: anchor, bold caption, pipe table, and its text form folded. */
export function renderMarkdownTable(t: TableBlock): string {
  const align = columnAlignment(t);
  const cell = (text: string): string => inline(text.replace(/\s*\n\s*/g, ' '), true);
  const row = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  const lines = [
    `${anchor(t.id)}**${inline(t.caption)}**`,
    '',
    row(t.columns),
    `|${align.map((a) => (a === 'right' ? '---:' : ':---')).join('|')}|`,
    ...t.rows.map((r) => row(r.map(cellText))),
  ];
  if (t.preformatted !== undefined) {
    // GitHub renders Markdown inside <details> when blank lines separate it from the tags.
    lines.push('', '<details><summary>Text form</summary>', '', fenced(t.preformatted, 'text'), '', '</details>');
  }
  return lines.join('\n');
}

function block(b: Block): string {
  switch (b.kind) {
    case 'paragraph':
      return inline(b.text);
    case 'list':
      return b.items.map((item) => `- ${inline(item)}`).join('\n');
    case 'code':
      return fenced(b.text, b.language);
    case 'table':
      return renderMarkdownTable(b);
    case 'figure':
      return `${anchor(b.id)}![${inline(plainText(b.alt))}](${b.file})\n\n*${inline(b.caption)}*`;
    case 'plot':
      return `${anchor(b.id)}![${inline(plainText(b.caption))}](${b.file})\n\n*${inline(b.caption)}* ([PNG](${plotPngFile(b)}))`;
  }
}

/** The whole report as Markdown (checked first: see `checkDocument`); figures and plots are linked by their `file`. */
export function renderMarkdown(doc: ReportDocument): string {
  checkDocument(doc);
  const out: string[] = [`# ${inline(doc.title)}`];
  if (doc.subtitle) out.push(inline(doc.subtitle));
  out.push(
    '## Contents',
    doc.sections
      .map((s) => {
        const items = s.blocks.filter(isCaptioned).map((b) => `  - [${inline(plainText(b.caption))}](#${b.id})`);
        return [`- [${inline(s.heading)}](#${s.id})`, ...items].join('\n');
      })
      .join('\n'),
  );
  for (const s of doc.sections) {
    out.push(`${anchor(s.id)}\n\n## ${inline(s.heading)}`, ...s.blocks.map(block));
  }
  return out.join('\n\n') + '\n';
}

/** A plot's SVG rasterised by librsvg (through sharp). */
export async function plotToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg), { density: PLOT_PNG_DENSITY }).png().toBuffer();
}

/** The files the Markdown links to: each figure's PNG, each plot's SVG and its PNG rendering. */
export async function assetFiles(doc: ReportDocument): Promise<ReportFile[]> {
  checkDocument(doc);
  const files: ReportFile[] = [];
  for (const b of doc.sections.flatMap((s) => s.blocks)) {
    if (b.kind === 'figure') files.push({ path: b.file, bytes: b.png });
    if (b.kind === 'plot') files.push({ path: b.file, bytes: Buffer.from(b.svg) }, { path: plotPngFile(b), bytes: await plotToPng(b.svg) });
  }
  return files;
}

/** Everything to write into the report folder: `report.html`, `report.md` and the assets. */
export async function reportFiles(doc: ReportDocument): Promise<ReportFile[]> {
  return [
    { path: 'report.html', bytes: Buffer.from(renderHtml(doc)) },
    { path: 'report.md', bytes: Buffer.from(renderMarkdown(doc)) },
    ...(await assetFiles(doc)),
  ];
}
