/** `x` rounded to `digits` decimals, for reports and JSON (the study's results.json bytes depend on this form). */
export function roundTo(x: number, digits: number): number {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}
