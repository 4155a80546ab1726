import { ApiError } from '../api/apiError.ts';
import type { Freshness, ReadStateSource } from '../api/app.ts';
import type { Snowflake } from '../contract/snowflake.ts';
import type { ReadStateView } from '../projection/readStateOf.ts';
import type { HotTierReader } from '../store/hotTier.ts';
import type { PartitionStatesReader } from '../ingest/partitionStates.ts';

/** Where channels live: the partition each channel's events land on, and how many there are. */
export interface PartitionMap {
  partitionCount: number;
  partitionOf: (channelId: Snowflake) => number;
}

/**
 * The partitions of a request's channels (murmur2 of each id, ~85 ns), computed once per request: a route asks
 * `freshnessOf` first and `readThrough` right after for the same array, so the last array is remembered (by
 * identity: requests' arrays are never changed once parsed).
 */
export function partitionsOfChannels(
  partitionOf: (channelId: Snowflake) => number,
): (channelIds: readonly Snowflake[]) => readonly number[] {
  let last: readonly Snowflake[] | undefined;
  let lastPartitions: readonly number[] = [];
  return (channelIds) => {
    if (channelIds !== last) {
      lastPartitions = channelIds.map(partitionOf);
      last = channelIds;
    }
    return lastPartitions;
  };
}

/**
 * The read path: each asked channel from the hot tier when it can answer exactly, the rest in one request to
 * `fallback` (the engine, which reads RocksDB and fills the hot tier), merged back in the order asked.
 *
 * Only channels of partitions this instance serves or is handing over (partitionStates.ts) are answered; a lookup
 * that touches any other is refused with a 503 naming why, and so is one that a retirement overlapped (the state
 * being deleted). engine/clusterReads.ts sends the rest to the instances that own them.
 */
export function readThrough(
  hotTier: HotTierReader,
  fallback: ReadStateSource,
  partitions: PartitionStatesReader,
  map: PartitionMap & { partitionsOf?: (channelIds: readonly Snowflake[]) => readonly number[] },
): ReadStateSource {
  const partitionsOf = map.partitionsOf ?? partitionsOfChannels(map.partitionOf);
  function requireServing(partition: number, channelId: Snowflake | undefined): void {
    const state = partitions.state(partition);
    // Handing over: moved away or a rebalance under way; answered as it stands (freshnessOf says stale).
    if (state === 'serving' || state === 'handing_over') return;
    const which =
      channelId === undefined ? `partition ${partition}` : `channel ${channelId} (partition ${partition})`;
    if (state === 'restoring') {
      throw new ApiError(
        'partition_restoring',
        `${which} is catching up with Kafka on this instance; retry shortly`,
      );
    }
    throw new ApiError(
      'partition_not_owned',
      `${which} is not assigned to this instance (another instance of the consumer group owns it, or a ` +
        'rebalance is under way); retry, or ask the instance that owns it',
    );
  }

  async function guarded<T>(check: () => void, read: () => Promise<T>): Promise<T> {
    const epoch = partitions.epoch();
    check();
    const result = await read();
    if (!partitions.unchanged(epoch)) {
      throw new ApiError(
        'partition_not_owned',
        'partitions moved while this lookup ran (a rebalance); retry, the answer may come from another instance',
      );
    }
    return result;
  }

  return {
    lookup: (userId, channelIds) =>
      guarded(
        () => {
          const asked = partitionsOf(channelIds);
          for (let i = 0; i < channelIds.length; i++) requireServing(asked[i] ?? -1, channelIds[i]);
        },
        async () => {
          const views = hotTier.readViews(userId, channelIds);
          const missed = channelIds.filter((_, i) => views[i] === undefined);
          if (missed.length === 0) return views as ReadStateView[];
          const fetched = await fallback.lookup(userId, missed);
          let next = 0;
          return views.map((view) => view ?? (fetched[next++] as ReadStateView));
        },
      ),
    // A user's channels lie on every partition: a listing needs them all (or those it names).
    listChannels: (userId, options) =>
      guarded(
        () => {
          if (options.partitions !== undefined) {
            for (const partition of options.partitions) requireServing(partition, undefined);
            return;
          }
          for (let partition = 0; partition < map.partitionCount; partition++) {
            requireServing(partition, undefined);
          }
        },
        () => fallback.listChannels(userId, options),
      ),
  };
}

/**
 * Where an answer for these channels stands: per partition they lie on, the offsets applied so far (asked before
 * the lookup, so the answer is at least this fresh), and whether the consumer has lost Kafka.
 */
export function freshnessOf(
  partitions: PartitionStatesReader,
  partitionsOf: (channelIds: readonly Snowflake[]) => readonly number[],
): (channelIds: readonly Snowflake[]) => Freshness {
  return (channelIds) => {
    const used = [...new Set(partitionsOf(channelIds))].sort((a, b) => a - b);
    return {
      positions: Object.fromEntries(
        used.map((partition) => {
          const { messages, acks } = partitions.position(partition);
          return [partition, { messages: messages.toString(), acks: acks.toString() }];
        }),
      ),
      stale:
        partitions.kafkaUnreachable() ||
        used.some((partition) => partitions.state(partition) === 'handing_over'),
    };
  };
}
