/** The trivial task of bench/pools.ts: the payload back (what is left is the pools' dispatch cost). */
export function echo(p: unknown): unknown {
  return p;
}
