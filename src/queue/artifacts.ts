/**
 * The artifact store: content-addressed bytes that travel between the coordinator and the workers (the head's
 * files, a batch's clean images, its adversarial iterates), so no filesystem is shared. Small objects live in
 * Redis; objects above a threshold go to the large-object store when one is configured (a directory on a
 * volume every machine mounts). The address is the SHA-256 of the bytes, checked on every read. Objects in
 * Redis expire a TTL after their last write, read or touch (default 7 days; 0: never); the directory store
 * is the user's volume and nothing in it is ever deleted.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { writeFileAtomic } from '../util/fs.js';

/** A float array's bytes (a view, no copy). */
const floatBytes = (values: Float32Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

/** The address `putFloats` gives `values`. */
export const floatsAddress = (values: Float32Array): string => contentHash(floatBytes(values));

export function contentHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export interface ArtifactStore {
  /** Store the bytes (a no-op when they are there); their address. */
  put(bytes: Uint8Array): Promise<string>;
  /** The bytes at an address, or undefined when this store does not hold them. */
  find(hash: string): Promise<Uint8Array | undefined>;
  /** Keep an object that is still needed (a store whose objects expire restarts its clock). */
  touch?(hash: string): Promise<void>;
}

/** An object the stores do not hold (never written, or expired): the coordinator computes its job again. */
export class ArtifactMissing extends Error {}

/** Seven days: a campaign's objects outlive any pause of it; a forgotten one's leave Redis by themselves. */
export const DEFAULT_ARTIFACT_TTL = 7 * 24 * 3600;

/** The bytes as a plain Uint8Array (not a Buffer), once their hash is checked. */
function checked(hash: string, buf: Buffer, where: string): Uint8Array {
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  if (contentHash(bytes) !== hash) throw new Error(`artifact store: ${where} holds bytes that do not hash to ${hash} (corrupt)`);
  return bytes;
}

const HASH_RE = /^[0-9a-f]{64}$/;
function checkAddress(hash: string): void {
  if (!HASH_RE.test(hash)) throw new Error(`artifact store: '${hash}' is not an artifact address`);
}

/** Objects as Redis keys, each expiring `ttlSeconds` after its last write, read or touch (0: never). */
export class RedisArtifacts implements ArtifactStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'robustify:artifact:',
    readonly ttlSeconds = DEFAULT_ARTIFACT_TTL,
  ) {}

  async put(bytes: Uint8Array): Promise<string> {
    const hash = contentHash(bytes);
    const value = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (this.ttlSeconds <= 0) await this.redis.set(this.prefix + hash, value, 'NX');
    else if ((await this.redis.set(this.prefix + hash, value, 'EX', this.ttlSeconds, 'NX')) === null) await this.touch(hash);
    return hash;
  }

  async find(hash: string): Promise<Uint8Array | undefined> {
    checkAddress(hash);
    const buf = await this.redis.getBuffer(this.prefix + hash);
    if (buf) await this.touch(hash);
    return buf ? checked(hash, buf, `Redis key ${this.prefix}${hash}`) : undefined;
  }

  async touch(hash: string): Promise<void> {
    if (this.ttlSeconds > 0) await this.redis.expire(this.prefix + hash, this.ttlSeconds);
  }
}

/** A directory (on a volume shared by the machines): `<dir>/<first two hex digits>/<hash>`, written atomically. */
export class DirArtifacts implements ArtifactStore {
  constructor(readonly dir: string) {}

  private file(hash: string): string {
    return path.join(this.dir, hash.slice(0, 2), hash);
  }

  async put(bytes: Uint8Array): Promise<string> {
    const hash = contentHash(bytes);
    const file = this.file(hash);
    if (await fsp.access(file).then(() => true, () => false)) return hash;
    await fsp.mkdir(path.dirname(file), { recursive: true });
    await writeFileAtomic(file, bytes);
    return hash;
  }

  async find(hash: string): Promise<Uint8Array | undefined> {
    checkAddress(hash);
    const buf = await fsp.readFile(this.file(hash)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    return buf ? checked(hash, buf, `'${this.file(hash)}'`) : undefined;
  }
}

/** Redis for what is small, the large-object store (when there is one) for the rest; reads look in both. */
export class Artifacts {
  constructor(
    private readonly small: ArtifactStore,
    private readonly large?: ArtifactStore,
    readonly threshold = 1 << 20,
  ) {}

  put(bytes: Uint8Array): Promise<string> {
    return this.large && bytes.byteLength > this.threshold ? this.large.put(bytes) : this.small.put(bytes);
  }

  async get(hash: string, what: string): Promise<Uint8Array> {
    const bytes = (await this.small.find(hash)) ?? (await this.large?.find(hash));
    if (!bytes) throw new ArtifactMissing(`artifact store: ${what} (${hash.slice(0, 16)}…) is in no store${this.large ? '' : ' (no large-object store is configured here: --artifacts DIR)'}`);
    return bytes;
  }

  /** Keep a folder's manifest and files (a model every job of a long campaign needs) from expiring. */
  async touchDir(hash: string, what: string): Promise<void> {
    for (const h of Object.values(await this.getManifest(hash, what))) {
      await this.small.touch?.(h);
      await this.large?.touch?.(h);
    }
  }

  async putFloats(values: Float32Array): Promise<string> {
    return this.put(floatBytes(values));
  }

  async getFloats(hash: string, what: string, length: number): Promise<Float32Array> {
    const bytes = await this.get(hash, what);
    if (bytes.byteLength !== length * 4) throw new Error(`artifact store: ${what} has ${bytes.byteLength} bytes, expected ${length * 4}`);
    return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }

  /** A folder's files as one manifest artifact (name → address); returns the manifest's address. */
  async putDir(dir: string): Promise<string> {
    const files: Record<string, Uint8Array> = {};
    for (const name of (await fsp.readdir(dir)).sort()) files[name] = await fsp.readFile(path.join(dir, name));
    return this.putFiles(files);
  }

  /** Named files (flat names) as one manifest artifact; returns the manifest's address. */
  async putFiles(given: Record<string, Uint8Array>): Promise<string> {
    const files: Record<string, string> = {};
    for (const name of Object.keys(given).sort()) files[name] = await this.put(given[name]);
    return this.put(Buffer.from(JSON.stringify({ format: 'robustify-artifact-dir', files })));
  }

  /** The names and addresses a folder manifest lists (checked: flat names only). */
  async getManifest(hash: string, what: string): Promise<Record<string, string>> {
    const manifest = JSON.parse(Buffer.from(await this.get(hash, what)).toString('utf8')) as { format?: string; files?: Record<string, string> };
    if (manifest.format !== 'robustify-artifact-dir' || !manifest.files) throw new Error(`artifact store: ${what} (${hash.slice(0, 16)}…) is not a folder manifest`);
    for (const name of Object.keys(manifest.files)) {
      if (name.includes('/') || name.includes('\\') || name.startsWith('.')) throw new Error(`artifact store: ${what} names the file '${name}'`);
    }
    return manifest.files;
  }

  /** The files of the folder behind a manifest (name → bytes). */
  async getDir(hash: string, what: string): Promise<Record<string, Uint8Array>> {
    const out: Record<string, Uint8Array> = {};
    for (const [name, h] of Object.entries(await this.getManifest(hash, what))) out[name] = await this.get(h, `${what}/${name}`);
    return out;
  }
}
