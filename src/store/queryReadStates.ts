import type { Snowflake } from '../contract/snowflake.ts';
import { membersAbove, ownIndex } from '../projection/memberIndexes.ts';
import { readStateOf, type ReadStateView } from '../projection/readStateOf.ts';
import type { ProjectionStore } from '../projection/store.ts';
import { BatchStore } from './batchStore.ts';
import type { HotTierMirror, PairRecords } from './hotTierMirror.ts';
import { channelKey, channelOfReadStateKey, indexHeaderKey, readStateKey, readStatePrefix } from './keys.ts';
import type { RocksDatabase } from './rocksDatabase.ts';

export interface StateLocation {
  fanout: number;
  partitionCount: number;
  partitionOf: (channelId: Snowflake) => number;
}

/**
 * Read states of one user in the given channels, in the order asked, straight from RocksDB. With `hotTier`, the
 * records read are put there too (for a pair without a read state, that it has none), so the next read of the
 * same pair is answered without RocksDB.
 */
export async function queryReadStates(
  db: RocksDatabase,
  location: StateLocation,
  userId: Snowflake,
  channelIds: readonly Snowflake[],
  hotTier?: HotTierMirror,
): Promise<ReadStateView[]> {
  // Taken before the first read: a partition written after this point fills nothing.
  const versions = new Map(
    channelIds.map((channelId) => {
      const partition = location.partitionOf(channelId);
      return [partition, hotTier?.version(partition) ?? -1];
    }),
  );
  const pairs = await readPairs(db, location, userId, channelIds);
  pairs.forEach(({ found }, i) => {
    const channelId = channelIds[i] ?? '';
    const partition = location.partitionOf(channelId);
    hotTier?.fill(partition, versions.get(partition) ?? -1, userId, channelId, found);
  });
  return pairs.map((pair) => pair.view);
}

/** One pair's answer, and the records that give it, for the hot tier. */
type PairRead = { view: ReadStateView; found: PairRecords };

function pairRead(userId: Snowflake, channelId: Snowflake): (state: ProjectionStore) => PairRead {
  return (state) => {
    const view = readStateOf(state, userId, channelId);
    const channel = state.getChannel(channelId);
    const readState = state.getReadState(userId, channelId);
    return {
      view,
      found:
        readState === undefined
          ? { channel, readState, ownCount: membersAbove(state, ownIndex(channelId, userId), null) }
          : { channel, readState },
    };
  };
}

/** A BatchStore per partition, and the records a read usually needs, to fetch in one round trip. */
function planRead(location: StateLocation, userId: Snowflake, channelIds: readonly Snowflake[]) {
  const stores = new Map<number, BatchStore>();
  const storeOf = (partition: number): BatchStore => {
    let store = stores.get(partition);
    if (store === undefined) {
      store = new BatchStore(partition, location.fanout);
      stores.set(partition, store);
    }
    return store;
  };
  const likely = channelIds.flatMap((channelId) => {
    const partition = location.partitionOf(channelId);
    const store = storeOf(partition);
    return [
      { store, key: channelKey(partition, channelId) },
      { store, key: readStateKey(partition, userId, channelId) },
      { store, key: indexHeaderKey(partition, { kind: 'own', channel_id: channelId, user_id: userId }) },
    ];
  });
  return {
    storeOf,
    keys: likely.map((entry) => entry.key),
    load(values: readonly (Buffer | undefined)[]) {
      likely.forEach((entry, i) => {
        if (entry.store.missing([entry.key]).length > 0) entry.store.load([entry.key], [values[i]]);
      });
    },
  };
}

async function readPairs(
  db: RocksDatabase,
  location: StateLocation,
  userId: Snowflake,
  channelIds: readonly Snowflake[],
): Promise<PairRead[]> {
  const plan = planRead(location, userId, channelIds);
  plan.load(await db.getMany(plan.keys));
  const pairs: PairRead[] = [];
  // A read that needs more (rank-index nodes) loads it when it asks.
  for (const channelId of channelIds) {
    pairs.push(await plan.storeOf(location.partitionOf(channelId)).run(db, pairRead(userId, channelId)));
  }
  return pairs;
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
