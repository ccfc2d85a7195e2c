/** What a table cell prints and how each column aligns: shared by the HTML and Markdown renderers. */
import type { Alignment, Cell, TableBlock } from './document.js';
import { formatNumber } from './text.js';

/** Numbers print with at most 4 decimals (pass a string to control the format, e.g. `0.90`). */
export function cellText(cell: Cell): string {
  return typeof cell === 'number' ? formatNumber(cell) : cell;
}

// Numbers as reports print them: signs, thousands separators, decimals, a trailing percent sign; dashes mark gaps.
const NUMERIC = /^[-+−]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?\s*%?$/;
const GAP = /^(|—|–|-|n\/a)$/;

function isNumeric(cell: Cell): boolean {
  if (typeof cell === 'number') return true;
  const s = cell.trim();
  return /\d/.test(s) && NUMERIC.test(s);
}

/** The table's alignments: as given, else right for columns whose cells are all numbers (or gaps). */
export function columnAlignment(table: TableBlock): Alignment[] {
  if (table.align) return table.align;
  return table.columns.map((_, c) => {
    const cells = table.rows.map((row) => row[c]);
    const filled = cells.filter((cell) => !(typeof cell === 'string' && GAP.test(cell.trim())));
    return filled.length > 0 && filled.every(isNumeric) ? 'right' : 'left';
  });
}
