/** The embedded gallery: one SQLite file (better-sqlite3), WAL, full sync, one transaction per enrolment. */
import Database from 'better-sqlite3';
import type { DescriptorModel } from '../descriptor-model.js';
import { descriptorBytes, descriptorOf, modelMismatch, schemaSql, type GalleryStore, type IdentityRecord, type NewFace, type StoredFace } from './store.js';

export interface FaceRow {
  id: number;
  identity: string;
  descriptor: Buffer;
  box_x: number;
  box_y: number;
  box_w: number;
  box_h: number;
  score: number;
  /** TEXT in SQLite, TIMESTAMPTZ (a Date) in PostgreSQL. */
  created_at: string | Date;
}

const FACE_COLUMNS = 'id, identity, descriptor, box_x, box_y, box_w, box_h, score, created_at';

export function faceOfRow(r: FaceRow): StoredFace {
  return {
    id: Number(r.id),
    identity: r.identity,
    descriptor: descriptorOf(r.descriptor),
    box: { x: r.box_x, y: r.box_y, width: r.box_w, height: r.box_h },
    score: r.score,
    created_at: r.created_at instanceof Date ? r.created_at.toISOString() : r.created_at,
  };
}

export class SqliteStore implements GalleryStore {
  readonly kind = 'sqlite';
  private db: Database.Database | undefined;
  private model: DescriptorModel | undefined;

  constructor(readonly file: string) {}

  async open(model: DescriptorModel): Promise<void> {
    let db: Database.Database;
    try {
      db = new Database(this.file);
    } catch (e) {
      throw new Error(`gallery: cannot open SQLite file '${this.file}': ${(e as Error).message}`);
    }
    try {
      db.pragma('journal_mode = WAL');
      // FULL: a transaction is on disk when it is acknowledged (NORMAL survives kill -9 but not power loss).
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      db.transaction(() => {
        for (const s of schemaSql('sqlite')) db.exec(s);
        const ins = db.prepare('INSERT OR IGNORE INTO gallery_meta (key, value) VALUES (?, ?)');
        ins.run('model', model.id);
        ins.run('model_version', model.version);
      })();
      const meta = Object.fromEntries((db.prepare('SELECT key, value FROM gallery_meta').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
      const faceModels = db.prepare('SELECT DISTINCT model, model_version FROM faces').all() as { model: string; model_version: string }[];
      const bad = modelMismatch(model, { model: meta.model, version: meta.model_version }, faceModels);
      if (bad) throw new Error(bad);
    } catch (e) {
      db.close();
      throw e;
    }
    this.db = db;
    this.model = model;
  }

  private get conn(): Database.Database {
    if (!this.db) throw new Error('gallery: the SQLite store is not open');
    return this.db;
  }

  async enrol(identity: string, faces: readonly NewFace[]): Promise<StoredFace[]> {
    const db = this.conn;
    const model = this.model!;
    const insertFace = db.prepare(
      `INSERT INTO faces (identity, model, model_version, descriptor, box_x, box_y, box_w, box_h, score) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${FACE_COLUMNS}`,
    );
    return db.transaction(() => {
      db.prepare('INSERT OR IGNORE INTO identities (id) VALUES (?)').run(identity);
      return faces.map((f) => faceOfRow(insertFace.get(identity, model.id, model.version, descriptorBytes(f.descriptor), f.box.x, f.box.y, f.box.width, f.box.height, f.score) as FaceRow));
    })();
  }

  async createIdentity(id: string, displayName: string | null): Promise<boolean> {
    return this.conn.prepare('INSERT OR IGNORE INTO identities (id, display_name) VALUES (?, ?)').run(id, displayName).changes === 1;
  }

  async identities(): Promise<IdentityRecord[]> {
    return this.conn
      .prepare('SELECT i.id, i.display_name, i.created_at, COUNT(f.id) AS faces FROM identities i LEFT JOIN faces f ON f.identity = i.id GROUP BY i.id ORDER BY i.id')
      .all() as IdentityRecord[];
  }

  async identity(id: string): Promise<(IdentityRecord & { face_list: Omit<StoredFace, 'descriptor' | 'identity'>[] }) | undefined> {
    const rec = this.conn.prepare('SELECT id, display_name, created_at FROM identities WHERE id = ?').get(id) as Omit<IdentityRecord, 'faces'> | undefined;
    if (!rec) return undefined;
    const faces = (this.conn.prepare(`SELECT ${FACE_COLUMNS} FROM faces WHERE identity = ? ORDER BY id`).all(id) as FaceRow[]).map(faceOfRow);
    return { ...rec, faces: faces.length, face_list: faces.map(({ id, box, score, created_at }) => ({ id, box, score, created_at })) };
  }

  async deleteIdentity(id: string): Promise<boolean> {
    return this.conn.prepare('DELETE FROM identities WHERE id = ?').run(id).changes === 1;
  }

  async allFaces(): Promise<StoredFace[]> {
    return (this.conn.prepare(`SELECT ${FACE_COLUMNS} FROM faces ORDER BY id`).all() as FaceRow[]).map(faceOfRow);
  }

  async faces(ids: readonly number[]): Promise<StoredFace[]> {
    const get = this.conn.prepare(`SELECT ${FACE_COLUMNS} FROM faces WHERE id = ?`);
    return ids.map((i) => get.get(i) as FaceRow | undefined).filter((r): r is FaceRow => r !== undefined).map(faceOfRow);
  }

  async ping(): Promise<void> {
    this.conn.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.db?.close();
    this.db = undefined;
  }
}
