import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareSnowflakes,
  fitsInUint64,
  isSnowflake,
  MAX_SNOWFLAKE,
  SNOWFLAKE_PATTERN,
} from '../../src/contract/snowflake.ts';
import { snowflakeArb } from './eventArbitraries.ts';

describe('isSnowflake', () => {
  it.each(['0', '1', '10', '9007199254740993', '9999999999999999999', '10000000000000000000', MAX_SNOWFLAKE])(
    'accepts %s',
    (value) => {
      expect(isSnowflake(value)).toBe(true);
    },
  );

  it.each([
    ['one past the 64-bit maximum', '18446744073709551616'],
    ['the 20-digit maximum', '99999999999999999999'],
    ['a leading zero', '0123'],
    ['two zeros', '00'],
    ['21 digits', '100000000000000000000'],
    ['the empty string', ''],
    ['a negative number', '-1'],
    ['a plus sign', '+1'],
    ['a decimal point', '1.0'],
    ['an exponent', '1e3'],
    ['surrounding space', ' 1'],
    ['a trailing newline', '1\n'],
    ['non-ASCII digits', '١٢'],
  ])('rejects %s', (_name, value) => {
    expect(isSnowflake(value)).toBe(false);
  });

  it('accepts exactly what the published pattern and the 64-bit range accept', () => {
    const pieces = fc.constantFrom('0', '1', '9', '18446744073709551615', '00', '-', '+', 'a', ' ', '١', '.');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(pieces, { maxLength: 6 }).map((p) => p.join('')),
        ),
        (value) => {
          expect(isSnowflake(value)).toBe(SNOWFLAKE_PATTERN.test(value) && fitsInUint64(value));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('agrees with BigInt on which decimal strings are unsigned 64-bit integers', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 65n), max: 2n ** 66n }), (n) => {
        expect(isSnowflake(n.toString())).toBe(n >= 0n && n < 2n ** 64n);
      }),
    );
  });
});

describe('compareSnowflakes', () => {
  it('orders by numeric value across lengths', () => {
    expect(compareSnowflakes('9', '10')).toBeLessThan(0);
    expect(compareSnowflakes(MAX_SNOWFLAKE, '9999999999999999999')).toBeGreaterThan(0);
    expect(compareSnowflakes('42', '42')).toBe(0);
  });

  it('agrees with BigInt comparison', () => {
    fc.assert(
      fc.property(snowflakeArb, snowflakeArb, (a, b) => {
        const expected = BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0;
        expect(Math.sign(compareSnowflakes(a, b))).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it('sorts like BigInt', () => {
    fc.assert(
      fc.property(fc.array(snowflakeArb), (ids) => {
        const byBigInt = [...ids].sort((a, b) =>
          BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0,
        );
        expect([...ids].sort(compareSnowflakes)).toEqual(byBigInt);
      }),
    );
  });
});
