import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPartitionOf } from '../../src/contract/partitionOf.ts';
// kafkajs's own DefaultPartitioner, as producers use it.
import { homePartition } from '../support/hostileRecords.ts';

describe('createPartitionOf', () => {
  it('puts every key where kafkajs puts it: any bytes, any string, any partition count', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.oneof(fc.uint8Array({ maxLength: 100 }), fc.string({ unit: 'grapheme', maxLength: 80 })),
        (count, key) => {
          const ours = createPartitionOf(count);
          const bytes = typeof key === 'string' ? key : Buffer.from(key);
          expect(ours(key)).toBe(homePartition(bytes, count));
          if (typeof key === 'string') expect(ours(Buffer.from(key, 'utf8'))).toBe(homePartition(key, count));
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('agrees on snowflake channel ids', () => {
    const ours = createPartitionOf(12);
    for (let i = 0n; i < 2_000n; i++) {
      const id = (1_300_000_000_001_000_000n + i * 7919n).toString();
      expect(ours(id)).toBe(homePartition(id, 12));
    }
  });
});
