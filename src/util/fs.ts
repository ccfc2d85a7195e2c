/**
 * File-system helpers shared by every module that writes outputs: atomic files and folders built in temporary
 * siblings named `.<name>.<pid>.<12 hex>.tmp`, removed on interruption (see interrupt.ts) and, when a killed
 * process left them, recognised by that name, a dead pid and (for folders) an owner file, and cleared by the
 * next run (`clearStale`).
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onInterrupt } from './interrupt.js';

/**
 * Beside every temporary folder `<tmp>` lies `<tmp>.owner` (pid, host), written before it and removed after the
 * final rename: a leftover folder with its owner file is recognisably robustify's, and nothing extra ever lands
 * inside the output. A replaced output is moved aside as `<tmp>.old` for the swap.
 */
const TMP_RE = /^\.(.+)\.(\d+)\.([0-9a-f]{12})\.tmp(\.old|\.owner)?$/;

/** `name` is one of robustify's temporaries (an atomic write in flight, or what a killed one left). */
export function isTempName(name: string): boolean {
  return TMP_RE.test(name);
}

function tempSibling(target: string): string {
  const abs = path.resolve(target);
  return path.join(path.dirname(abs), `.${path.basename(abs)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** What an errno means, in words (for one clear line naming the user's path, not a temporary's). */
export function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'ENOENT':
      return 'no such file or folder';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'EISDIR':
      return 'it is a folder';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EROFS':
      return 'read-only file system';
    case 'EEXIST':
      return 'it already exists';
    case 'ENOTEMPTY':
      return 'the folder is not empty';
    default:
      return e instanceof Error ? e.message : String(err);
  }
}

/** An errno error from writing `target` (through a temporary), restated with the path the caller named. */
function writeError(target: string, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (!code) return err as Error;
  const out: NodeJS.ErrnoException = new Error(`cannot write '${target}': ${fsReason(err)}`);
  out.code = code;
  return out;
}

/**
 * Write `data` to `file` so that readers see either the old file or the complete new one, never half of it:
 * the bytes go to a temporary file in the same directory (same file system, so `rename` is atomic) which then
 * replaces the target. On failure or interruption the temporary file is removed and the target is untouched.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempSibling(file);
  const forget = onInterrupt(() => rmSync(tmp, { force: true }));
  let handle: fsp.FileHandle | undefined;
  try {
    handle = await fsp.open(tmp, 'wx');
    await handle.writeFile(data);
    // Flush before the rename so a crash cannot leave a renamed but empty file behind.
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, file);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw writeError(file, err);
  } finally {
    forget();
  }
}

export interface WriteDirOptions {
  /**
   * An existing non-empty `dir` is replaced only when this says it is robustify's own output of the same kind
   * (its manifest); anything else is refused. Without it, only a missing or empty `dir` is written.
   */
  replaceIf?: (dir: string) => Promise<boolean>;
  /** Names `dir` in errors (e.g. the CLI's flag). */
  what?: string;
}

/**
 * Build a directory atomically: `fill` writes into a temporary sibling, which is renamed to `dir` only when it
 * succeeds. A failure or an interruption removes the temporary; `dir` is untouched until the final swap.
 */
export async function writeDirAtomic(dir: string, fill: (tmp: string) => Promise<void>, opts: WriteDirOptions = {}): Promise<void> {
  const what = opts.what ?? 'output';
  const existing = await fsp.readdir(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(new Error(`${what}: cannot read '${dir}': ${fsReason(e)}`))));
  if (existing && existing.length > 0 && !(opts.replaceIf && (await opts.replaceIf(dir)))) {
    throw new Error(`${what}: '${dir}' exists, is not empty and is not an output robustify may replace`);
  }
  const tmp = tempSibling(dir);
  const owner = `${tmp}.owner`;
  const forget = onInterrupt(() => {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(owner, { force: true });
  });
  try {
    await fsp.mkdir(path.dirname(tmp), { recursive: true });
    await fsp.writeFile(owner, JSON.stringify({ pid: process.pid, host: os.hostname() }) + '\n');
    await fsp.mkdir(tmp);
    await fill(tmp);
    if (existing) {
      // rename(2) cannot replace a non-empty folder: move the old one aside, the new one in, then drop the old.
      const old = `${tmp}.old`;
      await fsp.rename(dir, old);
      await fsp.rename(tmp, dir);
      await fsp.rm(old, { recursive: true, force: true });
    } else {
      await fsp.rename(tmp, dir);
    }
    await fsp.rm(owner, { force: true });
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    await fsp.rm(owner, { force: true }).catch(() => undefined);
    throw writeError(dir, err);
  } finally {
    forget();
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the pid exists (another user's process).
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface StaleGroup {
  /** The output the run was writing (a name in the same folder). */
  target: string;
  pid: string;
  /** Which of `<tmp>`, `<tmp>.old`, `<tmp>.owner` exist ('', '.old', '.owner'). */
  parts: Set<string>;
}

/** Temporaries of dead robustify processes in `dir`, by the temporary's name. */
async function staleGroups(dir: string, only?: string): Promise<Map<string, StaleGroup>> {
  const names = await fsp.readdir(dir).catch(() => [] as string[]);
  const groups = new Map<string, StaleGroup>();
  for (const name of names) {
    const m = TMP_RE.exec(name);
    if (!m || (only !== undefined && m[1] !== only) || Number(m[2]) === process.pid || alive(Number(m[2]))) continue;
    const suffix = m[4] ?? '';
    const tmp = name.slice(0, name.length - suffix.length);
    const g = groups.get(tmp) ?? { target: m[1], pid: m[2], parts: new Set<string>() };
    g.parts.add(suffix);
    groups.set(tmp, g);
  }
  for (const [tmp, g] of groups) {
    // A folder is robustify's with its owner file (from this host); a lone file of that name is an atomic write's.
    const owned = g.parts.has('.owner')
      ? await fsp.readFile(path.join(dir, `${tmp}.owner`), 'utf8').then((t) => (JSON.parse(t) as { host?: string }).host === os.hostname(), () => false)
      : g.parts.size === 1 && g.parts.has('') && (await fsp.lstat(path.join(dir, tmp)).then((st) => st.isFile(), () => false));
    if (!owned) groups.delete(tmp);
  }
  return groups;
}

/**
 * Clear what killed robustify processes left in `dir` (all their temporaries, or only those for `only`, a name
 * inside `dir`). An output moved aside whose replacement never arrived is put back. Returns one line per
 * action, for the command to state.
 */
export async function clearStale(dir: string, only?: string): Promise<string[]> {
  const notes: string[] = [];
  const groups = [...(await staleGroups(dir, only))].sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [tmp, g] of groups) {
    const target = path.join(dir, g.target);
    if (g.parts.has('.old') && !(await fsp.lstat(target).then(() => true, () => false))) {
      await fsp.rename(path.join(dir, `${tmp}.old`), target);
      notes.push(`restored '${target}', which a killed run (pid ${g.pid}) was replacing`);
    }
    for (const part of g.parts) await fsp.rm(path.join(dir, tmp + part), { recursive: true, force: true });
    notes.push(`removed what a killed run (pid ${g.pid}) left unfinished of '${target}'`);
  }
  return notes;
}

/** `file`'s JSON has `format` equal to `format` (a robustify manifest); false when missing or unreadable. */
export async function hasFormat(file: string, format: string): Promise<boolean> {
  try {
    return (JSON.parse(await fsp.readFile(file, 'utf8')) as { format?: unknown }).format === format;
  } catch {
    return false;
  }
}
