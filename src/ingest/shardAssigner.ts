import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/** One of the projectors that split the partitions between them, each in a consumer group of its own. */
export interface Shard {
  readonly index: number;
  /** Its partition numbers, ascending. */
  readonly partitions: readonly number[];
}

/**
 * A fixed share of the partitions for the group's one member: the shard's partition numbers on every subscribed
 * topic (co-partitioned, like coPartitionedAssigner.ts), the rest to nobody. A rebuild runs a projector per
 * shard, each in a group of its own over one database: a partition never moves between them, so none can apply
 * what another already wrote. A second member (not expected) is given nothing.
 */
export function createShardAssigner(shard: Shard): PartitionAssigner {
  const name = 'ReadstatesShard';
  return ({ cluster }) => ({
    name,
    version: 1,
    assign({ members, topics }) {
      const counts = topics.map((topic) => cluster.findTopicPartitionMetadata(topic).length);
      const partitionCount = counts.length === 0 ? 0 : Math.min(...counts);
      const partitions = shard.partitions.filter((partition) => partition < partitionCount);
      const [first] = members.map(({ memberId }) => memberId).sort();
      return Promise.resolve(
        members.map(({ memberId }) => ({
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: 1,
            assignment: Object.fromEntries(
              topics.map((topic) => [topic, memberId === first ? partitions : []]),
            ),
            userData: Buffer.alloc(0),
          }),
        })),
      );
    },
    protocol({ topics }) {
      return {
        name,
        metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
      };
    },
  });
}
