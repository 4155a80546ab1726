import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';
import { planAssignment } from './assignmentPlan.ts';
import { decodeClaim, encodeClaim, encodeClusterMap, type Claim, type ClusterMap } from './clusterMap.ts';

/**
 * Hands out partition NUMBERS, not topic-partitions: whoever gets partition p gets it on every subscribed topic,
 * so one instance sees both halves of a channel (its messages and its acks) and its RocksDB holds the whole
 * state of p. kafkajs's default round-robin assigner deals topic-partitions out one list, which splits p's
 * messages and acks between two members as soon as the member count does not divide the partition count.
 *
 * Membership travels in the group protocol itself, as Kafka Streams does for its interactive queries: each
 * member's subscription carries its claim (`claim()`, read at every join: its advertised URL, the partitions it
 * owns and those whose state it holds on disk), and the leader's assignment gives every member the same map of
 * every partition's owner and, for a partition that moved, its previous owner (clusterMap.ts). The plan is
 * sticky (assignmentPlan.ts): as few partitions move as balance allows, and those that must move go where their
 * state already is when they can.
 */
export function createCoPartitionedAssigner(claim: () => Omit<Claim, 'v'>): PartitionAssigner {
  return ({ cluster }) => ({
    name: 'ReadstatesCoPartitioned',
    version: 2,
    assign({ members, topics }) {
      // Co-partitioned topics have one count (ensureTopics refuses to start otherwise); the smallest is safe.
      const counts = topics.map((topic) => cluster.findTopicPartitionMetadata(topic).length);
      const partitionCount = counts.length === 0 ? 0 : Math.min(...counts);
      const claims = members
        .map(({ memberId, memberMetadata }) => ({
          memberId,
          ...decodeClaim(AssignerProtocol.MemberMetadata.decode(memberMetadata)?.userData),
        }))
        .sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
      const plan = planAssignment(claims, partitionCount);
      const map = clusterMapOf(claims, plan, partitionCount);
      const userData = encodeClusterMap(map);
      return Promise.resolve(
        claims.map(({ memberId }) => ({
          memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: 1,
            assignment: Object.fromEntries(topics.map((topic) => [topic, plan.get(memberId) ?? []])),
            userData,
          }),
        })),
      );
    },
    protocol({ topics }) {
      return {
        name: 'ReadstatesCoPartitioned',
        metadata: AssignerProtocol.MemberMetadata.encode({
          version: 1,
          topics,
          userData: encodeClaim(claim()),
        }),
      };
    },
  });
}

/**
 * Every partition's owner, and the member it moves from, by index: the member that owned it in the generation
 * that ended, only that one. A member that merely holds an older copy (a partition that moved on since) is never
 * named: its answers would go back in time behind what the group has served since.
 */
function clusterMapOf(
  claims: readonly (Claim & { memberId: string })[],
  plan: ReadonlyMap<string, readonly number[]>,
  partitionCount: number,
): ClusterMap {
  const owners = new Array<number>(partitionCount).fill(-1);
  claims.forEach(({ memberId }, index) => {
    for (const partition of plan.get(memberId) ?? []) owners[partition] = index;
  });
  const previous = new Array<number>(partitionCount).fill(-1);
  claims.forEach((claim, index) => {
    for (const partition of claim.owned) {
      if (partition < partitionCount && owners[partition] !== index) previous[partition] = index;
    }
  });
  return { v: 1, assignedAt: Date.now(), members: claims.map(({ url }) => url), owners, previous };
}
