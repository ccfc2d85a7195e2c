/**
 * The study's step cache: every step's result is stored under a key made of the step's name and a hash of
 * everything it depends on (its parameters and the keys of the steps it reads). A killed run finds what it
 * had finished; a changed parameter changes only the keys that depend on it. Entries are written atomically.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { writeDirAtomic, writeFileAtomic } from '../util/fs.js';

/** JSON with object keys sorted, so that equal inputs hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && !ArrayBuffer.isView(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export function hashOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/** A cache entry that cannot be read back: named, with what to do (the cache is ours, so removing it is safe). */
function corrupt(file: string, why: string): Error {
  return new Error(`study cache: '${file}' is corrupt (${why}); delete it to have the step recomputed`);
}

export interface CacheStats {
  reused: string[];
  computed: string[];
}

export class StepCache {
  readonly stats: CacheStats = { reused: [], computed: [] };

  constructor(readonly root: string) {}

  /** `step-<hash of inputs>`: the name of a cache entry. */
  key(step: string, inputs: unknown): string {
    return `${step}-${hashOf(inputs)}`;
  }

  private note(key: string, reused: boolean): void {
    (reused ? this.stats.reused : this.stats.computed).push(key);
  }

  /** A JSON result, computed once per key. */
  async json<T>(key: string, compute: () => Promise<T>): Promise<T> {
    const file = path.join(this.root, `${key}.json`);
    const text = await fsp.readFile(file, 'utf8').catch(() => undefined);
    if (text !== undefined) {
      let value: T;
      try {
        value = JSON.parse(text) as T;
      } catch (err) {
        throw corrupt(file, (err as Error).message);
      }
      this.note(key, true);
      return value;
    }
    const value = await compute();
    await fsp.mkdir(this.root, { recursive: true });
    await writeFileAtomic(file, JSON.stringify(value) + '\n');
    this.note(key, false);
    return value;
  }

  /** A directory result (e.g. a trained model), filled once per key; returns its path. */
  async dir(key: string, fill: (tmp: string) => Promise<void>): Promise<string> {
    const dir = path.join(this.root, key);
    const done = await fsp.readdir(dir).then((e) => e.length > 0, () => false);
    if (done) {
      this.note(key, true);
      return dir;
    }
    await fsp.mkdir(this.root, { recursive: true });
    await writeDirAtomic(dir, fill, { replace: true, what: 'study cache' });
    this.note(key, false);
    return dir;
  }

  /**
   * A binary result (raw float32 images), computed once per key. A stored entry of the wrong `length` (when
   * given) or with a non-finite value is reported as corrupt, naming its file.
   */
  async floats(key: string, compute: () => Promise<Float32Array>, length?: number): Promise<Float32Array> {
    const file = path.join(this.root, `${key}.f32`);
    const buf = await fsp.readFile(file).catch(() => undefined);
    if (buf !== undefined) {
      if (buf.byteLength % 4 !== 0 || (length !== undefined && buf.byteLength !== length * 4)) {
        throw corrupt(file, `${buf.byteLength} bytes${length === undefined ? ' is not a whole number of float32 values' : `, expected ${length * 4}`}`);
      }
      const value = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
      const bad = value.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0) throw corrupt(file, `value ${value[bad]} at index ${bad}`);
      this.note(key, true);
      return value;
    }
    const value = await compute();
    await this.putFloats(key, value);
    return value;
  }

  async hasFloats(key: string): Promise<boolean> {
    return fsp.access(path.join(this.root, `${key}.f32`)).then(() => true, () => false);
  }

  /** Store a binary result computed outside `floats` (e.g. several iterates of one attack). */
  async putFloats(key: string, value: Float32Array): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true });
    await writeFileAtomic(path.join(this.root, `${key}.f32`), new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
    this.note(key, false);
  }
}
