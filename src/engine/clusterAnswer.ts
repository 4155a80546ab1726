import { ownerUrl, previousUrl, type ClusterMap } from '../ingest/clusterMap.ts';
import type { PartitionState, PartitionStatesReader } from '../ingest/partitionStates.ts';
import type { GroupLag } from '../ingest/groupLag.ts';

/** One partition as GET /v1/cluster shows it. */
export interface ClusterPartition {
  partition: number;
  /** The owner's advertised URL; null while none is known. */
  owner: string | null;
  /**
   * The member that owned it before the last rebalance, when it moved: it answers for the partition while the new
   * owner restores (null when it stayed, or its previous owner left the group).
   */
  previous_owner: string | null;
  /** This instance's state for it. */
  here: PartitionState;
  /** The offsets this instance has applied of it (next to apply), when it holds any. */
  position_here: { messages: string; acks: string } | null;
  /** Events not yet applied by its owner, per topic, by the group's committed offsets; null when unknown. */
  lag: { messages: string | null; acks: string | null } | null;
}

export interface ClusterAnswer {
  self: string;
  /** When the group's leader made the map (its clock); null before this instance has one. */
  assigned_at: string | null;
  members: { url: string; partitions: number[] }[];
  partitions: ClusterPartition[];
}

/** GET /v1/cluster: the group's map as this instance last read it, its own view of each partition, the lag. */
export function clusterAnswer(options: {
  self: string;
  map: ClusterMap | undefined;
  partitionCount: number;
  partitions: PartitionStatesReader;
  lag: readonly GroupLag[] | undefined;
}): ClusterAnswer {
  const { map, partitions } = options;
  // One pass over each list: up to 10,000 partitions, answered to anyone holding a token.
  const lags = new Map(options.lag?.map((lag) => [`${lag.topic}:${lag.partition}`, lag]));
  const lagOf = (partition: number, topic: GroupLag['topic']): string | null => {
    const found = lags.get(`${topic}:${partition}`);
    if (found?.committed === undefined) return found === undefined ? null : found.high.toString();
    return (found.high > found.committed ? found.high - found.committed : 0n).toString();
  };
  const members = (map?.members ?? []).map((url) => ({ url, partitions: [] as number[] }));
  map?.owners.forEach((owner, partition) => members[owner]?.partitions.push(partition));
  return {
    self: options.self,
    assigned_at: map === undefined ? null : new Date(map.assignedAt).toISOString(),
    members,
    partitions: Array.from({ length: options.partitionCount }, (_, partition) => {
      const here = partitions.state(partition);
      const { messages, acks } = partitions.position(partition);
      return {
        partition,
        owner: ownerUrl(map, partition) || null,
        previous_owner: previousUrl(map, partition) || null,
        here,
        position_here:
          here === 'not_owned' && messages === 0n && acks === 0n
            ? null
            : { messages: messages.toString(), acks: acks.toString() },
        lag:
          options.lag === undefined
            ? null
            : { messages: lagOf(partition, 'messages'), acks: lagOf(partition, 'acks') },
      };
    }),
  };
}
