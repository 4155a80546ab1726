import { compareSnowflakes, type Snowflake } from '../contract/snowflake.ts';
import type { ReadStateRecord } from './records.ts';
import type { ProjectionStore } from './store.ts';

/**
 * Keeps one eager counter of an existing read state exact when a message of the user's own (or one mentioning
 * them) becomes live or stops being live: it counts only above the pointer. No record, nothing to keep.
 */
export function adjustReadState(
  store: ProjectionStore,
  userId: Snowflake,
  channelId: Snowflake,
  messageId: Snowflake,
  counter: 'own_above' | 'mentions_above',
  delta: 1 | -1,
): void {
  const record: ReadStateRecord | undefined = store.getReadState(userId, channelId);
  if (record === undefined) return;
  const pointer = record.last_acked_message_id;
  if (pointer !== null && compareSnowflakes(messageId, pointer) <= 0) return;
  store.putReadState(userId, channelId, { ...record, [counter]: record[counter] + delta });
}
