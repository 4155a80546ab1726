import type { Snowflake } from '../contract/snowflake.ts';
import { adjustReadState } from './adjustReadState.ts';
import { addMember, mentionsIndex } from './memberIndexes.ts';
import { readStateAt } from './readStateAt.ts';
import type { ProjectionStore } from './store.ts';

/**
 * The live message `messageId` now mentions `userId` (not its author): into MENTIONS(c, u), and the user's read
 * state counts it; a user without one gets one, pointer null, counted from the indexes (which hold it now).
 */
export function addMention(
  store: ProjectionStore,
  channelId: Snowflake,
  userId: Snowflake,
  messageId: Snowflake,
): void {
  addMember(store, mentionsIndex(channelId, userId), messageId);
  if (store.getReadState(userId, channelId) === undefined) {
    store.putReadState(userId, channelId, readStateAt(store, userId, channelId, null));
  } else {
    adjustReadState(store, userId, channelId, messageId, 'mentions_above', 1);
  }
}
