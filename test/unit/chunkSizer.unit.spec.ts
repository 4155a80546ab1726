import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createChunkSizer } from '../../src/ingest/chunkSizer.ts';

const options = { budgetMs: 3_000, min: 2_000, max: 64_000, first: 16_000 };

describe('createChunkSizer', () => {
  it('starts at the first size, grows to what the rate fits in the budget, and never past the bounds', () => {
    const sizer = createChunkSizer(options);
    expect(sizer.size).toBe(16_000);
    // 16,000 records in 400 ms: 40 a ms, 120,000 in 3 s: held at the maximum.
    sizer.observe(16_000, 400);
    expect(sizer.size).toBe(64_000);
    // A chunk 16 times slower halves the rate estimate at once (about 21 a ms): 63,750 fit, not 64,000.
    sizer.observe(64_000, 25_600);
    expect(sizer.size).toBe(Math.floor(((40 + 2.5) / 2) * 3_000));
    // Very slow chunks (a dead-letter store outage, say) bring it to the minimum, not below.
    for (let i = 0; i < 10; i++) sizer.observe(2_000, 60_000);
    expect(sizer.size).toBe(2_000);
  });

  it('keeps a chunk at the measured rate within the budget, whatever the rates seen', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 0, max: 100_000 })), {
          minLength: 1,
        }),
        (chunks) => {
          const sizer = createChunkSizer(options);
          for (const [records, ms] of chunks) {
            sizer.observe(records, ms);
            expect(sizer.size).toBeGreaterThanOrEqual(options.min);
            expect(sizer.size).toBeLessThanOrEqual(options.max);
            expect(Number.isInteger(sizer.size)).toBe(true);
          }
          // Many chunks at one steady rate: the size is what that rate fits in the budget, within the bounds.
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
