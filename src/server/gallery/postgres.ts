/**
 * The shared gallery: PostgreSQL (pg), the SQLite schema in PostgreSQL types. Every write notifies the
 * `robustify_gallery` channel inside its transaction (delivered on commit, never for a rolled-back write), so
 * replicas that LISTEN update their in-memory matrix; a replica whose listening connection drops reconnects
 * and reloads everything (it may have missed notifications meanwhile).
 */
import pg from 'pg';
import type { DescriptorModel } from '../descriptor-model.js';
import { faceOfRow } from './sqlite.js';
import { descriptorBytes, modelMismatch, schemaSql, type ChangeListener, type GalleryChange, type GalleryStore, type IdentityRecord, type NewFace, type StoredFace } from './store.js';

export const CHANNEL = 'robustify_gallery';
const FACE_COLUMNS = 'id, identity, descriptor, box_x, box_y, box_w, box_h, score, created_at';
/** Serialises schema creation among replicas starting together. */
const SCHEMA_LOCK = 0x726f6275;

/** Reconnect back-off of the listening connection: 100 ms doubling to 2 s. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

export class PostgresStore implements GalleryStore {
  readonly kind = 'postgres';
  private readonly pool: pg.Pool;
  private model: DescriptorModel | undefined;
  private listener: pg.Client | undefined;
  private changes: ChangeListener | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(readonly url: string) {
    this.pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5000 });
    // An idle client losing its server (a restart) must not crash the process; the pool replaces it.
    this.pool.on('error', () => {});
    // So does a checked-out client's (its pending query rejects, and the write is reported unavailable).
    this.pool.on('connect', (client) => client.on('error', () => {}));
  }

  async open(model: DescriptorModel): Promise<void> {
    const c = await this.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK]);
      for (const s of schemaSql('postgres')) await c.query(s);
      await c.query('INSERT INTO gallery_meta (key, value) VALUES ($1, $2), ($3, $4) ON CONFLICT (key) DO NOTHING', ['model', model.id, 'model_version', model.version]);
      await c.query('COMMIT');
      const meta = Object.fromEntries((await c.query<{ key: string; value: string }>('SELECT key, value FROM gallery_meta')).rows.map((r) => [r.key, r.value]));
      const faceModels = (await c.query<{ model: string; model_version: string }>('SELECT DISTINCT model, model_version FROM faces')).rows;
      const bad = modelMismatch(model, { model: meta.model, version: meta.model_version }, faceModels);
      if (bad) throw new Error(bad);
      this.model = model;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (e) {
      throw new GalleryUnavailable(`gallery: cannot reach PostgreSQL (${(e as Error).message})`);
    }
  }

  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
    const c = await this.connect();
    try {
      return (await c.query<R>(text, values)).rows;
    } catch (e) {
      throw unavailableOr(e);
    } finally {
      c.release();
    }
  }

  /** Runs `work` in one transaction, then tells the other replicas `change(result)`. */
  private async write<T>(work: (c: pg.PoolClient) => Promise<T>, change: (result: T) => GalleryChange | undefined): Promise<T> {
    const c = await this.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      const result = await work(c);
      const ch = change(result);
      if (ch) await c.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify(ch)]);
      await c.query('COMMIT');
      return result;
    } catch (e) {
      broken = e as Error;
      await c.query('ROLLBACK').catch(() => {});
      throw unavailableOr(e);
    } finally {
      // A connection that failed mid-transaction is discarded, not returned to the pool.
      c.release(broken && isConnectionError(broken) ? broken : undefined);
    }
  }

  async enrol(identity: string, faces: readonly NewFace[]): Promise<StoredFace[]> {
    const model = this.model!;
    return this.write(
      async (c) => {
        await c.query('INSERT INTO identities (id) VALUES ($1) ON CONFLICT (id) DO NOTHING', [identity]);
        const out: StoredFace[] = [];
        for (const f of faces) {
          const { rows } = await c.query(
            `INSERT INTO faces (identity, model, model_version, descriptor, box_x, box_y, box_w, box_h, score) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${FACE_COLUMNS}`,
            [identity, model.id, model.version, descriptorBytes(f.descriptor), f.box.x, f.box.y, f.box.width, f.box.height, f.score],
          );
          out.push(faceOfRow(rows[0]));
        }
        return out;
      },
      (stored) => ({ op: 'add', ids: stored.map((f) => f.id) }),
    );
  }

  async createIdentity(id: string, displayName: string | null): Promise<boolean> {
    const rows = await this.query('INSERT INTO identities (id, display_name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING RETURNING id', [id, displayName]);
    return rows.length === 1;
  }

  async identities(): Promise<IdentityRecord[]> {
    const rows = await this.query<IdentityRecord & { created_at: Date }>(
      'SELECT i.id, i.display_name, i.created_at, COUNT(f.id)::int AS faces FROM identities i LEFT JOIN faces f ON f.identity = i.id GROUP BY i.id ORDER BY i.id',
    );
    return rows.map((r) => ({ ...r, created_at: new Date(r.created_at).toISOString() }));
  }

  async identity(id: string): Promise<(IdentityRecord & { face_list: Omit<StoredFace, 'descriptor' | 'identity'>[] }) | undefined> {
    const recs = await this.query<{ id: string; display_name: string | null; created_at: Date }>('SELECT id, display_name, created_at FROM identities WHERE id = $1', [id]);
    if (recs.length === 0) return undefined;
    const faces = (await this.query(`SELECT ${FACE_COLUMNS} FROM faces WHERE identity = $1 ORDER BY id`, [id])).map((r) => faceOfRow(r as never));
    return {
      id: recs[0].id,
      display_name: recs[0].display_name,
      created_at: new Date(recs[0].created_at).toISOString(),
      faces: faces.length,
      face_list: faces.map(({ id: fid, box, score, created_at }) => ({ id: fid, box, score, created_at })),
    };
  }

  async deleteIdentity(id: string): Promise<boolean> {
    return this.write(
      async (c) => ((await c.query('DELETE FROM identities WHERE id = $1', [id])).rowCount ?? 0) > 0,
      (deleted) => (deleted ? { op: 'delete', identity: id } : undefined),
    );
  }

  async allFaces(): Promise<StoredFace[]> {
    return (await this.query(`SELECT ${FACE_COLUMNS} FROM faces ORDER BY id`)).map((r) => faceOfRow(r as never));
  }

  async faces(ids: readonly number[]): Promise<StoredFace[]> {
    if (ids.length === 0) return [];
    return (await this.query(`SELECT ${FACE_COLUMNS} FROM faces WHERE id = ANY($1::bigint[]) ORDER BY id`, [ids])).map((r) => faceOfRow(r as never));
  }

  async subscribe(listener: ChangeListener): Promise<void> {
    this.changes = listener;
    await this.listen();
  }

  /** One listening connection; when it is lost, `relisten` retries with back-off and then resyncs. */
  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5000 });
    let lost = false;
    const onLost = (): void => {
      if (lost) return;
      lost = true;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (this.listener === client) this.listener = undefined;
      this.relisten(RETRY_MIN_MS);
    };
    client.on('error', onLost);
    client.on('notification', (n) => {
      if (n.channel !== CHANNEL || !n.payload) return;
      let change: GalleryChange;
      try {
        change = JSON.parse(n.payload) as GalleryChange;
      } catch {
        this.changes?.resync();
        return;
      }
      this.changes?.change(change);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (e) {
      lost = true;
      client.end().catch(() => {});
      throw unavailableOr(e);
    }
    client.on('end', onLost);
    if (this.closed) {
      lost = true;
      await client.end().catch(() => {});
      return;
    }
    this.listener = client;
  }

  private relisten(delay: number): void {
    if (this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.listen().then(
        () => this.changes?.resync(),
        () => this.relisten(Math.min(2 * delay, RETRY_MAX_MS)),
      );
    }, delay);
  }

  async ping(): Promise<void> {
    await this.query('SELECT 1');
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    const l = this.listener;
    this.listener = undefined;
    if (l) {
      l.removeAllListeners();
      l.on('error', () => {});
      await l.end().catch(() => {});
    }
    await this.pool.end();
  }
}

/** The database cannot be reached now (maps to 503: the write was not acknowledged, retry later). */
export class GalleryUnavailable extends Error {}

function isConnectionError(e: Error): boolean {
  const code = (e as { code?: string }).code ?? '';
  // Class 08 (connection exception), 57P0x (admin shutdown, crash shutdown, cannot connect now), socket errors.
  return /^08|^57P0/.test(code) || /ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT/.test(code) || /Connection terminated|not queryable|ended/i.test(e.message);
}

function unavailableOr(e: unknown): Error {
  const err = e as Error;
  if (err instanceof GalleryUnavailable) return err;
  if (isConnectionError(err)) return new GalleryUnavailable(`gallery: PostgreSQL connection lost (${err.message.split('\n')[0]})`);
  return err;
}
