/**
 * Pipeline search: every ordered pipeline of distinct candidate defences up to a length, scored on clean and
 * adversarial accuracy; ranked by adversarial accuracy among those that keep clean accuracy ≥ a bound, and
 * the clean-vs-adversarial Pareto front.
 */
import { formatPipeline, parsePipeline } from '../defences/index.js';

export interface SearchRow {
  pipeline: string;
  length: number;
  clean_accuracy: number;
  adversarial_accuracy: number;
}

/**
 * Ordered selections of distinct candidates, lengths 1..maxLength, depth-first (every pipeline right after
 * its prefix), so that an evaluator keeping prefix outputs applies each stage once per prefix.
 */
export function enumeratePipelines(candidates: readonly string[], maxLength: number): string[] {
  const out: string[] = [];
  const walk = (prefix: string[]) => {
    for (const c of candidates) {
      if (prefix.includes(c)) continue;
      const p = [...prefix, c];
      out.push(formatPipeline(p.flatMap((t) => parsePipeline(t))));
      if (p.length < maxLength) walk(p);
    }
  };
  walk([]);
  return out;
}

/** Higher adversarial accuracy first, then higher clean accuracy, then shorter, then by name (a total order). */
export function compareRows(a: SearchRow, b: SearchRow): number {
  return b.adversarial_accuracy - a.adversarial_accuracy || b.clean_accuracy - a.clean_accuracy || a.length - b.length || (a.pipeline < b.pipeline ? -1 : a.pipeline > b.pipeline ? 1 : 0);
}

/** The rows admissible under the clean bound, best first. */
export function rank(rows: readonly SearchRow[], minClean: number): SearchRow[] {
  return rows.filter((r) => r.clean_accuracy >= minClean).sort(compareRows);
}

/** Rows not dominated in (clean, adversarial) accuracy, by clean accuracy descending. Ties keep the shorter. */
export function paretoFront(rows: readonly SearchRow[]): SearchRow[] {
  const sorted = [...rows].sort((a, b) => b.clean_accuracy - a.clean_accuracy || compareRows(a, b));
  const front: SearchRow[] = [];
  let bestAdv = -Infinity;
  for (const r of sorted) {
    if (r.adversarial_accuracy > bestAdv) {
      front.push(r);
      bestAdv = r.adversarial_accuracy;
    }
  }
  return front;
}
