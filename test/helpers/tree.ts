/** Every file of a folder, for byte-for-byte comparisons of outputs. */
import { promises as fsp } from 'node:fs';
import path from 'node:path';

/** Every file under `dir` (relative path → bytes). */
export async function fileTree(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of (await fsp.readdir(dir, { recursive: true, withFileTypes: true })).filter((f) => f.isFile())) {
    const file = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    out.set(path.relative(dir, file), await fsp.readFile(file));
  }
  return out;
}

/** Whether two folders hold the same files with the same bytes; the first difference, or undefined. */
export async function treeDifference(a: string, b: string): Promise<string | undefined> {
  const [x, y] = await Promise.all([fileTree(a), fileTree(b)]);
  const names = [...new Set([...x.keys(), ...y.keys()])].sort();
  for (const n of names) {
    if (!x.has(n) || !y.has(n)) return `${n}: only in ${x.has(n) ? a : b}`;
    if (!x.get(n)!.equals(y.get(n)!)) return `${n}: other bytes`;
  }
  return undefined;
}
