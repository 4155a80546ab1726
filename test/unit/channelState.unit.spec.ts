import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChannelState } from '../../src/projection/compact/channelState.ts';

/** Any id, or one of a few (so that users come back). */
const snowflake = fc.oneof(
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String),
  fc.integer({ min: 0, max: 40 }).map((n) => String(1_300_000_000_000_000_000n + BigInt(n))),
);

/** Members are found by their id words while few, by a map once many: the numbers must not notice. */
describe('ChannelState members', () => {
  it('numbers each user once, in order of first appearance, however many there are', () => {
    fc.assert(
      fc.property(
        fc.array(snowflake, { maxLength: 60, size: 'max' }),
        fc.array(snowflake, { maxLength: 10 }),
        (ids, probes) => {
          const channel = new ChannelState();
          const numbers = new Map<string, number>();
          for (const id of ids) {
            if (!numbers.has(id)) numbers.set(id, numbers.size);
            expect(channel.member(id)).toBe(numbers.get(id));
            for (const [known, number] of numbers) expect(channel.memberOf(known)).toBe(number);
          }
          for (const probe of probes) expect(channel.memberOf(probe)).toBe(numbers.get(probe) ?? -1);
          expect(Array.from({ length: channel.memberCount }, (_, member) => channel.userId(member))).toEqual([
            ...numbers.keys(),
          ]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('finds thousands of members whose ids share a word, numbered from words or from strings', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(40), fc.nat(40)), { minLength: 1000, maxLength: 3000 }),
        fc.array(fc.tuple(fc.nat(45), fc.nat(45)), { maxLength: 50 }),
        fc.nat(3000),
        (pairs, probes, fromWords) => {
          const idOf = ([hi, lo]: [number, number]) =>
            String((BigInt(hi * 7919) << 32n) + BigInt(lo * 104729));
          const channel = new ChannelState();
          const numbers = new Map<string, number>();
          pairs.forEach(([hi, lo], i) => {
            const id = idOf([hi, lo]);
            if (numbers.has(id)) return;
            numbers.set(id, numbers.size);
            // The first `fromWords` come as a snapshot gives them (words, each new), the rest as events do.
            if (i < fromWords) channel.appendMember(hi * 7919, lo * 104729);
            else expect(channel.member(id)).toBe(numbers.get(id));
          });
          for (const [id, number] of numbers) expect(channel.memberOf(id)).toBe(number);
          for (const probe of probes)
            expect(channel.memberOf(idOf(probe))).toBe(numbers.get(idOf(probe)) ?? -1);
          expect(channel.memberCount).toBe(numbers.size);
        },
      ),
      { numRuns: 20 },
    );
  });
});
