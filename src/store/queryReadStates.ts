import type { Snowflake } from '../contract/snowflake.ts';
import { readStateOf, type ReadStateView } from '../projection/readStateOf.ts';
import { BatchStore } from './batchStore.ts';
import type { HotTierMirror } from './hotTierMirror.ts';
import { channelKey, channelOfReadStateKey, indexHeaderKey, readStateKey, readStatePrefix } from './keys.ts';
import type { RocksDatabase } from './rocksDatabase.ts';

export interface StateLocation {
  fanout: number;
  partitionCount: number;
  partitionOf: (channelId: Snowflake) => number;
}

/**
 * Read states of one user in the given channels, in the order asked, straight from RocksDB. With `hotTier`, the
 * records read are put there too, so the next read of the same pair is answered without RocksDB.
 */
export async function queryReadStates(
  db: RocksDatabase,
  location: StateLocation,
  userId: Snowflake,
  channelIds: readonly Snowflake[],
  hotTier?: HotTierMirror,
): Promise<ReadStateView[]> {
  const stores = new Map<number, BatchStore>();
  // Taken before the first read: a partition written after this point fills nothing.
  const versions = new Map<number, number>();
  const storeOf = (partition: number): BatchStore => {
    let store = stores.get(partition);
    if (store === undefined) {
      store = new BatchStore(partition, location.fanout);
      stores.set(partition, store);
      if (hotTier !== undefined) versions.set(partition, hotTier.version(partition));
    }
    return store;
  };
  // The records a read usually needs, in one round trip; a read that needs more loads it when it asks.
  const likely = channelIds.flatMap((channelId) => {
    const partition = location.partitionOf(channelId);
    storeOf(partition);
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
  if (hotTier !== undefined) {
    for (const channelId of channelIds) {
      const partition = location.partitionOf(channelId);
      const store = storeOf(partition);
      // Everything needed was loaded above, so this never misses; a pair without a read state is not held.
      const read = store.attempt((state) => ({
        readState: state.getReadState(userId, channelId),
        channel: state.getChannel(channelId),
      }));
      const { readState, channel } = read.done ? read.value : {};
      if (readState !== undefined && channel !== undefined) {
        hotTier.fill(partition, versions.get(partition) ?? -1, userId, channelId, readState, channel);
      }
    }
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
