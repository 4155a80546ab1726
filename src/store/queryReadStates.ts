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
 *
 * With `hotTier`, reads are also monotonic: RocksDB is read only between two writes of a partition, once the
 * tier mirrors the first, and a read during which a write began is read again. So an answer is never newer
 * than what the tier holds once it is given, and a later lookup answered by the tier cannot go back on it.
 */
export async function queryReadStates(
  db: RocksDatabase,
  location: StateLocation,
  userId: Snowflake,
  channelIds: readonly Snowflake[],
  hotTier?: HotTierMirror,
): Promise<ReadStateView[]> {
  if (hotTier === undefined) return views(await readPairs(db, location, userId, channelIds));
  const partitions = [...new Set(channelIds.map(location.partitionOf))];
  // Taken first, before any wait: a fill is refused after a write or a forgetAll (a database switch) since.
  const versions = new Map(partitions.map((partition) => [partition, hotTier.version(partition)]));
  const moved = () => partitions.some((partition) => hotTier.version(partition) !== versions.get(partition));
  if (writeUnderWay(hotTier, partitions) === undefined) {
    const pairs = await readPairs(db, location, userId, channelIds).catch((error: unknown) => {
      // Records from both sides of a write can look corrupt (a rank-index node it removed): read again.
      if (moved()) return undefined;
      throw error;
    });
    if (pairs !== undefined && !moved()) {
      pairs.forEach(({ found }, i) => {
        const channelId = channelIds[i] ?? '';
        const partition = location.partitionOf(channelId);
        hotTier.fill(partition, versions.get(partition) ?? -1, userId, channelId, found);
      });
      return views(pairs);
    }
  }
  // A write was under way, or began during the read, which may then have seen part of it. Once it is mirrored,
  // read again without yielding, so that no write can begin midway. Not filled: the versions moved, and taking
  // them again could fill from a database that a rebuild switched away from meanwhile.
  let write = writeUnderWay(hotTier, partitions);
  while (write !== undefined) {
    await write;
    write = writeUnderWay(hotTier, partitions);
  }
  return views(readPairsNow(db, location, userId, channelIds));
}

function writeUnderWay(hotTier: HotTierMirror, partitions: readonly number[]): Promise<void> | undefined {
  for (const partition of partitions) {
    const write = hotTier.writing(partition);
    if (write !== undefined) return write;
  }
  return undefined;
}

/** One pair's answer, and the records that give it, for the hot tier. */
type PairRead = { view: ReadStateView; found: PairRecords };

function views(pairs: readonly PairRead[]): ReadStateView[] {
  return pairs.map((pair) => pair.view);
}

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

/** readPairs in one synchronous run: nothing else on this thread (no write) happens while it reads. */
function readPairsNow(
  db: RocksDatabase,
  location: StateLocation,
  userId: Snowflake,
  channelIds: readonly Snowflake[],
): PairRead[] {
  const plan = planRead(location, userId, channelIds);
  plan.load(db.getManySync(plan.keys));
  return channelIds.map((channelId) => {
    const store = plan.storeOf(location.partitionOf(channelId));
    for (;;) {
      const attempt = store.attempt(pairRead(userId, channelId));
      if (attempt.done) return attempt.value;
      store.load([attempt.missing], db.getManySync([attempt.missing]));
    }
  });
}

/**
 * The channels where `userId` has a read state, ascending, after `afterChannelId` (exclusive), at most `limit`.
 * Each partition keeps its own channels in order; the smallest `limit` of their union is the page.
 */
export async function listReadStateChannels(
  db: RocksDatabase,
  location: StateLocation,
  userId: Snowflake,
  options: { limit: number; afterChannelId?: Snowflake; partitions?: readonly number[] },
): Promise<Snowflake[]> {
  const partitions =
    options.partitions ?? Array.from({ length: location.partitionCount }, (_, partition) => partition);
  const perPartition = await Promise.all(
    partitions.map(async (partition) => {
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
