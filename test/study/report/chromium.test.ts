import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { checkReportInBrowser, reportFiles } from '../../../src/study/report/index.js';
import { sampleDocument } from './sample.js';

// No skip when Chromium is missing: checkReportInBrowser fails with the install command (CI installs it).
test('report.html in headless Chromium: tables complete, images decoded, plots sized, nothing fetched', async () => {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'robustify-report-'));
  try {
    const doc = await sampleDocument();
    for (const f of await reportFiles(doc)) {
      await fsp.mkdir(path.dirname(path.join(dir, f.path)), { recursive: true });
      await fsp.writeFile(path.join(dir, f.path), f.bytes);
    }
    // The HTML must stand alone: move the figure files away so that nothing could be loaded from beside it.
    await fsp.rename(path.join(dir, 'figures'), path.join(dir, 'moved-away'));
    const shot = path.join(dir, 'screenshot.png');
    const found = await checkReportInBrowser(path.join(dir, 'report.html'), shot);

    assert.equal(found.title, 'Robustness study');
    assert.deepEqual(
      found.tables.map((t) => [t.id, t.columns, t.rows]),
      [
        ['table2', 5, 6],
        ['hostile', 2, 1],
      ],
    );
    assert.equal(found.tables[0].caption, 'Table 2. No defence, clean test set');
    assert.equal(found.images.length, 2);
    for (const img of found.images) assert.ok(img.loaded, `image '${img.alt}' decoded`);
    assert.deepEqual([found.images[0].naturalWidth, found.images[0].naturalHeight], [(await sharp(pngOf(doc, 'fig1')).metadata()).width, (await sharp(pngOf(doc, 'fig1')).metadata()).height]);
    assert.deepEqual(found.svgs.map((s) => s.id), ['curve-eps', 'front']);
    for (const svg of found.svgs) assert.ok(svg.width > 300 && svg.height > 150, `plot ${svg.id} is ${svg.width}×${svg.height}`);
    assert.deepEqual(found.tocLinks, { total: 9, resolved: 9 });
    assert.deepEqual(found.externalRequests, []);
    assert.deepEqual(found.errors, []);
    assert.equal(found.pageWidth, 1280, 'no horizontal overflow at 1280 px');

    const meta = await sharp(shot).metadata();
    assert.equal(meta.width, 1280);
    assert.equal(meta.height, found.pageHeight);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('checkReportInBrowser: a missing Chromium is an error that says how to install it', async () => {
  await assert.rejects(checkReportInBrowser('report.html', 'shot.png', { executablePath: '/nonexistent/chromium' }), /Chromium not found at \/nonexistent\/chromium: install it with 'apt-get install -y chromium'/);
});

function pngOf(doc: Awaited<ReturnType<typeof sampleDocument>>, id: string): Buffer {
  const block = doc.sections.flatMap((s) => s.blocks).find((b) => b.kind === 'figure' && b.id === id);
  assert.ok(block && block.kind === 'figure');
  return block.png;
}
