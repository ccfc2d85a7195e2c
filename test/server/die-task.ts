/** A pool task that ends its worker thread (what a crashing worker looks like to the pool). */
export function die(): never {
  process.exit(3);
}
