import type { ChatEvent } from '../contract/events.ts';
import { applyEvent } from '../projection/applyEvent.ts';
import { BatchStore, type RecordRef } from './batchStore.ts';
import type { HotWrite } from './hotTierMirror.ts';
import { channelRecordId, indexHeaderRecordId, messageRecordId, readStateRecordId } from './recordIds.ts';
import type { ResidentState } from './residentState.ts';
import type { RocksDatabase, WriteOperation } from './rocksDatabase.ts';

/**
 * The records an event is likely to read, fetched in one round trip before the chunk is applied when the
 * resident state does not know them. Only an optimisation: whatever else an event reads is read when it asks.
 */
function likelyRecords(event: ChatEvent, into: Map<string, RecordRef>): void {
  const channel = event.channel_id;
  const add = (id: string) => into.set(id, { id, channel });
  const member = (user: string) => {
    add(readStateRecordId(user, channel));
    add(indexHeaderRecordId({ kind: 'own', channel_id: channel, user_id: user }));
    add(indexHeaderRecordId({ kind: 'mentions', channel_id: channel, user_id: user }));
  };
  add(channelRecordId(channel));
  switch (event.type) {
    case 'message_sent':
      add(messageRecordId(channel, event.message_id));
      member(event.author_id);
      event.mention_user_ids.forEach(member);
      return;
    case 'message_deleted':
      add(messageRecordId(channel, event.message_id));
      return;
    case 'message_acked':
      member(event.user_id);
  }
}

/**
 * Folds `events` (in topic order) into the state of one partition and returns the RocksDB writes that record
 * the result. Nothing is written here: the caller adds the offsets, writes everything as one batch, and then
 * calls `store.commit()` so that `resident` (the writer's own, if any) learns the new records.
 */
export async function projectEvents(
  db: RocksDatabase,
  partition: number,
  fanout: number,
  events: readonly ChatEvent[],
  resident?: ResidentState,
): Promise<{
  store: BatchStore;
  operations: WriteOperation[];
  hotWrites: HotWrite[][];
  recordLoads: number;
}> {
  const store = new BatchStore(partition, fanout, {
    ...(resident === undefined ? {} : { resident }),
    readSync: (key) => db.getManySync([key])[0],
  });
  if (resident?.knowsWhole(partition) !== true) {
    const likely = new Map<string, RecordRef>();
    for (const event of events) likelyRecords(event, likely);
    const prefetch = store.missingRefs(likely.values());
    if (prefetch.length > 0) store.load(prefetch, await db.getMany(prefetch));
  }
  for (const event of events) {
    const attempt = store.attempt((state) => applyEvent(state, event));
    // With readSync a step never lacks a record; attempt() still keeps a failed event's writes out.
    if (!attempt.done) throw new Error('unreachable: a record was not loaded although readSync was given');
  }
  return {
    store,
    operations: store.operations(),
    hotWrites: store.hotWrites(),
    recordLoads: store.recordLoads,
  };
}
