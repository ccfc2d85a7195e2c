import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderHtml, type ReportDocument } from '../../../src/study/report/index.js';
import { HOSTILE, sampleDocument } from './sample.js';

test('renderHtml escapes every piece of text and emits no script or external resource', async () => {
  const doc = await sampleDocument();
  doc.title = HOSTILE;
  doc.sections[0].heading = HOSTILE;
  const html = renderHtml(doc);
  assert.ok(!/<script/i.test(html), 'no <script> element');
  assert.ok(!html.includes('<b>bold</b>'), 'markup in text is escaped');
  assert.ok(html.includes('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39;'));
  assert.ok(html.includes('<title>&lt;script&gt;'));
  // The only http URL is the hostile text itself, escaped as text; nothing is loaded from outside.
  assert.ok(!/(src|href)="(https?:)?\/\//.test(html), 'no external src/href');
  assert.ok(!/url\(/.test(html), 'no CSS url()');
  assert.ok(!/<link\b/.test(html), 'no <link>');
});

test('renderHtml inlines figures as PNG data URLs with their size, and plots as SVG', async () => {
  const doc = await sampleDocument();
  const html = renderHtml(doc);
  const imgs = html.match(/<img src="data:image\/png;base64,[A-Za-z0-9+/=]+" width="\d+" height="\d+" alt="[^"]*">/g) ?? [];
  assert.equal(imgs.length, 2);
  const fig1 = doc.sections[2].blocks[0];
  assert.ok(fig1.kind === 'figure' && html.includes(fig1.png.toString('base64')));
  assert.equal((html.match(/<figure class="plot" id="[^"]+">\n<svg xmlns/g) ?? []).length, 2);
  assert.ok(html.includes('<code>median:3,jpeg:20</code>'), 'backtick spans become code');
  assert.ok(html.includes('<details><summary>Text form</summary><pre>'), 'the paper-style text form is folded under the table');
});

test('renderHtml right-aligns numeric columns and keeps every row', async () => {
  const doc = await sampleDocument();
  const html = renderHtml(doc);
  const table2 = html.slice(html.indexOf('<figure class="table" id="table2">'), html.indexOf('</figure>', html.indexOf('id="table2"')));
  assert.equal((table2.match(/<tr>/g) ?? []).length, 7, 'header + 6 rows');
  assert.ok(table2.includes('<th scope="col" class="num">precision</th>'));
  assert.ok(table2.includes('<td>Drew_Barrymore</td><td class="num">0.8</td>'));
  // An explicit alignment wins.
  const aligned: ReportDocument = { title: 't', sections: [{ id: 's', heading: 'S', blocks: [{ kind: 'table', id: 't', caption: 'c', columns: ['n'], rows: [[1]], align: ['left'] }] }] };
  assert.ok(renderHtml(aligned).includes('<td>1</td>'));
});

test('renderHtml is deterministic and lists every section and captioned block in the contents', async () => {
  const a = renderHtml(await sampleDocument());
  const b = renderHtml(await sampleDocument());
  assert.equal(a, b);
  const nav = a.slice(a.indexOf('<nav'), a.indexOf('</nav>'));
  for (const id of ['intro', 'tables', 'figures', 'table2', 'hostile', 'fig1', 'fig6', 'curve-eps', 'front']) {
    assert.ok(nav.includes(`href="#${id}"`), `contents link to ${id}`);
    assert.ok(a.includes(`id="${id}"`), `anchor ${id}`);
  }
});
