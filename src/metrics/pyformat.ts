/**
 * Python's float formatting, so printed reports match scikit-learn's character for character.
 * JS `toFixed` rounds exact binary ties away from zero (0.125 → "0.13"); Python rounds them to even ("0.12").
 */

/** `x` as mantissa·2^exponent with an integer mantissa (|mantissa| < 2^53). */
function decompose(x: number): { mantissa: number; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, Math.abs(x));
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = hi >>> 20;
  const fraction = (hi & 0xfffff) * 0x100000000 + lo;
  return biased === 0 ? { mantissa: fraction, exponent: -1074 } : { mantissa: fraction + 2 ** 52, exponent: biased - 1075 };
}

/** True when x·10^digits lies exactly halfway between two integers. */
function isExactTie(x: number, digits: number): boolean {
  if (x === 0) return false;
  let { mantissa, exponent } = decompose(x);
  // x·10^d·2 = mantissa·5^d·2^(exponent+d+1) is an odd integer iff the power of two cancels exactly.
  let twos = 0;
  while (mantissa % 2 === 0) {
    mantissa /= 2;
    twos++;
  }
  return twos + digits + 1 === -exponent;
}

/** Python's `format(x, '.{digits}f')`. */
export function formatFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  // toFixed switches to exponent notation from 1e21; such doubles are integers, which BigInt prints exactly.
  if (Math.abs(x) >= 1e21) return `${BigInt(x)}${digits > 0 ? `.${'0'.repeat(digits)}` : ''}`;
  const s = x.toFixed(digits);
  if (!isExactTie(x, digits)) return s;
  // On a tie toFixed took the neighbour of larger magnitude; when that one is odd, the even one is 1 ulp below.
  const last = s.charCodeAt(s.length - 1) - 48;
  return last % 2 === 1 ? s.slice(0, -1) + String(last - 1) : s;
}

/** Python's `repr(float)`: shortest round-trip digits, fixed notation for 1e-4 ≤ |x| < 1e16, else e±XX. */
export function formatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mant, expText] = Math.abs(x).toExponential().split('e');
  const digits = mant.replace('.', '');
  const exp = Number(expText);
  if (exp < -4 || exp >= 16) {
    const frac = digits.length > 1 ? `.${digits.slice(1)}` : '';
    return `${sign}${digits[0]}${frac}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  const whole = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  return `${sign}${whole}.${digits.slice(exp + 1) || '0'}`;
}
