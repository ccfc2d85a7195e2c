/**
 * Text helpers shared by the renderers: escaping for HTML/SVG, deterministic number formatting, and a
 * text-width estimate for laying out SVG labels (there is no font measurement outside a browser).
 */

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML and SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]);
}

/**
 * A number as text with at most `maxDecimals` decimals, trailing zeros dropped, no exponent, and no
 * "-0": the same value always gives the same bytes. Non-finite values print as an em dash.
 */
export function formatNumber(value: number, maxDecimals = 4): string {
  if (!Number.isFinite(value)) return '—';
  const fixed = value.toFixed(maxDecimals);
  const trimmed = fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
  return trimmed === '-0' ? '0' : trimmed;
}

/** The font every SVG uses: DejaVu is what sharp (librsvg) finds on the machines we target. */
export const FONT_FAMILY = 'DejaVu Sans, Verdana, sans-serif';

/**
 * Approximate advance width of `text` in DejaVu Sans at `fontSize` px. Narrow and wide characters are
 * told apart so that labels of digits or capitals are neither clipped nor padded much.
 */
export function textWidth(text: string, fontSize: number): number {
  let em = 0;
  for (const ch of text) {
    if ('iljI.,:;!|\'`()[]{} '.includes(ch)) em += 0.32;
    else if ('mwMW@%'.includes(ch)) em += 0.9;
    else if (ch >= 'A' && ch <= 'Z') em += 0.7;
    else em += 0.62;
  }
  return em * fontSize;
}

/** `text` cut to fit `maxWidth` px, ending in an ellipsis when cut. */
export function fitText(text: string, fontSize: number, maxWidth: number): string {
  if (textWidth(text, fontSize) <= maxWidth) return text;
  const chars = Array.from(text);
  while (chars.length > 0 && textWidth(chars.join('') + '…', fontSize) > maxWidth) chars.pop();
  return chars.join('') + '…';
}
