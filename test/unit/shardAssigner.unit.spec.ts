/**
 * A rebuild's shards split the partition numbers: every number to exactly one shard, in shares of about equal
 * records, the same number of both topics to the same shard, and only to the group's one member.
 */
import fc from 'fast-check';
import { AssignerProtocol, type Cluster } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createShardAssigner, planShards } from '../../src/ingest/shardAssigner.ts';

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

describe('createShardAssigner', () => {
  const partitionsOf: Record<string, number> = { messages: 5, acks: 5 };
  const cluster = {
    findTopicPartitionMetadata: (topic: string) =>
      Array.from({ length: partitionsOf[topic] ?? 0 }, (_, partitionId) => ({ partitionId })),
  } as unknown as Cluster;

  async function assign(index: number, memberIds: string[]) {
    const partitions = index === 0 ? [0, 2, 4] : [1, 3, 7];
    const assigner = createShardAssigner({ index, partitions })({
      cluster,
      groupId: 'g',
      logger: undefined as never,
    });
    const metadata = assigner.protocol({ topics: ['messages', 'acks'] }).metadata;
    const assignments = await assigner.assign({
      members: memberIds.map((memberId) => ({ memberId, memberMetadata: metadata })),
      topics: ['messages', 'acks'],
    });
    return Object.fromEntries(
      assignments.map(({ memberId, memberAssignment }) => [
        memberId,
        AssignerProtocol.MemberAssignment.decode(memberAssignment)?.assignment,
      ]),
    );
  }

  it("gives the shard's partition numbers of both topics to the group's member, those that exist", async () => {
    expect(await assign(0, ['m'])).toEqual({ m: { messages: [0, 2, 4], acks: [0, 2, 4] } });
    expect(await assign(1, ['m'])).toEqual({ m: { messages: [1, 3], acks: [1, 3] } });
  });

  it('gives a second member nothing, whatever the order members come in', async () => {
    const expected = { a: { messages: [1, 3], acks: [1, 3] }, b: { messages: [], acks: [] } };
    expect(await assign(1, ['b', 'a'])).toEqual(expected);
    expect(await assign(1, ['a', 'b'])).toEqual(expected);
  });
});
