import type { ReadStateSource } from '../api/app.ts';
import type { ReadStateView } from '../projection/readStateOf.ts';
import type { HotTierReader } from '../store/hotTier.ts';

/**
 * The read path: each asked channel from the hot tier when it can answer exactly, the rest in one request to
 * `fallback` (the engine, which reads RocksDB and fills the hot tier), merged back in the order asked.
 */
export function readThrough(hotTier: HotTierReader, fallback: ReadStateSource): ReadStateSource {
  return {
    async lookup(userId, channelIds) {
      const views: (ReadStateView | undefined)[] = channelIds.map((channelId) =>
        hotTier.readView(userId, channelId),
      );
      const missed = channelIds.filter((_, i) => views[i] === undefined);
      if (missed.length === 0) return views as ReadStateView[];
      const fetched = await fallback.lookup(userId, missed);
      let next = 0;
      return views.map((view) => view ?? (fetched[next++] as ReadStateView));
    },
    listChannels: (userId, options) => fallback.listChannels(userId, options),
  };
}
