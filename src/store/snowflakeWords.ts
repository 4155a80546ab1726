import type { Snowflake } from '../contract/snowflake.ts';

/**
 * Snowflakes as two uint32 words (hi, lo), the form the hot tier keeps in typed arrays. Parsing allocates
 * nothing, so a lookup by decimal id leaves no garbage behind; formatting allocates the string it returns.
 */

const TWO_32 = 4294967296;
/** Below 2^53 a double holds the value exactly: hi below 2^21. */
const EXACT_HI_LIMIT = 0x200000;

/**
 * Writes the high word of `digits` to `out[offset]` and the low word to `out[offset + 1]`. `digits` must be a
 * valid snowflake already (`isSnowflake`): 1-20 decimal digits, at most 2^64 − 1. Anything else gives
 * meaningless words, not an error: this sits on the lookup path and the API validated the id on the way in.
 */
export function parseSnowflakeInto(digits: Snowflake, out: Uint32Array, offset = 0): void {
  const length = digits.length;
  let hi = 0;
  let lo = 0;
  // Four digits at a time in small-integer arithmetic, then one carry step per chunk: lo·10^4 + chunk < 2^46
  // and hi·10^4 + carry < 2^32 for any value below 2^64, so every step is exact in doubles. The first chunk takes
  // the length mod 4 digits (or 4), so the rest take exactly 4; it meets hi = lo = 0, so its scale is moot.
  let i = 0;
  for (let end = length % 4 || 4; i < length; end += 4) {
    let chunk = 0;
    for (; i < end; i++) chunk = chunk * 10 + (digits.charCodeAt(i) - 48);
    const next = lo * 10000 + chunk;
    lo = next >>> 0;
    hi = hi * 10000 + (next - lo) / TWO_32;
  }
  out[offset] = hi;
  out[offset + 1] = lo;
}

/** The decimal string of the uint64 `hi · 2^32 + lo`. */
export function formatSnowflakeWords(hi: number, lo: number): Snowflake {
  if (hi < EXACT_HI_LIMIT) return String(hi * TWO_32 + lo);
  // value = q·10^9 + r by long division by 10^9, starting from hi and bringing down lo in two 16-bit limbs:
  // each partial remainder·2^16 + limb is below 10^9·2^16 < 2^53, and q < 2^64 / 10^9 < 2^35, so all is exact.
  let r = hi;
  const q2 = Math.floor(r / 1e9);
  r = (r - q2 * 1e9) * 65536 + (lo >>> 16);
  const q1 = Math.floor(r / 1e9);
  r = (r - q1 * 1e9) * 65536 + (lo & 0xffff);
  const q0 = Math.floor(r / 1e9);
  r -= q0 * 1e9;
  const q = (q2 * 65536 + q1) * 65536 + q0;
  // The value is at least 2^53 here, so q ≥ 1 and the low nine digits keep their leading zeros.
  return `${q}${String(r).padStart(9, '0')}`;
}

/** Negative, zero or positive as (aHi, aLo) is below, equal to or above (bHi, bLo), both unsigned. */
export function compareWords(aHi: number, aLo: number, bHi: number, bLo: number): number {
  return aHi !== bHi ? aHi - bHi : aLo - bLo;
}
