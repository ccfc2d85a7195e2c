/**
 * The web page in Debian's headless Chromium (playwright-core): enrol two people from face-api's sample photos
 * through the page, identify a probe, attack it, and read what the page shows. No console errors, nothing
 * fetched from anywhere but the server.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { RobustifyServer } from '../../src/server/app.js';
import { CHROMIUM_ARGS, DEFAULT_CHROMIUM } from '../../src/study/report/index.js';
import { API_KEY, facePhotos, testServer } from './helpers.js';

let server: RobustifyServer;
let dir: string;
before(async () => {
  ({ server, dir } = await testServer({ allowAttacks: true, port: 0, maxAttackIter: 10 }));
});
after(() => server?.close());

test('web page: enrol, identify, attack side by side — what a person sees', async () => {
  assert.ok(existsSync(DEFAULT_CHROMIUM), `Chromium not found at ${DEFAULT_CHROMIUM}: apt-get install -y chromium (CI installs it)`);
  const address = await server.listen();
  const photos = await facePhotos();
  const files: Record<string, string> = {};
  for (const [name, bytes] of Object.entries(photos)) await fsp.writeFile((files[name] = path.join(dir, `${name}.jpg`)), bytes);

  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: DEFAULT_CHROMIUM, args: CHROMIUM_ARGS, timeout: 60_000 });
  const errors: string[] = [];
  const foreign: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Generous: on a busy machine an enrolment or an attack can take a while.
    page.setDefaultTimeout(300_000);
    /** Waits until the status line says `done` or shows an error; returns it (an error fails here, with its text). */
    const statusAfter = async (done: string): Promise<string> => {
      const h = await page.waitForFunction((d) => {
        const s = document.getElementById('status')!;
        return s.className === 'error' || s.textContent!.includes(d) ? `${s.className}|${s.textContent}` : false;
      }, done);
      const [cls, text] = String(await h.jsonValue()).split('|');
      assert.notEqual(cls, 'error', `the page reports: ${text}`);
      return text;
    };
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => !r.url().startsWith(address) && !r.url().startsWith('data:') && foreign.push(r.url()));
    await page.goto(address);
    await statusAfter('ready');
    assert.equal(await page.isVisible('#attack-panel'), true);
    await page.fill('#key', API_KEY);

    for (const [who, file] of [['alice', files.alice], ['bob', files.bob]]) {
      await page.setInputFiles('#file', file);
      await statusAfter('photo ');
      await page.fill('#identity-name', who);
      await page.click('#enrol');
      assert.match(await statusAfter(`as ${who}`), new RegExp(`^enrolled face #\\d+ as ${who} \\(\\d+ px\\)$`));
    }
    assert.deepEqual(await page.locator('#gallery-list li').allTextContents(), ['alice — 1 face', 'bob — 1 face']);

    await page.setInputFiles('#file', files.aliceProbe);
    await statusAfter('photo ');
    await page.click('#identify');
    assert.equal(await statusAfter('face(s) through'), '1 face(s) through median:window_size=3,jpeg:quality=20');
    const faces = await page.locator('#faces li').allTextContents();
    assert.equal(faces.length, 1);
    assert.match(faces[0], /^face 1: alice \(0\.\d+\) · undefended: alice/);

    await page.fill('#iters', '4');
    await page.click('#attack');
    await statusAfter('attack done');
    const shown = await page.evaluate(() => ({
      images: Array.from(document.querySelectorAll<HTMLImageElement>('#attack-result img')).map((i) => ({ alt: i.alt, w: i.naturalWidth, h: i.naturalHeight })),
      answers: Array.from(document.querySelectorAll('#attack-result .answer')).map((a) => a.textContent ?? ''),
      status: document.getElementById('status')?.textContent ?? '',
    }));
    assert.deepEqual(shown.images.map((i) => [i.alt, i.w, i.h]), [['aligned face', 150, 150], ['adversarial', 150, 150], ['|δ| (white = 4)', 150, 150]]);
    assert.match(shown.answers[0], /^bare modelclean: alice \(0\.\d+\)adversarial: .* — (still recognised|fooled)$/);
    assert.match(shown.answers[1], /^defended \(median:window_size=3,jpeg:quality=20\)clean: alice \(0\.\d+\)adversarial: .* — (still recognised|fooled)$/);
    assert.match(shown.status, /attack done: L∞ \d\.\d\d, moving away from alice/);
    await page.screenshot({ path: path.join(dir, 'page.png'), fullPage: true });
    process.stdout.write(`# screenshot: ${path.join(dir, 'page.png')}\n`);
  } finally {
    await browser.close();
  }
  assert.deepEqual(errors, []);
  assert.deepEqual(foreign, []);
});
