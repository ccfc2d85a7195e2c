/**
 * The gallery a server searches: its store (SQLite or PostgreSQL) and an in-memory descriptor matrix kept
 * equal to it — local writes update the matrix after they commit, other replicas' writes arrive as
 * notifications (PostgreSQL).
 */
import type { DescriptorModel } from '../descriptor-model.js';
import { DescriptorMatrix, type IdentityMatch } from './matrix.js';
import { openStore, type GalleryChange, type GalleryStore, type NewFace, type StoredFace } from './store.js';

export class Gallery {
  readonly matrix: DescriptorMatrix;
  /** A chain that serialises change handling, so a reload and an incremental change never interleave. */
  private applying: Promise<void> = Promise.resolve();

  private constructor(
    readonly store: GalleryStore,
    readonly model: DescriptorModel,
    private readonly onError: (e: Error) => void,
  ) {
    this.matrix = new DescriptorMatrix(model.dim);
  }

  /** Opens `location` (a file path or postgres:// URL), checks its model and loads every descriptor. */
  static async open(location: string, model: DescriptorModel, onError: (e: Error) => void = () => {}): Promise<Gallery> {
    const store = await openStore(location);
    try {
      await store.open(model);
      const g = new Gallery(store, model, onError);
      await store.subscribe?.({ change: (c) => g.enqueue(() => g.apply(c)), resync: () => g.enqueue(() => g.reload()) });
      await g.reload();
      return g;
    } catch (e) {
      await store.close().catch(() => {});
      throw e;
    }
  }

  get size(): number {
    return this.matrix.size;
  }

  async enrol(identity: string, faces: readonly NewFace[]): Promise<StoredFace[]> {
    const stored = await this.store.enrol(identity, faces);
    for (const f of stored) this.matrix.add(f.id, f.identity, f.descriptor);
    return stored;
  }

  async deleteIdentity(id: string): Promise<boolean> {
    const deleted = await this.store.deleteIdentity(id);
    this.matrix.removeIdentity(id);
    return deleted;
  }

  search(descriptor: Float32Array, k: number): IdentityMatch[] {
    return this.matrix.search(descriptor, k);
  }

  /** Waits until changes received so far are applied (tests, shutdown). */
  settled(): Promise<void> {
    return this.applying;
  }

  async close(): Promise<void> {
    await this.applying;
    await this.store.close();
  }

  private enqueue(work: () => Promise<void>): void {
    this.applying = this.applying.then(work).catch((e: Error) => this.onError(e));
  }

  private async apply(c: GalleryChange): Promise<void> {
    if (c.op === 'delete') {
      this.matrix.removeIdentity(c.identity);
      return;
    }
    const missing = c.ids.filter((id) => !this.matrix.has(id));
    for (const f of await this.store.faces(missing)) this.matrix.add(f.id, f.identity, f.descriptor);
  }

  private async reload(): Promise<void> {
    const faces = await this.store.allFaces();
    this.matrix.clear();
    for (const f of faces) this.matrix.add(f.id, f.identity, f.descriptor);
  }
}
