/**
 * Writing a study's outputs into REPORT_DIR: results.json (what the seed and data determine, byte-stable),
 * timings.json, every paper table as text, Markdown and JSON, and the report (see document.ts). Every file is
 * written atomically.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { hasFormat, writeFileAtomic } from '../util/fs.js';
import type { OutputKind } from '../util/output.js';
import { STUDY_CACHE } from './cache.js';
import { paperTableBlock, studyDocument } from './document.js';
import { renderMarkdownTable, reportFiles } from './report/index.js';
import type { StudyRun } from './run.js';
import { paperLayout } from './tables.js';

export const STUDY_FILES = {
  results: 'results.json',
  timings: 'timings.json',
  html: 'report.html',
  markdown: 'report.md',
  tables: 'tables',
} as const;

/** Written first into REPORT_DIR: it stays a study's even when a run is killed while rewriting the report. */
const MARKER = '.robustify-study.json';

/** A study's REPORT_DIR: its results.json or marker, or (a run killed before any report) only its cache, says so. */
export const STUDY_OUTPUT: OutputKind = {
  what: 'a study report',
  owns: async (dir) => {
    if ((await hasFormat(path.join(dir, STUDY_FILES.results), 'robustify-study')) || (await hasFormat(path.join(dir, MARKER), 'robustify-study'))) return true;
    const names = await fsp.readdir(dir).catch(() => [] as string[]);
    return names.length === 1 && names[0] === 'cache' && (await STUDY_CACHE.owns(path.join(dir, 'cache')));
  },
};

/**
 * Write a finished study run to `dir`: report.html, report.md, results.json, tables/, figures/.
 *
 * @example
 * ```ts no-run
 * import { writeStudy, type StudyRun } from 'robustify';
 * declare const run: StudyRun; // from runStudy, see {@link runStudy}
 * await writeStudy('out', run); // report.html, report.md, results.json, tables/, figures/
 * ```
 */
export async function writeStudy(dir: string, run: StudyRun): Promise<void> {
  // First: a report rewritten only in part must not look complete beside an earlier run's results.json.
  await fsp.mkdir(dir, { recursive: true });
  await writeFileAtomic(path.join(dir, MARKER), JSON.stringify({ format: 'robustify-study' }) + '\n');
  await fsp.rm(path.join(dir, STUDY_FILES.results), { force: true });
  const tablesDir = path.join(dir, STUDY_FILES.tables);
  await fsp.mkdir(tablesDir, { recursive: true });
  for (const t of run.results.tables) {
    const base = path.join(tablesDir, t.id);
    const title = `${t.title} (pipeline: ${t.pipeline}, ${t.samples} images)`;
    await writeFileAtomic(`${base}.txt`, `${title}\n\n${paperLayout(t.report)}`);
    await writeFileAtomic(`${base}.md`, renderMarkdownTable(paperTableBlock(t)) + '\n');
    await writeFileAtomic(`${base}.json`, JSON.stringify(t, null, 2) + '\n');
  }
  for (const f of await reportFiles(await studyDocument(run))) {
    const file = path.join(dir, f.path);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, f.bytes);
  }
  await writeFileAtomic(path.join(dir, STUDY_FILES.timings), JSON.stringify({ seconds: run.timings, cache: run.cache, ...(run.queue ? { queue: run.queue } : {}) }, null, 2) + '\n');
  // Last: its presence says the report beside it is complete.
  await writeFileAtomic(path.join(dir, STUDY_FILES.results), JSON.stringify(run.results, null, 2) + '\n');
}
