import type { ReadStateSource } from '../../src/api/app.ts';
import type { ChatEvent } from '../../src/contract/events.ts';
import type { Snowflake } from '../../src/contract/snowflake.ts';
import type { ReadStateView } from '../../src/projection/readStateOf.ts';
import {
  attachHotTier,
  createHotTier,
  type HotTier,
  type HotTierOptions,
  type HotTierReader,
} from '../../src/store/hotTier.ts';
import { createHotTierMirror, type HotTierMirror } from '../../src/store/hotTierMirror.ts';
import { CompactStore } from '../../src/store/compactStore.ts';
import { LogOffsets } from './logOffsets.ts';
import { partitionRange } from '../../src/store/keys.ts';
import {
  listReadStateChannels,
  queryReadStates,
  type StateLocation,
} from '../../src/store/queryReadStates.ts';
import type { RocksDatabase } from '../../src/store/rocksDatabase.ts';

export type ReadPath = {
  readonly hot: HotTier;
  readonly mirror: HotTierMirror;
  readonly location: StateLocation;
  readonly store: CompactStore;
  /** What the engine thread answers a lookup with: RocksDB through queryReadStates, filling the tier. */
  readonly engine: ReadStateSource;
  /** What the HTTP thread answers with: the tier (read through its own attached view), else the engine. */
  readonly reads: Pick<ReadStateSource, 'lookup'>;
  /** Applies events as the projector does: per partition, in order, one mirrored write each (or a failed one). */
  apply(events: readonly ChatEvent[]): Promise<void>;
};

/**
 * The service's read path in one thread, over any RocksDatabase: the projector's write sequence (projectChunk,
 * beforeWrite as it changes memory, the awaited write, commit, afterWrite; writeFailed if the write fails) into a
 * compact store and a hot tier, and
 * lookups as the HTTP thread makes them
 * (the tier first, then queryReadStates). Channel ids are numbers; partition = id mod the count.
 */
export function createReadPath(
  db: RocksDatabase,
  options: { hotTier: HotTierOptions; partitionCount?: number; residentIds?: number },
): ReadPath {
  const partitionCount = options.partitionCount ?? 3;
  const hot = createHotTier(options.hotTier);
  const mirror = createHotTierMirror(hot);
  const store = new CompactStore(db, options.residentIds ?? 1_000_000, {
    blockSize: 4,
    heldInHotTier: mirror.held,
  });
  const log = new LogOffsets();
  const location: StateLocation = {
    partitionCount,
    partitionOf: (channelId: Snowflake) => Number(BigInt(channelId) % BigInt(partitionCount)),
  };
  const engine: ReadStateSource = {
    lookup: (userId, channelIds) => queryReadStates(db, store, location, userId, channelIds, mirror),
    listChannels: (userId, listOptions) =>
      listReadStateChannels(db, location, userId, {
        limit: listOptions.limit,
        ...(listOptions.after === undefined ? {} : { afterChannelId: listOptions.after }),
      }),
  };
  const httpView = attachHotTier(hot.shared, options.hotTier.hash ? { hash: options.hotTier.hash } : {});
  return {
    hot,
    mirror,
    location,
    store,
    engine,
    reads: { lookup: (userId, channelIds) => tierThenEngine(httpView, engine, userId, channelIds) },
    async apply(events) {
      const byPartition = new Map<number, ChatEvent[]>();
      for (const event of events) {
        const partition = location.partitionOf(event.channel_id);
        byPartition.set(partition, [...(byPartition.get(partition) ?? []), event]);
      }
      for (const [partition, batch] of byPartition) {
        if (!store.knows(partition)) {
          store.startPartition(
            partition,
            (await db.scan(partitionRange(partition).start, { limit: 1 })).length === 0,
            log.position(partition),
          );
        }
        for (const run of log.append(partition, batch)) {
          const { operations, hotChanges } = await store.projectChunk(
            partition,
            run.events,
            run.source,
            () => {
              mirror.beforeWrite(partition);
            },
          );
          try {
            await db.write(operations);
          } catch (error) {
            // As the projector: memory may be ahead of RocksDB now.
            mirror.writeFailed(partition);
            store.clear();
            throw error;
          }
          store.commit(partition);
          mirror.afterWrite(partition, hotChanges);
        }
      }
    },
  };
}

/**
 * The HTTP thread's rule (src/engine/readThrough.ts, without its partition-ownership checks): each pair the tier
 * answers from the tier, the rest in one engine lookup, merged back in the order asked.
 */
async function tierThenEngine(
  tier: HotTierReader,
  engine: ReadStateSource,
  userId: Snowflake,
  channelIds: readonly Snowflake[],
): Promise<ReadStateView[]> {
  const views = channelIds.map((channelId) => tier.readView(userId, channelId));
  const missed = channelIds.filter((_, i) => views[i] === undefined);
  if (missed.length === 0) return views as ReadStateView[];
  const fetched = await engine.lookup(userId, missed);
  let next = 0;
  return views.map((view) => view ?? (fetched[next++] as ReadStateView));
}
