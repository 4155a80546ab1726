/**
 * A rebuild's shard takes its partition numbers, the same numbers of both topics, and gives them only to the
 * group's one member.
 */
import { AssignerProtocol, type Cluster } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { createShardAssigner } from '../../src/ingest/shardAssigner.ts';

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
