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
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < digits.length; i++) {
    // lo < 2^32, so lo·10 + 9 < 2^36, and hi·10 + carry < 2^32 for any value below 2^64: all exact doubles.
    const next = lo * 10 + (digits.charCodeAt(i) - 48);
    lo = next >>> 0;
    hi = hi * 10 + (next - lo) / TWO_32;
  }
  out[offset] = hi;
  out[offset + 1] = lo;
}

/** The decimal string of the uint64 `hi · 2^32 + lo`. */
export function formatSnowflakeWords(hi: number, lo: number): Snowflake {
  if (hi < EXACT_HI_LIMIT) return String(hi * TWO_32 + lo);
  // value = q·10^9 + r by long division over 16-bit limbs: every partial remainder·2^16 + limb is below
  // 10^9·2^16 < 2^53, and q < 2^64 / 10^9 < 2^35, so all of it is exact in doubles.
  let r = hi >>> 16;
  let q = 0;
  for (const limb of [hi & 0xffff, lo >>> 16, lo & 0xffff]) {
    r = r * 65536 + limb;
    const digit = Math.floor(r / 1e9);
    r -= digit * 1e9;
    q = q * 65536 + digit;
  }
  // The value is at least 2^53 here, so q ≥ 1 and the low nine digits keep their leading zeros.
  return `${q}${String(r).padStart(9, '0')}`;
}

/** Negative, zero or positive as (aHi, aLo) is below, equal to or above (bHi, bLo), both unsigned. */
export function compareWords(aHi: number, aLo: number, bHi: number, bLo: number): number {
  return aHi !== bHi ? aHi - bHi : aLo - bLo;
}
