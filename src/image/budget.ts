/**
 * The memory budgets of image decoding, shared by every decoder entry point: a pixel budget checked from the
 * header before any pixel is decoded (a decompression bomb is refused while it is still a few hundred bytes),
 * and a byte budget that bounds how many decodes run at once by what they need, not by a fixed count.
 */
import os from 'node:os';

/** Images above this many pixels are refused unless the caller raises `maxPixels` (6324² ≈ a 40 MP camera). */
export const DEFAULT_MAX_PIXELS = 40_000_000;

/**
 * Bytes one decode holds at its peak, per pixel: libvips' decoded buffer (up to 4 bands × 16 bits), the
 * 8-bit RGB(A) copy handed to JS, and the float32 RGB image.
 */
const BYTES_PER_PIXEL = 4 * 2 + 4 + 3 * 4;

export function decodeBytes(width: number, height: number): number {
  return width * height * BYTES_PER_PIXEL;
}

/**
 * A FIFO counting semaphore over bytes. A request larger than the whole budget still runs, alone, so a single
 * image within the pixel budget is never refused for memory.
 */
export class ByteBudget {
  private used = 0;
  private readonly waiting: { bytes: number; resolve: () => void }[] = [];

  constructor(readonly limit: number) {
    if (!(Number.isFinite(limit) && limit > 0)) throw new Error(`ByteBudget: limit must be > 0, got ${limit}`);
  }

  /** Bytes currently held (for tests and diagnostics). */
  get inUse(): number {
    return this.used;
  }

  async run<T>(bytes: number, fn: () => Promise<T>): Promise<T> {
    await this.acquire(bytes);
    try {
      return await fn();
    } finally {
      this.release(bytes);
    }
  }

  private fits(bytes: number): boolean {
    return this.used === 0 || this.used + bytes <= this.limit;
  }

  private acquire(bytes: number): Promise<void> {
    if (this.waiting.length === 0 && this.fits(bytes)) {
      this.used += bytes;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push({ bytes, resolve }));
  }

  private release(bytes: number): void {
    this.used -= bytes;
    while (this.waiting.length > 0 && this.fits(this.waiting[0].bytes)) {
      const next = this.waiting.shift()!;
      this.used += next.bytes;
      next.resolve();
    }
  }
}

/** The process-wide decode budget: an eighth of the machine's memory, between 256 MiB and 2 GiB. */
export const decodeMemory = new ByteBudget(Math.min(2 ** 31, Math.max(2 ** 28, Math.floor(os.totalmem() / 8))));
