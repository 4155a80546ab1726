import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareSnowflakes, MAX_SNOWFLAKE } from '../../src/contract/snowflake.ts';
import { compareWords, formatSnowflakeWords, parseSnowflakeInto } from '../../src/contract/snowflakeWords.ts';

const MAX = 2n ** 64n - 1n;

/**
 * Whole range; every length from 1 to 20 digits (parsing takes them four at a time); the neighbourhoods of the
 * word boundary, 2^53 (formatting switches method) and powers of ten; the top of the range.
 */
const uint64 = fc.oneof(
  fc.bigInt({ min: 0n, max: MAX }),
  fc.integer({ min: 1, max: 20 }).chain((digits) => {
    const min = digits === 1 ? 0n : 10n ** BigInt(digits - 1);
    const max = 10n ** BigInt(digits) - 1n;
    return fc.bigInt({ min, max: max < MAX ? max : MAX });
  }),
  fc
    .constantFrom(2n ** 32n, 2n ** 53n, 10n ** 9n, 10n ** 18n, 10n ** 19n)
    .chain((pivot) => fc.bigInt({ min: pivot - 3n, max: pivot + 3n })),
  fc.bigInt({ min: MAX - 5n, max: MAX }),
);

function words(value: bigint): [number, number] {
  return [Number(value >> 32n), Number(value & 0xffffffffn)];
}

describe('parseSnowflakeInto', () => {
  it.each([
    ['0', 0, 0],
    ['4294967295', 0, 0xffffffff],
    ['4294967296', 1, 0],
    ['9007199254740993', 0x200000, 1],
    [MAX_SNOWFLAKE, 0xffffffff, 0xffffffff],
  ])('parses %s', (digits, hi, lo) => {
    const out = new Uint32Array(2);
    parseSnowflakeInto(digits, out);
    expect([...out]).toEqual([hi, lo]);
  });

  it('agrees with BigInt on every uint64', () => {
    const out = new Uint32Array(2);
    fc.assert(
      fc.property(uint64, (value) => {
        parseSnowflakeInto(value.toString(), out);
        expect([...out]).toEqual(words(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('writes at the offset and nowhere else', () => {
    const out = new Uint32Array([7, 7, 7, 7, 7]);
    parseSnowflakeInto('18446744069414584321', out, 2); // 0xffffffff00000001
    expect([...out]).toEqual([7, 7, 0xffffffff, 1, 7]);
  });
});

describe('formatSnowflakeWords', () => {
  it.each([
    [0, 0, '0'],
    [0x1fffff, 0xffffffff, '9007199254740991'],
    [0x200000, 0, '9007199254740992'],
    [0x8ac72304, 0x89e80000, '10000000000000000000'],
    [0xffffffff, 0xffffffff, MAX_SNOWFLAKE],
  ])('formats (%i, %i) as %s', (hi, lo, digits) => {
    expect(formatSnowflakeWords(hi, lo)).toBe(digits);
  });

  it('agrees with BigInt on every uint64, so it undoes parsing', () => {
    const out = new Uint32Array(2);
    fc.assert(
      fc.property(uint64, (value) => {
        const [hi, lo] = words(value);
        expect(formatSnowflakeWords(hi, lo)).toBe(value.toString());
        parseSnowflakeInto(value.toString(), out);
        expect(formatSnowflakeWords(out[0] ?? -1, out[1] ?? -1)).toBe(value.toString());
      }),
      { numRuns: 2000 },
    );
  });
});

describe('compareWords', () => {
  it('orders like compareSnowflakes', () => {
    fc.assert(
      fc.property(uint64, uint64, (a, b) => {
        const [aHi, aLo] = words(a);
        const [bHi, bLo] = words(b);
        expect(Math.sign(compareWords(aHi, aLo, bHi, bLo))).toBe(
          Math.sign(compareSnowflakes(a.toString(), b.toString())),
        );
      }),
      { numRuns: 2000 },
    );
  });
});
