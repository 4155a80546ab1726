/**
 * Snowflake ids travel as decimal strings because a JSON number cannot hold 64 bits.
 * With no leading zeros, numeric order is length first, then lexicographic: no BigInt needed to compare.
 */
export type Snowflake = string;

export const MAX_SNOWFLAKE = '18446744073709551615';

const DIGITS = /^(?:0|[1-9][0-9]{0,19})$/;

export function isSnowflake(value: string): boolean {
  return DIGITS.test(value) && (value.length < 20 || value <= MAX_SNOWFLAKE);
}

/** Negative, zero or positive, like `Array.prototype.sort` expects. Both arguments must be valid snowflakes. */
export function compareSnowflakes(a: Snowflake, b: Snowflake): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}
