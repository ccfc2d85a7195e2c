/**
 * The gallery's descriptors in memory as one row-major Float32Array, searched exactly (every row). 1:N over
 * 10⁵ 128-d descriptors is ~1.3·10⁷ multiply-adds: milliseconds in plain JS, so no approximate index.
 */

/** The best match of one identity for a query. */
export interface IdentityMatch {
  identity: string;
  /** The identity's nearest face. */
  face_id: number;
  /** Euclidean distance to that face. */
  distance: number;
}

export class DescriptorMatrix {
  private data: Float32Array;
  private faceIds: number[] = [];
  /** Per row: index into `names`. */
  private identityOf: Int32Array;
  private names: string[] = [];
  private nameIndex = new Map<string, number>();
  private rowOf = new Map<number, number>();

  constructor(readonly dim: number, capacity = 1024) {
    if (!(Number.isInteger(dim) && dim > 0)) throw new Error(`gallery matrix: dim must be a whole number > 0, got ${dim}`);
    this.data = new Float32Array(capacity * dim);
    this.identityOf = new Int32Array(capacity);
  }

  get size(): number {
    return this.faceIds.length;
  }

  /** Identities with at least one face. */
  get identities(): number {
    const seen = new Set<number>();
    for (let r = 0; r < this.size; r++) seen.add(this.identityOf[r]);
    return seen.size;
  }

  has(faceId: number): boolean {
    return this.rowOf.has(faceId);
  }

  /** Adds a face (ignored when `faceId` is already present: notifications may repeat a local write). */
  add(faceId: number, identity: string, descriptor: Float32Array): void {
    if (descriptor.length !== this.dim) throw new Error(`gallery matrix: descriptor of length ${descriptor.length}, expected ${this.dim}`);
    if (this.rowOf.has(faceId)) return;
    const row = this.size;
    if ((row + 1) * this.dim > this.data.length) this.grow();
    this.data.set(descriptor, row * this.dim);
    let id = this.nameIndex.get(identity);
    if (id === undefined) {
      id = this.names.push(identity) - 1;
      this.nameIndex.set(identity, id);
    }
    this.identityOf[row] = id;
    this.faceIds.push(faceId);
    this.rowOf.set(faceId, row);
  }

  /** Removes every face of `identity`; returns how many. */
  removeIdentity(identity: string): number {
    const id = this.nameIndex.get(identity);
    if (id === undefined) return 0;
    let removed = 0;
    for (let r = this.size - 1; r >= 0; r--) {
      if (this.identityOf[r] === id) {
        this.removeRow(r);
        removed++;
      }
    }
    return removed;
  }

  clear(): void {
    this.faceIds = [];
    this.rowOf.clear();
    this.names = [];
    this.nameIndex.clear();
  }

  /** The `k` nearest identities (each by its nearest face), nearest first. */
  search(query: Float32Array, k: number): IdentityMatch[] {
    if (query.length !== this.dim) throw new Error(`gallery matrix: query of length ${query.length}, expected ${this.dim}`);
    // Per identity index: its nearest row and squared distance (typed arrays: no allocation per row).
    const bestD = new Float64Array(this.names.length).fill(Infinity);
    const bestRow = new Int32Array(this.names.length).fill(-1);
    // The hot loop over every row, on locals (property reads per element cost more than the arithmetic);
    // four partial sums break the dependency chain of one accumulator (≈ 1.7× faster in V8).
    const { data, dim, identityOf } = this;
    const rows = this.size;
    const dim4 = dim - (dim % 4);
    for (let r = 0, off = 0; r < rows; r++, off += dim) {
      let d0 = 0;
      let d1 = 0;
      let d2 = 0;
      let d3 = 0;
      let j = 0;
      for (; j < dim4; j += 4) {
        const t0 = query[j] - data[off + j];
        const t1 = query[j + 1] - data[off + j + 1];
        const t2 = query[j + 2] - data[off + j + 2];
        const t3 = query[j + 3] - data[off + j + 3];
        d0 += t0 * t0;
        d1 += t1 * t1;
        d2 += t2 * t2;
        d3 += t3 * t3;
      }
      for (; j < dim; j++) {
        const t = query[j] - data[off + j];
        d0 += t * t;
      }
      const d = d0 + d1 + d2 + d3;
      const id = identityOf[r];
      if (d < bestD[id]) {
        bestD[id] = d;
        bestRow[id] = r;
      }
    }
    const top: number[] = [];
    for (let id = 0; id < bestRow.length; id++) {
      if (bestRow[id] < 0) continue;
      // Insertion into a sorted list of at most k: O(n·k), k is small.
      if (top.length === k && bestD[id] >= bestD[top[k - 1]]) continue;
      let i = top.length === k ? k - 1 : top.length;
      while (i > 0 && bestD[top[i - 1]] > bestD[id]) {
        top[i] = top[i - 1];
        i--;
      }
      top[i] = id;
    }
    return top.map((id) => ({ identity: this.names[id], face_id: this.faceIds[bestRow[id]], distance: Math.sqrt(bestD[id]) }));
  }

  /** The nearest face of `identity`, or undefined when it has none. */
  nearestOf(query: Float32Array, identity: string): IdentityMatch | undefined {
    const id = this.nameIndex.get(identity);
    if (id === undefined) return undefined;
    let bestRow = -1;
    let bestD = Infinity;
    for (let r = 0; r < this.size; r++) {
      if (this.identityOf[r] !== id) continue;
      const d = this.squaredDistance(query, r);
      if (d < bestD) [bestD, bestRow] = [d, r];
    }
    return bestRow < 0 ? undefined : { identity, face_id: this.faceIds[bestRow], distance: Math.sqrt(bestD) };
  }

  /** A copy of the descriptors ([size, dim]) and each row's identity and face id. */
  snapshot(): { descriptors: Float32Array; identities: string[]; faceIds: number[] } {
    return {
      descriptors: this.data.slice(0, this.size * this.dim),
      identities: Array.from(this.identityOf.subarray(0, this.size), (i) => this.names[i]),
      faceIds: [...this.faceIds],
    };
  }

  private squaredDistance(q: Float32Array, row: number): number {
    const data = this.data;
    const off = row * this.dim;
    let s = 0;
    for (let j = 0; j < this.dim; j++) {
      const t = q[j] - data[off + j];
      s += t * t;
    }
    return s;
  }

  /** Moves the last row into `row` (order does not matter to an exact search). */
  private removeRow(row: number): void {
    const last = this.size - 1;
    this.rowOf.delete(this.faceIds[row]);
    if (row !== last) {
      this.data.copyWithin(row * this.dim, last * this.dim, (last + 1) * this.dim);
      this.identityOf[row] = this.identityOf[last];
      this.faceIds[row] = this.faceIds[last];
      this.rowOf.set(this.faceIds[row], row);
    }
    this.faceIds.pop();
  }

  private grow(): void {
    const rows = Math.max(1024, 2 * (this.data.length / this.dim));
    const data = new Float32Array(rows * this.dim);
    data.set(this.data);
    const ids = new Int32Array(rows);
    ids.set(this.identityOf);
    this.data = data;
    this.identityOf = ids;
  }
}
