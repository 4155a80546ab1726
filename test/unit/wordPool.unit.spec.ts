import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_POOLED_WORDS, SLAB_BYTES, WordPool } from '../../src/projection/compact/wordPool.ts';

describe('WordPool', () => {
  it('never hands out words another view in use holds, however views are taken and given back', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            { arbitrary: fc.record({ take: fc.constantFrom(8, 16, 32, 512, 16_384, 100_000) }), weight: 3 },
            { arbitrary: fc.record({ give: fc.nat() }), weight: 2 },
          ),
          { maxLength: 300 },
        ),
        (steps) => {
          const pool = new WordPool();
          const inUse: { view: Uint32Array; mark: number }[] = [];
          steps.forEach((step, mark) => {
            if ('take' in step) {
              const view = pool.take(step.take);
              expect(view.length).toBe(step.take);
              view.fill(mark);
              inUse.push({ view, mark });
            } else if (inUse.length > 0) {
              const [given] = inUse.splice(step.give % inUse.length, 1);
              if (given !== undefined) pool.give(given.view);
            }
          });
          // A view shared by two takes would hold the later one's mark.
          for (const { view, mark } of inUse) expect(view.every((word) => word === mark)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hands a view given back out again for the same length, and carves a slab only when none is free', () => {
    const pool = new WordPool();
    const first = pool.take(64);
    expect(pool.slabs).toBe(1);
    pool.give(first);
    expect(pool.freeWords).toBe(64);
    expect(pool.take(32)).not.toBe(first);
    expect(pool.slabs).toBe(2);
    expect(pool.take(64)).toBe(first);
    expect(pool.freeWords).toBe(0);
    // Views of one length fill their slab (4,096 of 64 words) before the next is made.
    for (let i = 1; i < SLAB_BYTES / 4 / 64; i++) pool.take(64);
    expect(pool.slabs).toBe(2);
    pool.take(64);
    expect(pool.slabs).toBe(3);
    expect(pool.bytes).toBe(3 * SLAB_BYTES);
  });

  it('makes long arrays plainly and keeps none of them', () => {
    const pool = new WordPool();
    const long = pool.take(MAX_POOLED_WORDS + 1);
    expect(long.buffer.byteLength).toBe((MAX_POOLED_WORDS + 1) * 4);
    pool.give(long);
    expect(pool.freeWords).toBe(0);
    expect(pool.take(MAX_POOLED_WORDS + 1)).not.toBe(long);
    expect(pool.slabs).toBe(0);
  });
});
