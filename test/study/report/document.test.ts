import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkDocument, inlineSpans, pngSize, type Block, type ReportDocument } from '../../../src/study/report/index.js';

const PNG_1X1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC', 'base64');

const docWith = (...blocks: Block[]): ReportDocument => ({ title: 't', sections: [{ id: 's', heading: 'S', blocks }] });

test('inline spans: backtick pairs are code, a lone backtick stays text', () => {
  assert.deepEqual(inlineSpans('use `jpeg:20` or `median:3`.'), [
    { text: 'use ', code: false },
    { text: 'jpeg:20', code: true },
    { text: ' or ', code: false },
    { text: 'median:3', code: true },
    { text: '.', code: false },
  ]);
  assert.deepEqual(inlineSpans('a ` b'), [{ text: 'a ` b', code: false }]);
});

test('pngSize reads the IHDR size and refuses other bytes', () => {
  assert.deepEqual(pngSize(PNG_1X1), { width: 1, height: 1 });
  assert.throws(() => pngSize(Buffer.from('GIF89a...........................'), 'fig'), /fig: not a PNG image/);
});

test('checkDocument accepts a well-formed document', () => {
  checkDocument(
    docWith(
      { kind: 'table', id: 't1', caption: 'c', columns: ['a', 'b'], rows: [[1, 'x']] },
      { kind: 'figure', id: 'f1', caption: 'c', png: PNG_1X1, alt: 'a', file: 'figures/f1.png' },
      { kind: 'plot', id: 'p1', caption: 'c', svg: '<svg xmlns="http://www.w3.org/2000/svg"></svg>', file: 'figures/p1.svg' },
    ),
  );
});

test('checkDocument names the problem: ids, ragged rows, paths, non-PNG figures, scripts in SVG', () => {
  const fig = (file: string, png = PNG_1X1): Block => ({ kind: 'figure', id: `f${file.length}`, caption: 'c', png, alt: 'a', file });
  const cases: [ReportDocument, RegExp][] = [
    [{ title: 't', sections: [{ id: 's', heading: 'S', blocks: [] }, { id: 's', heading: 'S', blocks: [] }] }, /sections\[1\]\.id: 's' is used twice/],
    [docWith({ kind: 'table', id: '1st', caption: 'c', columns: ['a'], rows: [] }), /id: '1st' must start with a letter/],
    [docWith({ kind: 'table', id: 't', caption: 'c', columns: ['a', 'b'], rows: [[1, 2], [3]] }), /rows\[1\]: 1 cells, expected 2/],
    [docWith({ kind: 'table', id: 't', caption: 'c', columns: ['a'], rows: [], align: ['left', 'right'] }), /align: 2 entries, expected 1/],
    [docWith(fig('../out.png')), /must be a relative path/],
    [docWith(fig('/abs/out.png')), /must be a relative path/],
    [docWith(fig('figures/a b.png')), /may only use letters/],
    [docWith(fig('figures/f.jpg')), /must end with '\.png'/],
    [docWith(fig('figures/f.png', Buffer.from('not a png at all, just some bytes'))), /png: not a PNG image/],
    [docWith(fig('figures/f.png'), { ...(fig('figures/f.png') as object), id: 'other' } as Block), /'figures\/f\.png' is used twice/],
    [docWith({ kind: 'plot', id: 'p', caption: 'c', svg: '<svg><script>x()</script></svg>', file: 'p.svg' }), /contains scripts/],
    [docWith({ kind: 'plot', id: 'p', caption: 'c', svg: '<svg><rect onclick="x()"/></svg>', file: 'p.svg' }), /contains scripts/],
    [docWith({ kind: 'plot', id: 'p', caption: 'c', svg: '<html></html>', file: 'p.svg' }), /must be an SVG document/],
    [docWith({ kind: 'code', text: 'x', language: 'a b' }), /language: 'a b' must be a single word/],
  ];
  for (const [doc, message] of cases) assert.throws(() => checkDocument(doc), message);
  // Event-handler-looking words in text content are not attributes.
  checkDocument(docWith({ kind: 'plot', id: 'p', caption: 'c', svg: '<svg><text>based on one = 2</text></svg>', file: 'p.svg' }));
});
