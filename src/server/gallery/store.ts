/**
 * Gallery persistence: identities and their faces (descriptor, detector box and score, the descriptor model),
 * one transaction per enrolment. Two implementations with the same schema: SQLite (embedded, the default) and
 * PostgreSQL (shared by replicas, which follow each other's writes through LISTEN/NOTIFY).
 */
import type { DescriptorModel } from '../descriptor-model.js';

export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A face to store. */
export interface NewFace {
  descriptor: Float32Array;
  box: FaceBox;
  score: number;
}

export interface StoredFace {
  id: number;
  identity: string;
  descriptor: Float32Array;
  box: FaceBox;
  score: number;
  created_at: string;
}

export interface IdentityRecord {
  id: string;
  display_name: string | null;
  faces: number;
  created_at: string;
}

/** What changed, as another replica learns it. */
export type GalleryChange = { op: 'add'; ids: number[] } | { op: 'delete'; identity: string };

export interface ChangeListener {
  change(c: GalleryChange): void;
  /** Notifications may have been missed (the listening connection was lost and is back): reload everything. */
  resync(): void;
}

export interface GalleryStore {
  readonly kind: 'sqlite' | 'postgres';
  /** Creates the schema if needed; refuses a gallery whose descriptors come from another model. */
  open(model: DescriptorModel): Promise<void>;
  /** Stores `faces` under `identity` (created if new) in one transaction; the stored faces in order. */
  enrol(identity: string, faces: readonly NewFace[]): Promise<StoredFace[]>;
  /** Creates an identity without faces; false when it exists already. */
  createIdentity(id: string, displayName: string | null): Promise<boolean>;
  identities(): Promise<IdentityRecord[]>;
  identity(id: string): Promise<(IdentityRecord & { face_list: Omit<StoredFace, 'descriptor' | 'identity'>[] }) | undefined>;
  /** Deletes an identity and its faces; false when there was none. */
  deleteIdentity(id: string): Promise<boolean>;
  /** Every face (to fill the in-memory matrix). */
  allFaces(): Promise<StoredFace[]>;
  faces(ids: readonly number[]): Promise<StoredFace[]>;
  /** Follow other writers' changes (PostgreSQL only). */
  subscribe?(listener: ChangeListener): Promise<void>;
  /** Throws when the database cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** The schema, in the two dialects' types (columns, keys and order identical). */
export function schemaSql(dialect: 'sqlite' | 'postgres'): string[] {
  const pg = dialect === 'postgres';
  const now = pg ? 'now()' : "(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";
  const time = pg ? 'TIMESTAMPTZ' : 'TEXT';
  return [
    `CREATE TABLE IF NOT EXISTS gallery_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS identities (
       id TEXT PRIMARY KEY,
       display_name TEXT,
       created_at ${time} NOT NULL DEFAULT ${now})`,
    `CREATE TABLE IF NOT EXISTS faces (
       id ${pg ? 'BIGSERIAL PRIMARY KEY' : 'INTEGER PRIMARY KEY AUTOINCREMENT'},
       identity TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
       model TEXT NOT NULL,
       model_version TEXT NOT NULL,
       descriptor ${pg ? 'BYTEA' : 'BLOB'} NOT NULL,
       box_x REAL NOT NULL, box_y REAL NOT NULL, box_w REAL NOT NULL, box_h REAL NOT NULL,
       score REAL NOT NULL,
       created_at ${time} NOT NULL DEFAULT ${now})`,
    `CREATE INDEX IF NOT EXISTS faces_identity ON faces (identity)`,
  ];
}

/** Stored model names (meta row and faces) that are not `model`: the reason to refuse the gallery. */
export function modelMismatch(model: DescriptorModel, meta: { model?: string; version?: string }, faceModels: { model: string; model_version: string }[]): string | undefined {
  const want = `${model.id}@${model.version}`;
  const found = new Set<string>();
  if (meta.model !== undefined) found.add(`${meta.model}@${meta.version}`);
  for (const f of faceModels) found.add(`${f.model}@${f.model_version}`);
  found.delete(want);
  if (found.size === 0) return undefined;
  return `gallery: its descriptors were made by ${[...found].join(', ')}; this server computes ${want} (descriptors of different models cannot be compared)`;
}

export const descriptorBytes = (d: Float32Array): Buffer => Buffer.from(d.buffer, d.byteOffset, d.byteLength);

/** A BLOB/BYTEA back to a Float32Array (copied: the driver's buffer may be unaligned or pooled). */
export function descriptorOf(b: Buffer | Uint8Array): Float32Array {
  const out = new Float32Array(b.byteLength / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

/** Opens the store a `--gallery` value names: a postgres:// URL, or an SQLite file path. */
export async function openStore(location: string): Promise<GalleryStore> {
  if (/^postgres(ql)?:\/\//.test(location)) {
    const { PostgresStore } = await import('./postgres.js');
    return new PostgresStore(location);
  }
  const { SqliteStore } = await import('./sqlite.js');
  return new SqliteStore(location);
}
