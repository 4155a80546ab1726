import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createChunkSizer } from '../../src/ingest/chunkSizer.ts';

const options = { budgetMs: 3_000, min: 2_000, max: 64_000, first: 16_000 };

describe('createChunkSizer', () => {
  it('starts at the first size, grows to what the rate fits in the budget, and never past the bounds', () => {
    const sizer = createChunkSizer(options);
    expect(sizer.size).toBe(16_000);
    // 16,000 records in 400 ms: 0.025 ms each, 120,000 in 3 s: held at the maximum.
    sizer.observe(16_000, 400);
    expect(sizer.size).toBe(64_000);
    // A chunk 16 times slower: the time per record averages to (0.025 + 0.4) / 2, and the size follows at once.
    sizer.observe(64_000, 25_600);
    expect(sizer.size).toBe(Math.floor(3_000 / ((0.025 + 0.4) / 2)));
    // Very slow chunks (a dead-letter store outage, say) bring it to the minimum, not below.
    for (let i = 0; i < 10; i++) sizer.observe(2_000, 60_000);
    expect(sizer.size).toBe(2_000);
  });

  it('does not forget a run of slow chunks after one fast one: at most it doubles', () => {
    const sizer = createChunkSizer({ ...options, min: 100 });
    // Slow chunks: 1.5 ms a record (reloads of evicted channels), so 2,000 fit in the 3 s budget.
    for (let i = 0; i < 10; i++) sizer.observe(2_000, 3_000);
    expect(sizer.size).toBe(2_000);
    // One chunk 60 times cheaper: the next may take twice the budget at the slow rate, not 30 times.
    sizer.observe(2_000, 50);
    expect(sizer.size).toBeLessThanOrEqual(4_000);
    expect(sizer.size * 1.5).toBeLessThanOrEqual(2 * options.budgetMs);
  });

  it('stays within its bounds, grows at most two-fold a chunk, and settles on a steady rate', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100_000 })), {
          minLength: 1,
        }),
        (chunks) => {
          const sizer = createChunkSizer(options);
          let measured = false;
          for (const [records, ms] of chunks) {
            const before = sizer.size;
            sizer.observe(records, ms);
            expect(sizer.size).toBeGreaterThanOrEqual(options.min);
            expect(sizer.size).toBeLessThanOrEqual(options.max);
            expect(Number.isInteger(sizer.size)).toBe(true);
            // After the first measurement, the averaged time per record at least halves: at most two-fold.
            if (measured) expect(sizer.size).toBeLessThanOrEqual(2 * before + 2);
            measured ||= records > 0;
          }
          // Many chunks at one steady rate: the size is what that rate fits in the budget.
          for (let i = 0; i < 100; i++) sizer.observe(10_000, 1_000);
          expect(sizer.size).toBe(30_000);
        },
      ),
    );
  });

  it('refuses bounds that do not fit together', () => {
    expect(() => createChunkSizer({ ...options, first: 100_000 })).toThrow(RangeError);
    expect(() => createChunkSizer({ ...options, min: 0 })).toThrow(RangeError);
    expect(() => createChunkSizer({ ...options, budgetMs: 0 })).toThrow(RangeError);
  });
});
