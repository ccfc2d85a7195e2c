/**
 * Opens a rendered report.html in headless Chromium and reports what a reader would get: the tables and
 * their row counts, whether every image decoded, whether every plot has a size, and any request that left
 * the file (a self-contained report makes none). Used by the tests and on the study's real report.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

/** The system Chromium (Debian's `chromium` package); CI installs it. */
export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

/** Flags for headless Chromium on a machine without network, GPU or sandbox (shared by every browser check). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface BrowserCheckOptions {
  /** Chromium executable (default /usr/bin/chromium). */
  executablePath?: string;
  /** Viewport width in CSS pixels (default 1280; the page is captured at full height). */
  width?: number;
  /** Launch and navigation timeout in ms (default 60000: the machine may be busy). */
  timeoutMs?: number;
}

export interface BrowserCheck {
  title: string;
  /** Each table with the id of its figure, its caption, and its header and body row counts. */
  tables: { id: string; caption: string; columns: number; rows: number }[];
  /** Each <img>: its alt text, whether it decoded, and its natural size. */
  images: { alt: string; loaded: boolean; naturalWidth: number; naturalHeight: number }[];
  /** Each top-level inline <svg>: its figure id and its rendered box. */
  svgs: { id: string; width: number; height: number }[];
  /** Entries of the table of contents whose anchor exists in the page / all entries. */
  tocLinks: { total: number; resolved: number };
  pageWidth: number;
  pageHeight: number;
  /** URLs requested other than the report itself and data: URLs (should be empty). */
  externalRequests: string[];
  /** Console errors and uncaught page errors. */
  errors: string[];
}

/**
 * Loads `htmlPath` in headless Chromium, inspects the DOM, and saves a full-page screenshot to
 * `screenshotPath`. Throws with the install command when Chromium is missing.
 */
export async function checkReportInBrowser(htmlPath: string, screenshotPath: string, opts: BrowserCheckOptions = {}): Promise<BrowserCheck> {
  const executablePath = opts.executablePath ?? DEFAULT_CHROMIUM;
  const timeout = opts.timeoutMs ?? 60_000;
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath}: install it with 'apt-get install -y chromium' (CI installs it)`);
  }
  if (!existsSync(htmlPath)) throw new Error(`htmlPath: no such file '${htmlPath}'`);
  // playwright-core is a devDependency (only tests and the study's self-check use it): load it on demand
  // so that the product's import graph does not need it.
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout });
  try {
    const page = await browser.newPage({ viewport: { width: opts.width ?? 1280, height: 900 } });
    const url = pathToFileURL(path.resolve(htmlPath)).href;
    const externalRequests: string[] = [];
    const errors: string[] = [];
    page.on('request', (req) => {
      const u = req.url();
      if (u !== url && !u.startsWith('data:')) externalRequests.push(u);
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(url, { waitUntil: 'load', timeout });
    // 'load' waits for images; decode() also covers data: URLs that decode lazily.
    await page.evaluate(() => Promise.all(Array.from(document.images, (img) => img.decode().catch(() => undefined))));
    const found = await page.evaluate(() => {
      const figureId = (el: Element): string => el.closest('figure')?.id ?? '';
      const tables = Array.from(document.querySelectorAll('table'), (t) => ({
        id: figureId(t),
        caption: t.closest('figure')?.querySelector('figcaption')?.textContent?.trim() ?? '',
        columns: t.querySelectorAll('thead th').length,
        rows: t.querySelectorAll('tbody tr').length,
      }));
      const images = Array.from(document.images, (img) => ({
        alt: img.alt,
        loaded: img.complete && img.naturalWidth > 0,
        naturalWidth: img.naturalWidth,
        naturalHeight: img.naturalHeight,
      }));
      const svgs = Array.from(document.querySelectorAll('svg'))
        .filter((svg) => svg.parentElement?.closest('svg') === null)
        .map((svg) => {
          const box = svg.getBoundingClientRect();
          return { id: figureId(svg), width: box.width, height: box.height };
        });
      const links = Array.from(document.querySelectorAll<HTMLAnchorElement>('nav a[href^="#"]'));
      const resolved = links.filter((a) => document.getElementById(decodeURIComponent(a.hash.slice(1))) !== null).length;
      const root = document.documentElement;
      return {
        title: document.title,
        tables,
        images,
        svgs,
        tocLinks: { total: links.length, resolved },
        pageWidth: root.scrollWidth,
        pageHeight: root.scrollHeight,
      };
    });
    await page.screenshot({ path: screenshotPath, fullPage: true });
    return { ...found, externalRequests, errors };
  } finally {
    await browser.close();
  }
}
