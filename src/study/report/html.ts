/**
 * The report as ONE self-contained HTML file: inline CSS, PNG figures as data: URLs, SVG plots inline,
 * no scripts and no external resources, so it can be mailed, archived or opened offline. Same document,
 * same bytes (nothing time- or machine-dependent is printed).
 */
import { checkDocument, inlineSpans, isCaptioned, plainText, pngSize, type Block, type ReportDocument, type Section, type TableBlock } from './document.js';
import { cellText, columnAlignment } from './table.js';
import { escapeXml } from './text.js';

const STYLE = `
:root { --fg: #1f2328; --muted: #59636e; --border: #d1d9e0; --rule: #8c959f; --accent: #0b5cad; --tint: #f6f8fa; --code: #eff2f5; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: #ffffff; font: 16px/1.6 "DejaVu Sans", "Segoe UI", system-ui, -apple-system, Helvetica, Arial, sans-serif; }
.layout { display: grid; grid-template-columns: 260px minmax(0, 1fr); gap: 48px; max-width: 1320px; margin: 0 auto; padding: 0 32px; }
nav.toc { position: sticky; top: 0; align-self: start; max-height: 100vh; overflow-y: auto; padding: 32px 4px 32px 0; font-size: 13.5px; line-height: 1.45; }
nav.toc h2 { font-size: 12px; letter-spacing: 0.08em; text-transform: uppercase; color: var(--muted); margin: 0 0 10px; border: 0; padding: 0; }
nav.toc ol, nav.toc ul { list-style: none; margin: 0; padding: 0; }
nav.toc > ol > li { margin: 0 0 8px; }
nav.toc > ol > li > a { font-weight: 600; color: var(--fg); }
nav.toc ul { margin: 3px 0 0 12px; border-left: 2px solid var(--border); padding-left: 10px; }
nav.toc ul a { display: -webkit-box; -webkit-box-orient: vertical; -webkit-line-clamp: 2; overflow: hidden; color: var(--muted); padding: 1px 0; margin: 0 0 2px; }
nav.toc a { text-decoration: none; }
nav.toc a:hover { color: var(--accent); text-decoration: underline; }
main { min-width: 0; max-width: 960px; padding: 32px 0 80px; }
header.doc { margin: 0 0 28px; padding: 0 0 18px; border-bottom: 1px solid var(--border); }
header.doc h1 { font-size: 30px; line-height: 1.25; margin: 0 0 6px; }
header.doc p { margin: 0; color: var(--muted); font-size: 17px; }
section { margin: 0 0 44px; }
h2 { font-size: 23px; line-height: 1.3; margin: 36px 0 14px; padding-bottom: 6px; border-bottom: 1px solid var(--border); }
p { margin: 0 0 14px; }
ul.items { margin: 0 0 14px; padding-left: 24px; }
ul.items li { margin: 2px 0; }
a { color: var(--accent); }
code { font: 0.88em/1.4 "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace; background: var(--code); padding: 0.1em 0.35em; border-radius: 4px; }
pre { margin: 0 0 16px; padding: 12px 14px; background: var(--tint); border: 1px solid var(--border); border-radius: 6px; overflow-x: auto; font: 13px/1.45 "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace; }
pre code { background: none; padding: 0; font-size: inherit; }
figure { margin: 24px 0 30px; }
figcaption { font-size: 14px; line-height: 1.5; color: #3d444d; }
figure.table figcaption { margin: 0 0 8px; }
figure.image figcaption, figure.plot figcaption { margin: 10px 0 0; }
figure.image img, figure.plot svg { display: block; max-width: 100%; height: auto; border: 1px solid var(--border); border-radius: 4px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 14px; line-height: 1.4; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 14px; border-bottom: 1px solid var(--border); text-align: left; vertical-align: top; }
th { font-weight: 600; border-bottom: 2px solid var(--rule); background: #ffffff; }
td:first-child, th:first-child { padding-left: 8px; }
tbody tr:nth-child(even) { background: var(--tint); }
tbody tr:last-child td { border-bottom: 2px solid var(--rule); }
.num { text-align: right; }
details { margin: 10px 0 0; font-size: 14px; }
details summary { cursor: pointer; color: var(--muted); }
details pre { margin-top: 8px; }
@media (max-width: 980px) {
  .layout { display: block; padding: 0 18px; }
  nav.toc { position: static; max-height: none; padding: 20px 0 12px; border-bottom: 1px solid var(--border); }
}
@media print {
  body { font-size: 11pt; }
  .layout { display: block; padding: 0; max-width: none; }
  nav.toc { display: none; }
  main { max-width: none; padding: 0; }
  figure, pre, tr { break-inside: avoid; }
  h2 { break-after: avoid; }
  a { color: inherit; }
}
`;

/** Inline text: escaped, with `code` spans. */
function inline(text: string): string {
  return inlineSpans(text)
    .map((s) => (s.code ? `<code>${escapeXml(s.text)}</code>` : escapeXml(s.text)))
    .join('');
}

function caption(text: string): string {
  return `<figcaption>${inline(text)}</figcaption>`;
}

function table(t: TableBlock): string {
  const align = columnAlignment(t);
  const cls = (c: number): string => (align[c] === 'right' ? ' class="num"' : '');
  const head = t.columns.map((col, c) => `<th scope="col"${cls(c)}>${inline(col)}</th>`).join('');
  const body = t.rows.map((row) => `<tr>${row.map((cell, c) => `<td${cls(c)}>${inline(cellText(cell))}</td>`).join('')}</tr>`).join('\n');
  const text = t.preformatted === undefined ? '' : `\n<details><summary>Text form</summary><pre>${escapeXml(t.preformatted)}</pre></details>`;
  return `<figure class="table" id="${t.id}">\n${caption(t.caption)}\n<div class="scroll"><table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table></div>${text}\n</figure>`;
}

function block(b: Block): string {
  switch (b.kind) {
    case 'paragraph':
      return `<p>${inline(b.text)}</p>`;
    case 'list':
      return `<ul class="items">\n${b.items.map((item) => `<li>${inline(item)}</li>`).join('\n')}\n</ul>`;
    case 'code':
      return `<pre><code${b.language ? ` class="language-${b.language}"` : ''}>${escapeXml(b.text)}</code></pre>`;
    case 'table':
      return table(b);
    case 'figure': {
      const { width, height } = pngSize(b.png);
      const src = `data:image/png;base64,${b.png.toString('base64')}`;
      return `<figure class="image" id="${b.id}">\n<img src="${src}" width="${width}" height="${height}" alt="${escapeXml(b.alt)}">\n${caption(b.caption)}\n</figure>`;
    }
    case 'plot':
      return `<figure class="plot" id="${b.id}">\n${b.svg.trim()}\n${caption(b.caption)}\n</figure>`;
  }
}

function toc(sections: Section[]): string {
  const items = sections.map((s) => {
    const inner = s.blocks
      .filter(isCaptioned)
      .map((b) => `<li><a href="#${b.id}" title="${escapeXml(plainText(b.caption))}">${inline(b.caption)}</a></li>`);
    const sub = inner.length > 0 ? `\n<ul>\n${inner.join('\n')}\n</ul>` : '';
    return `<li><a href="#${s.id}">${inline(s.heading)}</a>${sub}</li>`;
  });
  return `<nav class="toc" aria-label="Contents">\n<h2>Contents</h2>\n<ol>\n${items.join('\n')}\n</ol>\n</nav>`;
}

/** The whole report as one HTML document (checked first: see `checkDocument`). */
export function renderHtml(doc: ReportDocument): string {
  checkDocument(doc);
  const sections = doc.sections.map((s) => `<section id="${s.id}">\n<h2>${inline(s.heading)}</h2>\n${s.blocks.map(block).join('\n')}\n</section>`);
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="generator" content="robustify">',
    `<title>${escapeXml(doc.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<div class="layout">',
    toc(doc.sections),
    '<main>',
    `<header class="doc">\n<h1>${inline(doc.title)}</h1>${doc.subtitle ? `\n<p>${inline(doc.subtitle)}</p>` : ''}\n</header>`,
    ...sections,
    '</main>',
    '</div>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
