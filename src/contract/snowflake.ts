/**
 * Snowflake ids travel as decimal strings because a JSON number cannot hold 64 bits.
 * With no leading zeros, numeric order is length first, then lexicographic: no BigInt needed to compare.
 */
export type Snowflake = string;

export const MAX_SNOWFLAKE = '18446744073709551615';

/** The shape of a snowflake: 1-20 digits, no leading zeros. Published as the JSON Schema `pattern`. */
export const SNOWFLAKE_PATTERN = /^(0|[1-9][0-9]{0,19})$/;

/** The range half of the rule, for a string that already matches `SNOWFLAKE_PATTERN`. */
export function fitsInUint64(digits: string): boolean {
  return digits.length < 20 || digits <= MAX_SNOWFLAKE;
}

export function isSnowflake(value: string): boolean {
  return SNOWFLAKE_PATTERN.test(value) && fitsInUint64(value);
}

/** Negative, zero or positive, like `Array.prototype.sort` expects. Both arguments must be valid snowflakes. */
export function compareSnowflakes(a: Snowflake, b: Snowflake): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
