import type { Snowflake } from '../contract/snowflake.ts';
import { firstUnreadOf } from './firstUnreadOf.ts';
import { liveAbove } from './liveAbove.ts';
import { membersAbove, ownIndex } from './memberIndexes.ts';
import type { ProjectionStore } from './store.ts';

/** What the API serves for one (user, channel). */
export type ReadStateView = {
  readonly user_id: Snowflake;
  readonly channel_id: Snowflake;
  /** The user acked in the channel, or someone else mentioned them there. */
  readonly has_read_state: boolean;
  readonly last_acked_message_id: Snowflake | null;
  /** The channel's greatest live message id. */
  readonly last_message_id: Snowflake | null;
  /** Live messages above the pointer (all when it is null) written by someone else. */
  readonly unread_count: number;
  /** Those of them that mention the user. */
  readonly mention_count: number;
  /** The smallest of them (where a client jumps to), null when none is unread. */
  readonly first_unread_message_id: Snowflake | null;
};

/** A read state's view but its first unread, with the two counts that find it (firstUnreadOf.ts). */
export type CountedReadState = {
  readonly view: Omit<ReadStateView, 'first_unread_message_id'>;
  /** Live messages above the pointer, and those of them the user wrote. */
  readonly liveAbove: number;
  readonly ownAbove: number;
};

/**
 * The read state of (user, channel), also for a pair with none (then the pointer is null and nothing mentions
 * the user). Reads the read-state and channel records, plus the OWN header when there is no read state; the
 * O(log n) rank query only when the pointer is below the head and the snapshot went stale; the first unread
 * message with O(log² n) rank queries when anything is unread (the compact state finds it in O(log n)).
 */
export function readStateOf(store: ProjectionStore, userId: Snowflake, channelId: Snowflake): ReadStateView {
  const { view, liveAbove, ownAbove } = countedReadStateOf(store, userId, channelId);
  return {
    ...view,
    first_unread_message_id: firstUnreadOf(
      store,
      channelId,
      store.getChannel(channelId),
      userId,
      liveAbove,
      ownAbove,
    ),
  };
}

/** readStateOf without the first unread message. */
export function countedReadStateOf(
  store: ProjectionStore,
  userId: Snowflake,
  channelId: Snowflake,
): CountedReadState {
  const record = store.getReadState(userId, channelId);
  const channel = store.getChannel(channelId);
  const head = channel?.live?.max ?? null;
  if (record === undefined) {
    const live = channel?.live?.size ?? 0;
    const own = membersAbove(store, ownIndex(channelId, userId), null);
    const view = {
      user_id: userId,
      channel_id: channelId,
      has_read_state: false,
      last_acked_message_id: null,
      last_message_id: head,
      unread_count: live - own,
      mention_count: 0,
    };
    return { view, liveAbove: live, ownAbove: own };
  }
  const pointer = record.last_acked_message_id;
  const above = liveAbove(store, channelId, channel, pointer, record.live_above);
  const view = {
    user_id: userId,
    channel_id: channelId,
    has_read_state: true,
    last_acked_message_id: pointer,
    last_message_id: head,
    unread_count: above - record.own_above,
    mention_count: record.mentions_above,
  };
  return { view, liveAbove: above, ownAbove: record.own_above };
}
