import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { assetFiles, renderMarkdown, reportFiles } from '../../../src/study/report/index.js';
import { sampleDocument } from './sample.js';

/** Cells of a pipe-table line: split on '|' not preceded by a backslash, outer pipes dropped. */
function cells(line: string): string[] {
  assert.ok(line.startsWith('| ') || line.startsWith('|:') || line.startsWith('|-'), `row starts with a pipe: ${line}`);
  assert.ok(line.endsWith('|') && !line.endsWith('\\|'), `row ends with an unescaped pipe: ${line}`);
  return line.slice(1, -1).split(/(?<!\\)\|/);
}

/** Every pipe table in the text: header, delimiter and body lines. */
function pipeTables(md: string): string[][] {
  const tables: string[][] = [];
  let current: string[] | undefined;
  for (const line of md.split('\n')) {
    if (line.startsWith('|')) (current ??= []).push(line);
    else if (current) {
      tables.push(current);
      current = undefined;
    }
  }
  if (current) tables.push(current);
  return tables;
}

test('renderMarkdown writes well-formed pipe tables, one cell per column in every row', async () => {
  const md = renderMarkdown(await sampleDocument());
  const tables = pipeTables(md);
  assert.equal(tables.length, 2);
  const [table2, hostile] = tables;
  assert.equal(table2.length, 2 + 6, 'header, delimiter, 6 rows');
  for (const t of tables) {
    const width = cells(t[0]).length;
    assert.match(t[1], /^\|((:---|---:)\|)+$/, 'delimiter row');
    for (const line of t) assert.equal(cells(line).length, width, `cells in: ${line}`);
  }
  assert.deepEqual(cells(table2[1]), [':---', '---:', '---:', '---:', '---:'], 'numeric columns right-aligned');
  assert.deepEqual(cells(table2[2]).map((c) => c.trim()), ['Drew_Barrymore', '0.8', '1', '0.90', '7']);
  // Pipes inside cells, in text and in code spans, are escaped.
  assert.equal(cells(hostile[0]).length, 2);
  assert.ok(hostile[2].includes('`a\\|b`'));
});

test('renderMarkdown escapes text, links figures and plots by file, fences code safely', async () => {
  const md = renderMarkdown(await sampleDocument());
  assert.ok(!md.includes('<script>') && !md.includes('<b>'), 'no raw HTML from text');
  assert.ok(md.includes('\\<script\\>alert("x")\\</script\\> & \'quotes\' \\| pipes \\| \\*stars\\* \\_under\\_ \\[link\\](http://example.com)'));
  assert.ok(md.includes('`median:3,jpeg:20`'), 'code spans kept');
  assert.ok(md.includes('![six copies of one face](figures/fig1.png)'));
  assert.ok(md.includes('](figures/accuracy-vs-eps.svg)') && md.includes('([PNG](figures/accuracy-vs-eps.png))'));
  assert.ok(md.includes('````sh\nnpx robustify study --data DIR --out OUT\n# ```fences``` inside\n````'), 'fence longer than the backticks inside');
  assert.ok(md.includes('<details><summary>Text form</summary>\n\n```text\n'), 'paper-style text form folded');
  assert.ok(md.includes('- [Classification reports](#tables)\n  - [Table 2. No defence, clean test set](#table2)'), 'contents');
  assert.ok(md.includes('<a id="fig1"></a>'), 'anchors for the contents');
  assert.equal(md, renderMarkdown(await sampleDocument()), 'deterministic');
});

test('renderMarkdown escapes line starts that would become headings or lists', () => {
  const md = renderMarkdown({
    title: 't',
    sections: [{ id: 's', heading: 'S', blocks: [{ kind: 'paragraph', text: '# not a heading\n1. not a list\n- nor this\n--- nor a rule' }] }],
  });
  assert.ok(md.includes('\\# not a heading\n1\\. not a list\n\\- nor this\n--\\- nor a rule'));
});

test('assetFiles: figure PNGs as given, plots as SVG plus a PNG rendering', async () => {
  const doc = await sampleDocument();
  const files = await assetFiles(doc);
  assert.deepEqual(
    files.map((f) => f.path),
    ['figures/fig1.png', 'figures/fig6.png', 'figures/accuracy-vs-eps.svg', 'figures/accuracy-vs-eps.png', 'figures/front.svg', 'figures/front.png'],
  );
  const fig1 = doc.sections[2].blocks[0];
  assert.ok(fig1.kind === 'figure' && files[0].bytes.equals(fig1.png));
  assert.ok(files[2].bytes.toString().startsWith('<svg'));
  const meta = await sharp(files[3].bytes).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 1600, 960], 'plot PNG at twice the SVG size');
  const all = await reportFiles(doc);
  assert.deepEqual(all.slice(0, 2).map((f) => f.path), ['report.html', 'report.md']);
  assert.equal(all.length, files.length + 2);
});
