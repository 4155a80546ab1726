import type { ChatEvent } from '../contract/events.ts';
import { applyEvent } from '../projection/applyEvent.ts';
import { BatchStore, type HotWrite } from './batchStore.ts';
import type { RecordCache } from './recordCache.ts';
import { channelKey, indexHeaderKey, messageKey, readStateKey } from './keys.ts';
import type { RocksDatabase, WriteOperation } from './rocksDatabase.ts';

/**
 * The records an event is likely to read, fetched in one round trip before the batch is applied. Only an
 * optimisation: whatever else an event reads (rank-index nodes) is loaded when it asks.
 */
function likelyKeys(partition: number, event: ChatEvent): Buffer[] {
  const channel = event.channel_id;
  const member = (user: string) => [
    readStateKey(partition, user, channel),
    indexHeaderKey(partition, { kind: 'own', channel_id: channel, user_id: user }),
    indexHeaderKey(partition, { kind: 'mentions', channel_id: channel, user_id: user }),
  ];
  switch (event.type) {
    case 'message_sent':
      return [
        channelKey(partition, channel),
        messageKey(partition, channel, event.message_id),
        ...member(event.author_id),
        ...event.mention_user_ids.flatMap(member),
      ];
    case 'message_deleted':
      return [channelKey(partition, channel), messageKey(partition, channel, event.message_id)];
    case 'message_acked':
      return [channelKey(partition, channel), ...member(event.user_id)];
  }
}

/**
 * Folds `events` (in topic order) into the state of one partition and returns the RocksDB writes that record
 * the result. Nothing is written here: the caller adds the offsets, writes everything as one batch, and then
 * calls `store.commit()` so that `cache` (the writer's own, if any) learns the new records.
 */
export async function projectEvents(
  db: RocksDatabase,
  partition: number,
  fanout: number,
  events: readonly ChatEvent[],
  cache?: RecordCache,
): Promise<{
  store: BatchStore;
  operations: WriteOperation[];
  hotWrites: HotWrite[][];
  recordLoads: number;
}> {
  const store = new BatchStore(partition, fanout, cache);
  const unique = new Map(
    events.flatMap((e) => likelyKeys(partition, e)).map((key) => [key.toString('latin1'), key]),
  );
  const prefetch = store.missing([...unique.values()]);
  store.load(prefetch, await db.getMany(prefetch));
  for (const event of events) {
    await store.run(db, (state) => applyEvent(state, event));
  }
  return {
    store,
    operations: store.operations(),
    hotWrites: store.hotWrites(),
    recordLoads: store.recordLoads,
  };
}
