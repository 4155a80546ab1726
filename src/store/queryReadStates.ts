import type { Snowflake } from '../contract/snowflake.ts';
import { readStateOf, type ReadStateView } from '../projection/readStateOf.ts';
import { BatchStore } from './batchStore.ts';
import { channelKey, channelOfReadStateKey, indexHeaderKey, readStateKey, readStatePrefix } from './keys.ts';
import type { RocksDatabase } from './rocksDatabase.ts';

export interface StateLocation {
  fanout: number;
  partitionCount: number;
  partitionOf: (channelId: Snowflake) => number;
}

/** Read states of one user in the given channels, in the order asked, straight from RocksDB. */
export async function queryReadStates(
  db: RocksDatabase,
  location: StateLocation,
  userId: Snowflake,
  channelIds: readonly Snowflake[],
): Promise<ReadStateView[]> {
  const stores = new Map<number, BatchStore>();
  const storeOf = (partition: number): BatchStore => {
    let store = stores.get(partition);
    if (store === undefined) {
      store = new BatchStore(partition, location.fanout);
      stores.set(partition, store);
    }
    return store;
  };
  // The records a read usually needs, in one round trip; a read that needs more loads it when it asks.
  const likely = channelIds.flatMap((channelId) => {
    const partition = location.partitionOf(channelId);
    return [
      { partition, key: channelKey(partition, channelId) },
      { partition, key: readStateKey(partition, userId, channelId) },
      { partition, key: indexHeaderKey(partition, { kind: 'own', channel_id: channelId, user_id: userId }) },
    ];
  });
  const values = await db.getMany(likely.map((entry) => entry.key));
  likely.forEach((entry, i) => {
    const store = storeOf(entry.partition);
    if (store.missing([entry.key]).length > 0) store.load([entry.key], [values[i]]);
  });
  const views: ReadStateView[] = [];
  for (const channelId of channelIds) {
    const store = storeOf(location.partitionOf(channelId));
    views.push(await store.run(db, (state) => readStateOf(state, userId, channelId)));
  }
  return views;
}

/**
 * The channels where `userId` has a read state, ascending, after `afterChannelId` (exclusive), at most `limit`.
 * Each partition keeps its own channels in order; the smallest `limit` of their union is the page.
 */
export async function listReadStateChannels(
  db: RocksDatabase,
  location: StateLocation,
  userId: Snowflake,
  options: { limit: number; afterChannelId?: Snowflake },
): Promise<Snowflake[]> {
  const perPartition = await Promise.all(
    Array.from({ length: location.partitionCount }, async (_, partition) => {
      const after =
        options.afterChannelId === undefined
          ? undefined
          : readStateKey(partition, userId, options.afterChannelId);
      const entries = await db.scan(readStatePrefix(partition, userId), { limit: options.limit, after });
      return entries.map((entry) => channelOfReadStateKey(entry.key));
    }),
  );
  return perPartition
    .flat()
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .slice(0, options.limit)
    .map((id) => id.toString());
}
