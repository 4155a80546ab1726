import type { Snowflake } from '../contract/snowflake.ts';
import type { ChannelState } from '../projection/compact/channelState.ts';
import type { ReadStateView } from '../projection/readStateOf.ts';
import { pairRead, type CompactStore } from './compactStore.ts';
import type { HotTierMirror } from './hotTierMirror.ts';
import { channelOfReadStateKey, readStateKey, readStatePrefix } from './keys.ts';
import type { RocksDatabase } from './rocksDatabase.ts';

/** Where a channel's state is: its partition. */
export interface StateLocation {
  partitionCount: number;
  partitionOf: (channelId: Snowflake) => number;
}

/**
 * Read states of one user in the given channels, in the order asked: from the projector's resident state, and
 * for channels it does not hold, from RocksDB (kept resident when they belong to partitions it writes). With
 * `hotTier`, what is read is put there too, so the next read of the same pair is answered without the engine.
 *
 * Answers are monotonic and never ahead of RocksDB: they are taken while no write to their partitions is under
 * way (the resident state then equals what RocksDB holds), all at once without yielding, and a read during which
 * a write began is read again.
 */
export async function queryReadStates(
  db: RocksDatabase,
  store: CompactStore,
  location: StateLocation,
  userId: Snowflake,
  channelIds: readonly Snowflake[],
  hotTier?: HotTierMirror,
): Promise<ReadStateView[]> {
  const partitions = [...new Set(channelIds.map(location.partitionOf))];
  /** Channels of partitions the store does not write, read from RocksDB for this answer only. */
  const borrowed = new Map<Snowflake, ChannelState | undefined>();
  for (;;) {
    let write = hotTier === undefined ? undefined : writeUnderWay(hotTier, partitions);
    while (write !== undefined) {
      await write;
      write = hotTier === undefined ? undefined : writeUnderWay(hotTier, partitions);
    }
    // Taken before any read of RocksDB: a fill is refused after a write (or a forgetAll) since.
    const versions = partitions.map((partition) => hotTier?.version(partition) ?? 0);
    const moved = () => partitions.some((partition, i) => (hotTier?.version(partition) ?? 0) !== versions[i]);
    const missing = channelIds.filter(
      (channelId) =>
        !borrowed.has(channelId) &&
        (store.db !== db || !store.lookup(location.partitionOf(channelId), channelId).known),
    );
    if (missing.length > 0) {
      const loaded = await Promise.all(
        missing.map((channelId) => store.load(db, location.partitionOf(channelId), channelId)),
      );
      if (moved()) {
        borrowed.clear();
        continue;
      }
      missing.forEach((channelId, i) => {
        // Not kept by the store (not its partition, or not its database: a rebuild switched): used as read.
        if (!store.knows(location.partitionOf(channelId)) || store.db !== db)
          borrowed.set(channelId, loaded[i]);
      });
      // Loaded ones are resident now (or borrowed): the answer is taken on the next turn, without yielding.
      continue;
    }
    const pairs = channelIds.map((channelId) => {
      const partition = location.partitionOf(channelId);
      const found = store.db === db ? store.lookup(partition, channelId) : { known: false as const };
      return pairRead(found.known ? found.channel : borrowed.get(channelId), userId, channelId);
    });
    if (hotTier !== undefined) {
      pairs.forEach(({ found }, i) => {
        const channelId = channelIds[i] ?? '';
        const partition = location.partitionOf(channelId);
        hotTier.fill(partition, versions[partitions.indexOf(partition)] ?? -1, userId, channelId, found);
      });
    }
    return pairs.map((pair) => pair.view);
  }
}

function writeUnderWay(hotTier: HotTierMirror, partitions: readonly number[]): Promise<void> | undefined {
  for (const partition of partitions) {
    const write = hotTier.writing(partition);
    if (write !== undefined) return write;
  }
  return undefined;
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
