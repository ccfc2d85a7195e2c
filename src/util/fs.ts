/**
 * File-system helpers shared by every module that writes outputs.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';

/**
 * Write `data` to `file` so that readers see either the old file or the complete new one, never half of it:
 * the bytes go to a temporary file in the same directory (same file system, so `rename` is atomic) which then
 * replaces the target. On failure the temporary file is removed and the target is untouched.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
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
    throw err;
  }
}

/**
 * Build a directory atomically: `fill` writes into a temporary sibling, which is renamed to `dir` only when it
 * succeeds. An existing non-empty `dir` is refused unless `replace`, in which case it is swapped out and removed.
 */
export async function writeDirAtomic(dir: string, fill: (tmp: string) => Promise<void>, opts: { replace?: boolean; what?: string } = {}): Promise<void> {
  const what = opts.what ?? 'output';
  const existing = await fsp.readdir(dir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : Promise.reject(e)));
  if (existing && existing.length > 0 && !opts.replace) throw new Error(`${what}: '${dir}' exists and is not empty (use --force to replace it)`);
  await fsp.mkdir(path.dirname(path.resolve(dir)), { recursive: true });
  const tmp = path.join(path.dirname(path.resolve(dir)), `.${path.basename(dir)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  await fsp.mkdir(tmp);
  try {
    await fill(tmp);
    if (existing) {
      const old = `${tmp}.old`;
      await fsp.rename(dir, old);
      await fsp.rename(tmp, dir);
      await fsp.rm(old, { recursive: true, force: true });
    } else {
      await fsp.rename(tmp, dir);
    }
  } catch (err) {
    await fsp.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}
