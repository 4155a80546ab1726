/**
 * A rebuild's shards split the partition numbers: every number to exactly one shard, in shares of about equal
 * records.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planShards } from '../../src/ops/shardPlan.ts';

describe('planShards', () => {
  it('gives every partition number to exactly one shard, the largest first to the least loaded', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 1_000_000 }), { maxLength: 64 }),
        fc.integer({ min: 1, max: 8 }),
        (sizes, count) => {
          const plan = planShards(sizes, count);
          expect(plan).toHaveLength(count);
          expect(plan.flat().sort((a, b) => a - b)).toEqual(sizes.map((_, p) => p));
          for (const shard of plan) expect(shard).toEqual([...shard].sort((a, b) => a - b));
          // LPT's bound: no shard exceeds the average load by more than its largest partition.
          const loads = plan.map((shard) => shard.reduce((sum, p) => sum + (sizes[p] ?? 0), 0));
          const average = sizes.reduce((sum, size) => sum + size, 0) / count;
          const largest = Math.max(0, ...sizes);
          for (const load of loads) expect(load).toBeLessThanOrEqual(average + largest);
        },
      ),
    );
  });

  it('balances a skewed log better than taking every other partition', () => {
    // Partitions 0 and 2 hold the busy channels: p mod 2 would give shard 0 three quarters of the records.
    expect(planShards([400, 100, 300, 200], 2)).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });
});
