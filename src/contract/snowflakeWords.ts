import type { Snowflake } from './snowflake.ts';

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
export function parseSnowflakeInto(digits: Snowflake, out: Uint32Array | Int32Array, offset = 0): void {
  const length = digits.length;
  // value = high·10^9 + low, both exact: low takes the last 9 digits, high the rest (< 2^35). The two loops are
  // independent chains of small-integer steps, which the CPU runs side by side.
  const split = length > 9 ? length - 9 : 0;
  let high = 0;
  for (let i = 0; i < split; i++) high = high * 10 + (digits.charCodeAt(i) - 48);
  let low = 0;
  for (let i = split; i < length; i++) low = (low * 10 + (digits.charCodeAt(i) - 48)) | 0;
  // The low word exactly, in 32-bit arithmetic (high·10^9 mod 2^32 is Math.imul's). The double sum is within
  // 2^12 of the value, so the high word is the rounded quotient of what is left: the error is far below 2^31.
  const lo = (Math.imul(high, 1e9) + low) >>> 0;
  out[offset] = Math.round((high * 1e9 + low - lo) / TWO_32);
  out[offset + 1] = lo;
}

/** The decimal string of the uint64 `hi · 2^32 + lo` (either word may be given as int32: `| 0`). */
export function formatSnowflakeWords(hi: number, lo: number): Snowflake {
  hi >>>= 0;
  lo >>>= 0;
  if (hi < EXACT_HI_LIMIT) return String(hi * TWO_32 + lo);
  // value = q·10^9 + r. The double value is within 2^12 of the true one, so q is off by at most one; r then
  // follows exactly in 32-bit arithmetic (value − q·10^9 mod 2^32, which lies in (−10^9, 2·10^9)) and fixes q.
  let q = Math.floor((hi * TWO_32 + lo) / 1e9);
  let r = (lo - Math.imul(q, 1e9)) | 0;
  if (r < 0) {
    q -= 1;
    r += 1e9;
  } else if (r >= 1e9) {
    q += 1;
    r -= 1e9;
  }
  // The value is at least 2^53 here, so q ≥ 1 and the low nine digits keep their leading zeros.
  return String(q) + String(r + 1e9).slice(1);
}

/** Negative, zero or positive as (aHi, aLo) is below, equal to or above (bHi, bLo), both unsigned. */
export function compareWords(aHi: number, aLo: number, bHi: number, bLo: number): number {
  return aHi !== bHi ? aHi - bHi : aLo - bLo;
}
