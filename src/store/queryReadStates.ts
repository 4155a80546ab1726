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
 * Answers are monotonic and never ahead of RocksDB: they are taken from states held while no write to their
 * partitions was under way or began (the resident state then equals what RocksDB holds), all at once without
 * yielding; a read during which a write began or ended is read again.
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
  for (;;) {
    let write = hotTier === undefined ? undefined : writeUnderWay(hotTier, partitions);
    while (write !== undefined) {
      await write;
      write = hotTier === undefined ? undefined : writeUnderWay(hotTier, partitions);
    }
    // Taken before any read of RocksDB: a fill is refused after a write (or a forgetAll) since.
    const versions = partitions.map((partition) => hotTier?.version(partition) ?? 0);
    const moved = () => partitions.some((partition, i) => (hotTier?.version(partition) ?? 0) !== versions[i]);
    // The channels as they stand now: resident ones by reference, the rest read from RocksDB below. Held here,
    // so that an eviction meanwhile (by this very read's loads) cannot send the lookup round again.
    const states = new Map<Snowflake, ChannelState | undefined>();
    const missing = new Set<Snowflake>();
    for (const channelId of channelIds) {
      const found = store.db === db ? store.lookup(location.partitionOf(channelId), channelId) : undefined;
      if (found?.known === true) states.set(channelId, found.channel);
      else missing.add(channelId);
    }
    if (missing.size > 0) {
      const wanted = [...missing];
      const loaded = await Promise.all(
        wanted.map((channelId) => store.load(db, location.partitionOf(channelId), channelId)),
      );
      // A write began or ended meanwhile: what was held or read may be either side of it. Read again.
      if (moved()) continue;
      wanted.forEach((channelId, i) => states.set(channelId, loaded[i]));
    }
    // No write since the versions were taken: every state held equals what RocksDB holds, and the answers
    // are taken together, without yielding.
    const pairs = channelIds.map((channelId) => pairRead(states.get(channelId), userId, channelId));
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
