import type { Snowflake } from '../contract/snowflake.ts';
import { snapshotLiveAbove } from './liveAbove.ts';
import { membersAbove, mentionsIndex, ownIndex } from './memberIndexes.ts';
import type { ReadStateRecord } from './records.ts';
import type { ProjectionStore } from './store.ts';

/**
 * The read-state record for (user, channel) with its pointer at `pointer`, every count computed afresh from the
 * indexes. Used when the pointer moves and when a mention creates the record.
 */
export function readStateAt(
  store: ProjectionStore,
  userId: Snowflake,
  channelId: Snowflake,
  pointer: Snowflake | null,
): ReadStateRecord {
  return {
    last_acked_message_id: pointer,
    own_above: membersAbove(store, ownIndex(channelId, userId), pointer),
    mentions_above: membersAbove(store, mentionsIndex(channelId, userId), pointer),
    live_above: snapshotLiveAbove(store, channelId, pointer),
  };
}
