import type { Admin } from 'kafkajs';
import type { TopicKind } from '../contract/events.ts';
import type { Topics } from './ensureTopics.ts';

/** One partition's lag as the group stands: what its owner last committed against the log end. */
export interface GroupLag {
  topic: TopicKind;
  partition: number;
  /** What the group last committed; undefined when nothing yet. */
  committed: bigint | undefined;
  high: bigint;
}

/** Every partition of both topics, whoever owns it: the group's committed offsets against the log ends. */
export async function readGroupLag(admin: Admin, groupId: string, topics: Topics): Promise<GroupLag[]> {
  const lags: GroupLag[] = [];
  for (const kind of ['messages', 'acks'] as const) {
    const topic = topics[kind];
    const [ends, committed] = await Promise.all([
      admin.fetchTopicOffsets(topic),
      admin.fetchOffsets({ groupId, topics: [topic] }),
    ]);
    const byPartition = new Map(
      (committed[0]?.partitions ?? []).map(({ partition, offset }) => [partition, BigInt(offset)]),
    );
    for (const { partition, high } of ends) {
      const at = byPartition.get(partition);
      lags.push({
        topic: kind,
        partition,
        committed: at === undefined || at < 0n ? undefined : at,
        high: BigInt(high),
      });
    }
  }
  return lags;
}
