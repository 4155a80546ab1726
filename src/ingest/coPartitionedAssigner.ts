import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

/**
 * Hands out partition NUMBERS, not topic-partitions: whoever gets partition p gets it on every subscribed topic,
 * so one instance sees both halves of a channel (its messages and its acks) and its RocksDB holds the whole
 * state of p. kafkajs's default round-robin assigner deals topic-partitions out one list, which splits p's
 * messages and acks between two members as soon as the member count does not divide the partition count.
 *
 * Partition p goes to the (p mod members)-th member in member-id order. Not sticky: a member joining or
 * leaving may move more partitions than it must; each instance restores what it gains from its own RocksDB.
 */
export const coPartitionedAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'ReadstatesCoPartitioned',
  version: 1,
  assign({ members, topics }) {
    const memberIds = members.map(({ memberId }) => memberId).sort();
    // Co-partitioned topics have one count (ensureTopics refuses to start otherwise); the smallest is safe.
    const counts = topics.map((topic) => cluster.findTopicPartitionMetadata(topic).length);
    const partitionCount = counts.length === 0 ? 0 : Math.min(...counts);
    const owned = new Map<string, number[]>(memberIds.map((id) => [id, []]));
    for (let partition = 0; partition < partitionCount; partition++) {
      owned.get(memberIds[partition % memberIds.length] ?? '')?.push(partition);
    }
    return Promise.resolve(
      memberIds.map((memberId) => ({
        memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({
          version: 1,
          assignment: Object.fromEntries(topics.map((topic) => [topic, owned.get(memberId) ?? []])),
          userData: Buffer.alloc(0),
        }),
      })),
    );
  },
  protocol({ topics }) {
    return {
      name: 'ReadstatesCoPartitioned',
      metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
    };
  },
});
